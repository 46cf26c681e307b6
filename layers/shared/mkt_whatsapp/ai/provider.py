"""The one call to the AI provider: OpenAI's Chat Completions through the official ``openai`` package.

Configuration
    The package's own variables: ``OPENAI_BASE_URL`` (OpenAI when unset; any compatible server otherwise,
    such as ``local/openai_simulator.py``) and ``OPENAI_API_KEY``. Deployed stacks leave the key out of the
    template and name a Secrets Manager secret in ``OPENAI_API_KEY_SECRET_ID``, read through Powertools'
    parameters utility and cached for ``SECRETS_MAX_AGE_SECONDS`` (300 s): the client asks for the key at each
    request, so a rotated key is used within that time with no new client. No key at all is
    :class:`ProviderNotConfigured` (503 ``AI_PROVIDER_NOT_CONFIGURED``), raised before any call.

One client per container
    Created on the first call (``openai`` and its HTTP stack are imported then, never at a function's cold
    start: tests/template/test_cold_start_imports.py) and reused, with its connection pool.

Time and retries
    ``AI_TIMEOUT_SECONDS`` (15 s) per attempt; the package retries a 408, 409, 429, 5xx, a timeout or a lost
    connection :data:`MAX_RETRIES` (2) more times with its own backoff, honouring ``Retry-After``. Then it
    is :class:`ProviderFailed` (502 ``AI_PROVIDER_ERROR``) with a short ``reason``. The worst case is three
    timeouts plus backoff, ~47 s: a caller with a shorter deadline (a request behind API Gateway's 29 s)
    passes ``timeout_seconds`` / ``max_retries``.

What is logged
    Model, token counts, latency and whether the model handed off, at INFO; never the key, the messages or
    the reply.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from mkt_whatsapp.ai.knowledge import AgentProfile
from mkt_whatsapp.ai.pricing import estimate
from mkt_whatsapp.ai.prompt import HANDOFF_TOOL, HANDOFF_TOOL_NAME
from mkt_whatsapp.core import secrets
from mkt_whatsapp.core.errors import ConfigurationError, ProviderFailed, ProviderNotConfigured
from mkt_whatsapp.core.observability import logger
from mkt_whatsapp.core.settings import get_settings

if TYPE_CHECKING:
    from openai import OpenAI
    from openai.types.chat import ChatCompletion

MAX_RETRIES = 2
CONNECT_TIMEOUT_SECONDS = 3.0
# When the model calls the tool without a usable reason.
UNSTATED_HANDOFF_REASON = "The assistant asked for a human without saying why."


@dataclass(frozen=True, slots=True)
class Completion:
    """What one provider call gave: the reply (``None`` when the model only called a tool), the handoff the
    model asked for, the provider's token counts, the latency measured around the call (retries included),
    the model as the provider reported it and the cost from :mod:`mkt_whatsapp.ai.pricing`."""

    text: str | None
    handoff_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    latency_ms: int
    model: str
    estimated_cost: float | None
    cached_prompt_tokens: int = 0


def api_key() -> str:
    """The provider's key: ``OPENAI_API_KEY``, else the secret named by ``OPENAI_API_KEY_SECRET_ID``."""
    # Only reached on the way to a provider call, where the secret may have to be read anyway.
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        return secrets.openai_api_key()
    except ConfigurationError as error:
        raise ProviderNotConfigured("No AI provider is configured (OPENAI_API_KEY or its secret).") from error
    except GetParameterError as error:
        raise ProviderNotConfigured("The AI provider's key could not be read from its secret.") from error


@cache
def _client() -> OpenAI:
    import openai

    return openai.OpenAI(
        api_key=api_key,  # called at each request: the secret's cached value, refreshed as it ages
        timeout=openai.Timeout(get_settings().ai_timeout_seconds, connect=CONNECT_TIMEOUT_SECONDS),
        max_retries=MAX_RETRIES,
    )


