"""Typed settings, read once per container from the environment.

Secrets (JWT secret, Meta app secret, webhook verify token) are not settings: they are read through
:mod:`mkt_whatsapp.core.secrets`, from the environment when a plain value is given (local stack, tests) or from
AWS Secrets Manager by the id given here (deployed stacks).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache

API_BASE_PATH = "/api/v1/whatsapp"
# The largest request body an API route reads (webhooks excepted: Meta decides their size). Well under
# Lambda's 6 MB payload, and room for an AI agent's knowledge or a flow definition in one request.
MAX_BODY_BYTES = 1_048_576
# Routes that carry an AI agent's knowledge (500 FAQ entries and 2,000 products in one request): 5 MiB,
# still under Lambda's 6 MB request payload.
MAX_KNOWLEDGE_BODY_BYTES = 5 * 1_048_576
# How deep a request body's JSON may nest: the JSON parser's own limit (pydantic's jiter), documented.
MAX_JSON_DEPTH = 200


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    return float(raw) if raw else default


def _text(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


@dataclass(frozen=True, slots=True)
class Settings:
    service_name: str
    table_name: str
    outbound_queue_url: str
    inbound_queue_url: str
    inbound_overflow_bucket: str
    token_kms_key_id: str
    jwt_secret_id: str
    jwt_algorithm: str
    jwt_jwks_url: str
    jwt_issuer: str
    jwt_audience: str
    meta_app_secret_id: str
    webhook_verify_token_id: str
    graph_api_base_url: str
    graph_api_version: str
    graph_api_timeout_seconds: float
    graph_api_inline_timeout_seconds: float
    rate_limit_per_minute: int
    analytics_rate_limit_per_minute: int
    secrets_max_age_seconds: int
    send_rate_per_second: int
    openai_api_key_secret_id: str
    ai_timeout_seconds: float
    ai_queue_url: str
    ai_debounce_seconds: int
    flow_state_machine_arn: str
    flow_time_scale: float
    campaign_state_machine_arn: str
    campaign_page_size: int
    campaign_poll_seconds: int


@cache
def get_settings() -> Settings:
    """The container's settings; computed on first use and cached for the container's life."""
    jwks_url = _text("JWT_JWKS_URL")
    return Settings(
        service_name=_text("POWERTOOLS_SERVICE_NAME", "mkt-whatsapp-service"),
        table_name=_text("TABLE_NAME", "mkt-whatsapp"),
        outbound_queue_url=_text("OUTBOUND_QUEUE_URL"),
        inbound_queue_url=_text("INBOUND_QUEUE_URL"),
        inbound_overflow_bucket=_text("INBOUND_OVERFLOW_BUCKET"),
        token_kms_key_id=_text("TOKEN_KMS_KEY_ID"),
        jwt_secret_id=_text("JWT_SECRET_ID"),
        jwt_algorithm=_text("JWT_ALGORITHM", "RS256" if jwks_url else "HS256"),
        jwt_jwks_url=jwks_url,
        jwt_issuer=_text("JWT_ISSUER"),
        jwt_audience=_text("JWT_AUDIENCE"),
        meta_app_secret_id=_text("META_APP_SECRET_ID"),
        webhook_verify_token_id=_text("WEBHOOK_VERIFY_TOKEN_ID"),
        graph_api_base_url=_text("GRAPH_API_BASE_URL", "https://graph.facebook.com").rstrip("/"),
        graph_api_version=_text("GRAPH_API_VERSION", "v23.0"),
        graph_api_timeout_seconds=_float("GRAPH_API_TIMEOUT_SECONDS", 10.0),
        # A send within an API request: shorter, so a slow Meta turns into a queued send (202), well
        # inside the API function's timeout.
        graph_api_inline_timeout_seconds=_float("GRAPH_API_INLINE_TIMEOUT_SECONDS", 4.0),
        rate_limit_per_minute=_int("RATE_LIMIT_PER_MINUTE", 60),
        analytics_rate_limit_per_minute=_int("ANALYTICS_RATE_LIMIT_PER_MINUTE", 10),
        secrets_max_age_seconds=_int("SECRETS_MAX_AGE_SECONDS", 300),
        send_rate_per_second=_int("SEND_RATE_PER_SECOND", 80),
        # The AI provider's key in deployed stacks (OPENAI_API_KEY itself wins, as the openai package reads it).
        openai_api_key_secret_id=_text("OPENAI_API_KEY_SECRET_ID"),
        # Per attempt: the openai package retries a 429, a 5xx or a timeout twice more on its own.
        ai_timeout_seconds=_float("AI_TIMEOUT_SECONDS", 15.0),
        ai_queue_url=_text("AI_QUEUE_URL"),
        # A burst of customer messages within this many seconds gets one AI answer (SQS DelaySeconds).
        ai_debounce_seconds=max(0, min(900, _int("AI_DEBOUNCE_SECONDS", 3))),
        flow_state_machine_arn=_text("FLOW_STATE_MACHINE_ARN"),
        # Multiplies the seconds a flow's delays and question timeouts wait: 1 in AWS, less locally and in tests.
        flow_time_scale=max(0.0, _float("FLOW_TIME_SCALE", 1.0)),
        campaign_state_machine_arn=_text("CAMPAIGN_STATE_MACHINE_ARN"),
        # Customers a fan-out step enumerates (one GSI2 Query page, its BatchGetItems and recipient writes).
        campaign_page_size=max(1, min(1000, _int("CAMPAIGN_PAGE_SIZE", 250))),
        # How often a campaign that has enumerated its audience looks again at what waits (tier, quiet hours)
        # and whether everything is settled.
        campaign_poll_seconds=max(1, _int("CAMPAIGN_POLL_SECONDS", 30)),
    )
