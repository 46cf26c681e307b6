"""Settings, secrets, health and the Graph API client's error handling."""

from __future__ import annotations

import httpx
import pytest
import respx

from mkt_whatsapp.core import secrets
from mkt_whatsapp.core.errors import ConfigurationError
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.whatsapp import graph
from mkt_whatsapp.whatsapp.tiers import tier_for
from tests.support import ApiClient, AwsStack, reset_caches


def test_settings_are_read_once_with_the_documented_defaults(monkeypatch) -> None:
    for name in ("RATE_LIMIT_PER_MINUTE", "ANALYTICS_RATE_LIMIT_PER_MINUTE", "GRAPH_API_VERSION", "JWT_JWKS_URL"):
        monkeypatch.delenv(name, raising=False)
    reset_caches()
    settings = get_settings()
    assert settings is get_settings()
    assert (settings.rate_limit_per_minute, settings.analytics_rate_limit_per_minute) == (60, 10)
    assert settings.graph_api_version == "v23.0"
    assert settings.jwt_algorithm == "HS256"
    monkeypatch.setenv("JWT_JWKS_URL", "https://idp.example/jwks")
    reset_caches()
    assert get_settings().jwt_algorithm == "RS256"
    monkeypatch.delenv("JWT_JWKS_URL")
    reset_caches()


def test_secrets_come_from_secrets_manager_when_no_plain_value_is_set(aws: AwsStack, monkeypatch) -> None:
    arn = aws.client("secretsmanager").create_secret(Name="jwt", SecretString="from-secrets-manager")["ARN"]
    monkeypatch.delenv("JWT_SECRET")
    monkeypatch.setenv("JWT_SECRET_ID", arn)
    reset_caches()
    from botocore.client import BaseClient

    calls: list[str] = []
    original = BaseClient._make_api_call

    def counting(client, operation, params):
        calls.append(operation)
        return original(client, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", counting)
    try:
        assert secrets.jwt_secret() == "from-secrets-manager"
        assert secrets.jwt_secret() == "from-secrets-manager"
        assert calls == ["GetSecretValue"]  # the second read is served from Powertools' cache
    finally:
        monkeypatch.delenv("JWT_SECRET_ID")
        reset_caches()


def test_a_missing_secret_is_a_configuration_error(monkeypatch) -> None:
    monkeypatch.delenv("META_APP_SECRET")
    monkeypatch.delenv("META_APP_SECRET_ID", raising=False)
    reset_caches()
    with pytest.raises(ConfigurationError):
        secrets.meta_app_secret()
    reset_caches()


def test_health_is_200_when_the_table_is_reachable(api: ApiClient) -> None:
    reply = api.get("/health", token="")
    assert reply.status == 200
    assert reply.data == {"status": "ok", "table": "reachable"}


def test_health_is_503_when_the_table_is_not(api: ApiClient, monkeypatch) -> None:
    monkeypatch.setenv("TABLE_NAME", "no-such-table")
    reset_caches()
    try:
        reply = api.get("/health", token="")
    finally:
        monkeypatch.undo()
        reset_caches()
    assert reply.status == 503
    assert reply.code == "TABLE_UNREACHABLE"


@pytest.mark.parametrize(
    ("meta", "name", "limit"),
    [
        (None, "tier_0", 250),
        ("TIER_NOT_SET", "tier_0", 250),
        ("TIER_1K", "tier_1", 1000),
        ("tier_10k", "tier_2", 10000),
        ("SOMETHING_NEW", "tier_0", 250),
    ],
)
def test_tier_mapping_edges(meta, name, limit) -> None:
    assert (tier_for(meta).name, tier_for(meta).daily_limit) == (name, limit)


@pytest.fixture
def graph_base(monkeypatch) -> str:
    monkeypatch.setenv("GRAPH_API_BASE_URL", "https://graph.test")
    reset_caches()
    yield "https://graph.test/v23.0"
    monkeypatch.undo()
    reset_caches()


@respx.mock
def test_graph_timeouts_are_unavailable(graph_base: str) -> None:
    respx.get(f"{graph_base}/123").mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(graph.GraphUnavailable):
        graph.get_phone_number("123", "EAA")


@respx.mock
def test_graph_5xx_without_an_error_code_is_unavailable(graph_base: str) -> None:
    respx.get(f"{graph_base}/123").mock(return_value=httpx.Response(502, text="<html>bad gateway</html>"))
    with pytest.raises(graph.GraphUnavailable):
        graph.get_phone_number("123", "EAA")


@respx.mock
def test_graph_errors_carry_metas_code_and_transience(graph_base: str) -> None:
    respx.get(f"{graph_base}/123").mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "message": "Rate limit hit",
                    "type": "OAuthException",
                    "code": 130429,
                    "error_subcode": 2494055,
                    "is_transient": True,
                    "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
                }
            },
        )
    )
    with pytest.raises(graph.GraphApiError) as raised:
        graph.get_phone_number("123", "EAA")
    assert (raised.value.code, raised.value.subcode, raised.value.is_transient) == (130429, 2494055, True)
    assert raised.value.http_status == 400


@respx.mock
def test_graph_reads_the_portfolio_limit_before_the_deprecated_field(graph_base: str) -> None:
    route = respx.get(f"{graph_base}/123").mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "123",
                "verified_name": "Shop",
                "whatsapp_business_manager_messaging_limit": "TIER_10K",
                "messaging_limit_tier": "TIER_1K",
            },
        )
    )
    info = graph.get_phone_number("123", "EAAtoken")
    assert info.messaging_limit == "TIER_10K"
    assert route.calls.last.request.headers["Authorization"] == "Bearer EAAtoken"
