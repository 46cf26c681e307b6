"""The AI provider call, through the real ``openai`` package against the OpenAI simulator over HTTP: usage,
cost, latency, the handoff tool, bounded retries, timeouts, configuration from the environment or from a
Secrets Manager secret (moto)."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from local.openai_simulator import OpenAISimulator
from mkt_whatsapp.ai import pricing, provider
from mkt_whatsapp.ai.prompt import HANDOFF_TOOL, build_messages, estimate_messages, estimate_tokens
from mkt_whatsapp.ai.provider import Completion, complete
from mkt_whatsapp.ai.ranking import KnowledgeIndex
from mkt_whatsapp.core.errors import ProviderFailed, ProviderNotConfigured
from mkt_whatsapp.core.settings import get_settings
from tests.fixtures.ai_knowledge import conversation, regular_customer, shop_profile, small_knowledge

KEY = "sk-test-provider-0123456789"


def fresh_container() -> None:
    from aws_lambda_powertools.utilities import parameters

    get_settings.cache_clear()
    provider.reset()
    parameters.clear_caches()


@pytest.fixture(scope="module")
def simulator() -> Iterator[OpenAISimulator]:
    simulator = OpenAISimulator().start()
    yield simulator
    simulator.stop()


@pytest.fixture
def openai_env(simulator: OpenAISimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAISimulator]:
    monkeypatch.setenv("OPENAI_BASE_URL", simulator.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", KEY)
    monkeypatch.delenv("OPENAI_API_KEY_SECRET_ID", raising=False)
    monkeypatch.delenv("AI_TIMEOUT_SECONDS", raising=False)
    simulator.reset()
    fresh_container()
    yield simulator
    simulator.reset()
    fresh_container()


def messages_for(latest: str) -> list[dict]:
    index = KnowledgeIndex.build(small_knowledge())
    return build_messages(shop_profile(), regular_customer(), conversation(latest), index)


def test_a_reply_carries_the_providers_usage_model_and_cost(openai_env: OpenAISimulator) -> None:
    messages = messages_for("Shop có giao hàng không ạ?")
    completion = complete(shop_profile(), messages)

    (sent,) = openai_env.completions()
    expected_prompt = estimate_messages(messages) + estimate_tokens(json.dumps(sent["tools"]))  # the simulator's count
    assert completion.text == small_knowledge().faqs[0].answer
    assert completion.handoff_reason is None
    assert completion.prompt_tokens == expected_prompt
    assert completion.completion_tokens == estimate_tokens(completion.text)
    assert completion.total_tokens == completion.prompt_tokens + completion.completion_tokens
    assert completion.model == "gpt-4o-mini-2024-07-18"  # as the provider reported it
    assert completion.estimated_cost == pricing.estimate("gpt-4o-mini", expected_prompt, completion.completion_tokens)
    assert completion.estimated_cost is not None
    assert completion.estimated_cost > 0


def test_the_request_is_the_agents_model_settings_messages_and_handoff_tool(openai_env: OpenAISimulator) -> None:
    messages = messages_for("Shop có giao hàng không ạ?")
    complete(shop_profile(), messages)
    (request,) = openai_env.state.requests
    assert request["authorization"] == f"Bearer {KEY}"
    body = request["body"]
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == messages
    assert body["temperature"] == 0.3
    assert body["max_completion_tokens"] == 300
    assert body["tools"] == [HANDOFF_TOOL]
    assert body["tool_choice"] == "auto"


def test_an_unknown_model_has_no_cost_but_its_tokens(openai_env: OpenAISimulator) -> None:
    profile = shop_profile(model="qwen2.5-7b-instruct")
    completion = complete(profile, messages_for("Shop có giao hàng không ạ?"))
    assert completion.model == "qwen2.5-7b-instruct"
    assert completion.prompt_tokens > 0
    assert completion.estimated_cost is None


def test_latency_is_measured_around_the_call(openai_env: OpenAISimulator) -> None:
    openai_env.stall_next(1, 0.4)
    started = time.perf_counter()
    completion = complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert 400 <= completion.latency_ms <= elapsed_ms + 1


def test_the_models_tool_call_is_a_handoff_with_its_reason(openai_env: OpenAISimulator) -> None:
    completion = complete(shop_profile(), messages_for("Cho mình gặp nhân viên tư vấn với"))
    assert completion.handoff_reason == "The customer asked to talk to a human."
    assert completion.text is None
    assert completion.completion_tokens > 0


def test_a_5xx_is_retried_and_then_answered(openai_env: OpenAISimulator) -> None:
    openai_env.fail_next(2, 500)
    completion = complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    assert isinstance(completion, Completion)
    assert completion.text
    assert len(openai_env.completions()) == 3


@pytest.mark.parametrize("status", [500, 429, 503])
def test_a_provider_error_after_the_retries_is_provider_failed(openai_env: OpenAISimulator, status: int) -> None:
    openai_env.fail_next(3, status)
    with pytest.raises(ProviderFailed) as raised:
        complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    assert raised.value.status == 502
    assert raised.value.code == "AI_PROVIDER_ERROR"
    assert raised.value.reason == f"status {status}"
    assert len(openai_env.completions()) == 1 + provider.MAX_RETRIES


def test_a_refused_key_is_provider_failed_without_retries(openai_env: OpenAISimulator) -> None:
    openai_env.fail_next(1, 401)
    with pytest.raises(ProviderFailed) as raised:
        complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    assert raised.value.reason == "status 401"
    assert len(openai_env.completions()) == 1


def test_a_timeout_is_retried_then_provider_failed(
    openai_env: OpenAISimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AI_TIMEOUT_SECONDS", "0.3")
    fresh_container()
    openai_env.stall_next(3, 1.0)
    with pytest.raises(ProviderFailed) as raised:
        complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    assert raised.value.reason == "timeout"
    assert len(openai_env.completions()) == 3


def test_a_caller_with_a_deadline_shortens_the_timeout_and_the_retries(openai_env: OpenAISimulator) -> None:
    openai_env.stall_next(1, 1.0)
    started = time.perf_counter()
    with pytest.raises(ProviderFailed) as raised:
        complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"), timeout_seconds=0.3, max_retries=0)
    assert raised.value.reason == "timeout"
    assert time.perf_counter() - started < 0.9
    assert len(openai_env.completions()) == 1


def test_an_unreachable_provider_is_provider_failed(
    openai_env: OpenAISimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{port}/v1")
    fresh_container()
    with pytest.raises(ProviderFailed) as raised:
        complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"), max_retries=0)
    assert raised.value.reason == "connection"


def test_no_key_is_provider_not_configured_before_any_call(
    openai_env: OpenAISimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    fresh_container()
    with pytest.raises(ProviderNotConfigured) as raised:
        complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    assert raised.value.status == 503
    assert raised.value.code == "AI_PROVIDER_NOT_CONFIGURED"
    assert openai_env.state.requests == []


def test_neither_the_key_nor_the_customers_text_is_logged(
    openai_env: OpenAISimulator, caplog: pytest.LogCaptureFixture
) -> None:
    from mkt_whatsapp.core.observability import logger

    previous = logger.log_level
    logger.setLevel("INFO")
    try:
        secret_words = "UNIQUE-CUSTOMER-WORDS-42"
        complete(shop_profile(), messages_for(f"Shop có giao hàng không ạ? {secret_words}"))
        openai_env.fail_next(3, 500)
        with pytest.raises(ProviderFailed):
            complete(shop_profile(), messages_for(f"co giao hang khong {secret_words}"))
    finally:
        logger.setLevel(previous)
    ours = [record for record in caplog.records if not record.name.startswith("werkzeug")]
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in ours)
    assert "ai completion" in logged
    assert "ai provider failed" in logged
    assert KEY not in logged
    assert secret_words not in logged


def test_the_key_comes_from_secrets_manager_when_not_in_the_environment(
    aws: object, openai_env: OpenAISimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    import boto3

    client = boto3.client("secretsmanager", region_name="us-east-1")
    secret = client.create_secret(Name=f"openai-key-{time.time_ns()}", SecretString="sk-from-secrets-manager")
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.setenv("OPENAI_API_KEY_SECRET_ID", secret["ARN"])
    fresh_container()

    complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    assert [r["authorization"] for r in openai_env.state.requests] == ["Bearer sk-from-secrets-manager"] * 2

    monkeypatch.setenv("OPENAI_API_KEY_SECRET_ID", "no-such-secret")
    fresh_container()
    with pytest.raises(ProviderNotConfigured):
        complete(shop_profile(), [{"role": "user", "content": "hi"}])
    assert len(openai_env.state.requests) == 2


def test_one_client_serves_the_container(openai_env: OpenAISimulator) -> None:
    complete(shop_profile(), messages_for("Shop có giao hàng không ạ?"))
    first = provider._client()
    complete(shop_profile(), [{"role": "user", "content": "hi"}])
    assert provider._client() is first
