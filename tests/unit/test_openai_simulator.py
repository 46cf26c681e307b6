"""The OpenAI simulator speaks the Chat Completions API to the real ``openai`` client over HTTP: answers drawn from
the knowledge of the system message, the handoff tool when a customer asks for a person, usage, OpenAI's errors,
and the failure modes tests need (5xx, 429, a stall past the client's timeout)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import httpx
import openai
import pytest

from local.openai_simulator import FALLBACK_EN, FALLBACK_VI, HANDOFF_REASON, OpenAISimulator
from mkt_whatsapp.ai.knowledge import Faq, Knowledge, Language, Product, Turn
from mkt_whatsapp.ai.prompt import HANDOFF_TOOL, build_messages, estimate_messages, estimate_tokens
from mkt_whatsapp.ai.ranking import KnowledgeIndex
from tests.fixtures.ai_knowledge import large_knowledge, regular_customer, shop_profile

KNOWLEDGE = Knowledge(
    faqs=(
        Faq("Có giao hàng không?", "Giao toàn quốc, 2–4 ngày."),
        Faq("Có trả góp không?", "Trả góp 0% qua thẻ tín dụng."),
    ),
    products=(Product(sku="LP-01", name="Laptop Dell Inspiron 15", price=15_990_000, currency="VND"),),
)


@pytest.fixture(scope="module")
def simulator() -> Iterator[OpenAISimulator]:
    simulator = OpenAISimulator().start()
    yield simulator
    simulator.stop()


@pytest.fixture
def sim(simulator: OpenAISimulator) -> Iterator[OpenAISimulator]:
    simulator.reset()
    yield simulator
    simulator.reset()


def client(sim: OpenAISimulator, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=sim.base_url, api_key="sk-simulator-test", **options)


def ask(
    sim: OpenAISimulator, said: str, *, knowledge: Knowledge = KNOWLEDGE, language: Language = "vi", tools: bool = True
) -> Any:
    profile = replace(shop_profile(), language=language)
    messages = build_messages(profile, regular_customer(), (Turn("user", said),), KnowledgeIndex.build(knowledge))
    extra: dict[str, Any] = {"tools": [HANDOFF_TOOL]} if tools else {}
    return client(sim).chat.completions.create(model="gpt-4o-mini", messages=messages, **extra)


def test_the_answer_is_the_faq_entry_the_customer_asked_about(sim: OpenAISimulator) -> None:
    response = ask(sim, "co giao hang khong shop")
    assert response.choices[0].message.content == "Giao toàn quốc, 2–4 ngày."
    assert response.choices[0].finish_reason == "stop"
    assert response.object == "chat.completion"
    assert response.model == "gpt-4o-mini-2024-07-18"


def test_a_product_question_gets_its_name_and_price(sim: OpenAISimulator) -> None:
    response = ask(sim, "Laptop Dell Inspiron 15 giá sao?")
    assert response.choices[0].message.content == "Laptop Dell Inspiron 15 15.990.000đ"


def test_the_answer_is_drawn_from_a_large_agents_ranked_knowledge(sim: OpenAISimulator) -> None:
    response = ask(sim, "Cho mình hỏi có giao hàng đến Đà Nẵng không?", knowledge=large_knowledge())
    assert response.choices[0].message.content.startswith("Dạ có, giao đến Đà Nẵng")


@pytest.mark.parametrize(("language", "fallback"), [("vi", FALLBACK_VI), ("en", FALLBACK_EN)])
def test_a_question_the_knowledge_does_not_cover_gets_a_polite_fallback(
    sim: OpenAISimulator, language: Language, fallback: str
) -> None:
    assert ask(sim, "thời tiết hôm nay thế nào", language=language).choices[0].message.content == fallback


@pytest.mark.parametrize(
    "said",
    [
        "Cho mình gặp nhân viên với",
        "Bạn là người thật không vậy? Cho nói chuyện với người thật",
        "I want to talk to a human",
        "can I speak to an agent please",
        "staff please",
    ],
)
def test_asking_for_a_person_calls_the_handoff_tool(sim: OpenAISimulator, said: str) -> None:
    response = ask(sim, said)
    choice = response.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    (call,) = choice.message.tool_calls
    assert call.function.name == "handoff_to_human"
    assert json.loads(call.function.arguments) == {"reason": HANDOFF_REASON}


def test_no_tool_is_called_when_none_is_offered(sim: OpenAISimulator) -> None:
    response = ask(sim, "Cho mình gặp nhân viên với", tools=False)
    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].message.content


def test_usage_counts_the_prompt_with_the_documented_estimate(sim: OpenAISimulator) -> None:
    response = ask(sim, "co giao hang khong shop")
    (body,) = sim.completions()
    assert response.usage.prompt_tokens == estimate_messages(body["messages"]) + estimate_tokens(
        json.dumps(body["tools"])
    )
    assert response.usage.completion_tokens == estimate_tokens("Giao toàn quốc, 2–4 ngày.")
    assert response.usage.total_tokens == response.usage.prompt_tokens + response.usage.completion_tokens


def test_requests_are_recorded_with_their_key(sim: OpenAISimulator) -> None:
    ask(sim, "co giao hang khong shop")
    (request,) = sim.state.requests
    assert request["method"] == "POST"
    assert request["path"] == "/v1/chat/completions"
    assert request["authorization"] == "Bearer sk-simulator-test"
    assert request["body"]["model"] == "gpt-4o-mini"
    recorded = httpx.get(f"{sim.url}/_simulator/requests").json()["requests"]
    assert recorded[0]["body"] == request["body"]


def test_it_answers_like_openai_to_bad_requests(sim: OpenAISimulator) -> None:
    no_key = httpx.post(f"{sim.base_url}/chat/completions", json={"model": "gpt-4o", "messages": []})
    assert no_key.status_code == 401
    assert no_key.json()["error"]["code"] == "invalid_api_key"
    headers = {"Authorization": "Bearer sk-x"}
    no_messages = httpx.post(
        f"{sim.base_url}/chat/completions", json={"model": "gpt-4o", "messages": []}, headers=headers
    )
    assert no_messages.status_code == 400
    assert no_messages.json()["error"]["param"] == "messages"
    with pytest.raises(openai.BadRequestError):
        client(sim).chat.completions.create(model="gpt-4o", messages=[])
    assert client(sim).models.list().data[0].id == "gpt-4o"


@pytest.mark.parametrize(("status", "error"), [(500, openai.InternalServerError), (429, openai.RateLimitError)])
def test_the_next_requests_can_fail(sim: OpenAISimulator, status: int, error: type[Exception]) -> None:
    sim.fail_next(2, status)
    with pytest.raises(error):
        client(sim, max_retries=0).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    raw = httpx.post(
        f"{sim.base_url}/chat/completions",
        json={"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]},
        headers={"Authorization": "Bearer sk-x"},
    )
    assert raw.status_code == status
    assert raw.headers["retry-after-ms"] == "10"
    ok = client(sim, max_retries=0).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert ok.choices[0].message.content == FALLBACK_VI


def test_the_client_retries_through_failures_by_itself(sim: OpenAISimulator) -> None:
    sim.fail_next(2, 503)
    response = client(sim, max_retries=2).chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
    )
    assert response.choices[0].message.content
    assert len(sim.completions()) == 3


def test_a_stall_outlasts_the_clients_timeout(sim: OpenAISimulator) -> None:
    sim.stall_next(1, 0.6)
    with pytest.raises(openai.APITimeoutError):
        client(sim, max_retries=0, timeout=0.2).chat.completions.create(
            model="gpt-4o", messages=[{"role": "user", "content": "hi"}]
        )


def test_faults_can_be_queued_over_http(sim: OpenAISimulator) -> None:
    queued = httpx.post(f"{sim.url}/_simulator/faults", json={"status": 429, "count": 1, "retryAfterMs": 5})
    assert queued.json() == {"queued": True}
    with pytest.raises(openai.RateLimitError):
        client(sim, max_retries=0).chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert httpx.delete(f"{sim.url}/_simulator/requests").json() == {"cleared": True}
    assert sim.state.requests == []