def reset() -> None:
    """Forget the client (tests and the local stack, when the environment changes between cases)."""
    _client.cache_clear()


def complete(
    profile: AgentProfile,
    messages: list[dict[str, Any]],
    *,
    timeout_seconds: float | None = None,
    max_retries: int | None = None,
) -> Completion:
    """Ask the agent's model for the next reply to ``messages`` (:func:`mkt_whatsapp.ai.prompt.build_messages`),
    offering it the ``handoff_to_human`` tool."""
    api_key()  # not configured: fail before the call (and before importing openai)
    import openai

    client = _client()
    overrides: dict[str, Any] = {}
    if timeout_seconds is not None:
        overrides["timeout"] = openai.Timeout(timeout_seconds, connect=min(CONNECT_TIMEOUT_SECONDS, timeout_seconds))
    if max_retries is not None:
        overrides["max_retries"] = max_retries
    if overrides:
        client = client.with_options(**overrides)
    started = time.perf_counter()
    try:
        response = client.chat.completions.create(
            model=profile.model,
            messages=cast(Any, messages),
            temperature=profile.temperature,
            max_completion_tokens=profile.max_tokens,
            tools=[cast(Any, HANDOFF_TOOL)],
            tool_choice="auto",
        )
    except openai.APITimeoutError as error:
        raise _failed(profile, started, "timeout") from error
    except openai.APIStatusError as error:
        raise _failed(profile, started, f"status {error.status_code}") from error
    except openai.APIConnectionError as error:
        raise _failed(profile, started, "connection") from error
    except openai.OpenAIError as error:
        raise _failed(profile, started, "invalid response") from error
    latency_ms = _elapsed_ms(started)
    completion = _completion(profile, response, latency_ms)
    logger.info(
        "ai completion",
        extra={
            "agentId": profile.agent_id,
            "model": completion.model,
            "promptTokens": completion.prompt_tokens,
            "completionTokens": completion.completion_tokens,
            "latencyMs": latency_ms,
            "handoff": completion.handoff_reason is not None,
        },
    )
    return completion


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _failed(profile: AgentProfile, started: float, reason: str) -> ProviderFailed:
    latency_ms = _elapsed_ms(started)
    logger.warning("ai provider failed", extra={"agentId": profile.agent_id, "reason": reason, "latencyMs": latency_ms})
    return ProviderFailed(f"The AI provider failed ({reason}).", reason=reason)


def _completion(profile: AgentProfile, response: ChatCompletion, latency_ms: int) -> Completion:
    if not response.choices:
        raise ProviderFailed("The AI provider answered with no choice.", reason="empty response")
    message = response.choices[0].message
    handoff_reason = None
    for call in message.tool_calls or ():
        function = getattr(call, "function", None)
        if function is not None and function.name == HANDOFF_TOOL_NAME:
            handoff_reason = _reason(function.arguments)
            break
    usage = response.usage
    prompt_tokens = usage.prompt_tokens if usage else 0
    completion_tokens = usage.completion_tokens if usage else 0
    details = usage.prompt_tokens_details if usage else None
    cached_tokens = (details.cached_tokens or 0) if details else 0
    model = response.model or profile.model
    return Completion(
        text=message.content or None,
        handoff_reason=handoff_reason,
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        total_tokens=usage.total_tokens if usage else 0,
        latency_ms=latency_ms,
        model=model,
        # No usage reported (some compatible servers): no estimate rather than a cost of zero.
        estimated_cost=(
            estimate(model, prompt_tokens, completion_tokens, cached_prompt_tokens=cached_tokens) if usage else None
        ),
        cached_prompt_tokens=cached_tokens,
    )


def _reason(arguments: str | None) -> str:
    try:
        parsed = json.loads(arguments or "")
    except ValueError:
        return UNSTATED_HANDOFF_REASON
    reason = parsed.get("reason") if isinstance(parsed, dict) else None
    return reason.strip() if isinstance(reason, str) and reason.strip() else UNSTATED_HANDOFF_REASON
