"""Live AI replies (issue 11, items 3-6): a customer's message reaches the shop's active agent through the
inbound dispatcher and the AI queue, the answer goes out through the outbound path, and every case where
the AI should not or cannot answer hands the conversation to a human — against the OpenAI simulator and
the Graph simulator over real HTTP."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from local.openai_simulator import OpenAISimulator
from tests.support import (
    ApiClient,
    AwsStack,
    connect_shop,
    deliver,
    drain,
    make_token,
    reset_caches,
    whatsapp_delivery,
)

CUSTOMER = "84907771234"
FAQ = [
    {"question": "Có giao hàng toàn quốc không?", "answer": "Dạ có, shop giao toàn quốc trong 2–4 ngày."},
    {"question": "Chính sách đổi trả thế nào?", "answer": "Đổi trả trong 7 ngày nếu còn nguyên hộp."},
    {"question": "Cửa hàng mở cửa mấy giờ?", "answer": "Từ 8:00 đến 21:00 mỗi ngày."},
]
PRODUCTS = [
    {"sku": "LP-01", "name": "Laptop X1 Carbon", "price": 15990000, "currency": "VND", "description": "Mỏng nhẹ"},
    {"sku": "PH-02", "name": "Điện thoại Galaxy A55", "price": 8990000, "currency": "VND", "description": "Pin trâu"},
]
HANDOFF_TEXT = "Mình chuyển bạn sang nhân viên nhé."


def open_shop(api: ApiClient, aws: AwsStack, graph, openai: OpenAISimulator, monkeypatch, shop_ids) -> dict[str, Any]:
    """A connected shop whose agent Lan is active, its AI queue answered at once, the OpenAI simulator."""
    from mkt_whatsapp.ai import provider

    monkeypatch.setenv("AI_QUEUE_URL", aws.physical["AiQueue"])
    monkeypatch.setenv("AI_DEBOUNCE_SECONDS", "0")
    monkeypatch.setenv("OPENAI_BASE_URL", openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local")
    # Generous: a loaded test machine must not turn a slow simulator into a handoff (the timeout test
    # shortens it).
    monkeypatch.setenv("AI_TIMEOUT_SECONDS", "15")
    reset_caches()
    provider.reset()
    openai.reset()
    connect_shop(api)
    created = api.post(
        "/ai-agents",
        json_body={
            "shopId": shop_ids.shop_id,
            "name": "Lan",
            "model": "gpt-4o-mini",
            "language": "vi",
            "personality": "Thân thiện",
            "knowledgeBase": FAQ,
            "products": PRODUCTS,
            "handoff": {
                "keywords": ["nhân viên", "người thật"],
                "maxTurns": 3,
                "message": {"type": "text", "text": HANDOFF_TEXT},
            },
        },
    )
    assert created.status == 201, created.text
    agent_id = created.data["agentId"]
    assert api.post(f"/ai-agents/{agent_id}/activate").status == 200
    graph.state.requests.clear()
    return {"api": api, "aws": aws, "graph": graph, "openai": openai, "agentId": agent_id, **vars(shop_ids)}


@pytest.fixture
def shop(
    api: ApiClient, aws: AwsStack, graph, openai: OpenAISimulator, monkeypatch, shop_ids
) -> Iterator[dict[str, Any]]:
    from mkt_whatsapp.ai import provider

    yield open_shop(api, aws, graph, openai, monkeypatch, shop_ids)
    provider.reset()


_WAMIDS = iter(range(1, 10**9))


def customer_says(shop: dict[str, Any], text: str, *, at: int | None = None) -> None:
    message = {
        "from": CUSTOMER,
        "id": f"wamid.AI.{time.time_ns()}.{next(_WAMIDS)}",
        "timestamp": str(at or int(time.time())),
        "type": "text",
        "text": {"body": text},
    }
    payload = whatsapp_delivery(
        shop["phone_number_id"],
        {"contacts": [{"profile": {"name": "Chị Hoa"}, "wa_id": CUSTOMER}], "messages": [message]},
    )
    deliver(shop["api"], shop["aws"], payload)


def drain_ai(shop: dict[str, Any]) -> int:
    """Deliver the AI queue's jobs to the AI responder, as Lambda's event source mapping would."""
    return drain(shop["aws"], "AiQueue", "AiResponderFunction", batch_size=5)


def sent_texts(shop: dict[str, Any]) -> list[str]:
    texts = []
    for request in shop["graph"].state.requests:
        if request["path"].endswith("/messages"):
            body = request["body"]
            if isinstance(body, dict) and body.get("type") == "text":
                texts.append(body["text"]["body"])
    return texts


def conversation(shop: dict[str, Any]) -> dict[str, Any]:
    api = shop["api"]
    [listed] = api.get("/conversations", query={"shopId": shop["shop_id"]}).data["conversations"]
    return api.get(f"/conversations/{listed['id']}").data


def test_a_customer_question_gets_the_agents_answer_on_whatsapp(shop: dict[str, Any]) -> None:
    customer_says(shop, "shop co giao hang toan quoc khong?")
    assert drain_ai(shop) == 1
    [answer] = sent_texts(shop)
    assert "giao toàn quốc" in answer
    detail = conversation(shop)
    # Times are kept to the second: within one, a reply and its question sort by id.
    [reply] = [m for m in detail["messages"] if m["direction"] == "outbound"]
    assert reply["sentBy"] == f"ai:{shop['agentId']}"
    assert reply["ai"]["agentId"] == shop["agentId"]
    assert reply["ai"]["tokensUsed"]["total"] > 0
    assert reply["ai"]["estimatedCost"] > 0
    assert reply["ai"]["latencyMs"] >= 0
    assert detail["needsHuman"] is False
    # The prompt: the relevant FAQ as data, never the customer's words in the system message.
    [request] = shop["openai"].completions()
    system = request["messages"][0]["content"]
    assert "giao toàn quốc" in system
    assert "shop co giao hang toan quoc khong" not in system


def test_a_burst_gets_one_answer_that_reads_every_message(shop: dict[str, Any]) -> None:
    now = int(time.time())
    customer_says(shop, "Chào shop", at=now - 2)
    customer_says(shop, "cho mình hỏi", at=now - 1)
    customer_says(shop, "chính sách đổi trả thế nào?", at=now)
    drain_ai(shop)
    assert len(sent_texts(shop)) == 1
    [request] = shop["openai"].completions()
    said = [m["content"] for m in request["messages"] if m["role"] == "user"]
    assert said[-3:] == ["Chào shop", "cho mình hỏi", "chính sách đổi trả thế nào?"]


def test_a_redelivered_webhook_and_a_retried_job_answer_once(shop: dict[str, Any]) -> None:
    message_at = int(time.time())
    payload = whatsapp_delivery(
        shop["phone_number_id"],
        {
            "contacts": [{"profile": {"name": "Chị Hoa"}, "wa_id": CUSTOMER}],
            "messages": [
                {
                    "from": CUSTOMER,
                    "id": "wamid.AI.REDELIVERED",
                    "timestamp": str(message_at),
                    "type": "text",
                    "text": {"body": "giờ mở cửa?"},
                }
            ],
        },
    )
    deliver(shop["api"], shop["aws"], payload)
    deliver(shop["api"], shop["aws"], payload)  # Meta delivers at least once
    drain_ai(shop)
    # The same job again (a retry after a crash once the answer was sent): nothing more.
    from mkt_whatsapp.ai import responder

    detail = conversation(shop)
    job = responder.Job(
        shop["shop_id"],
        detail["id"],
        "m",
        shop["agentId"],
        max(m["timestamp"] for m in detail["messages"] if m["direction"] == "inbound"),
    )
    assert responder.respond(job, deadline=None) == "done"
    assert len(sent_texts(shop)) == 1
    assert len(shop["openai"].completions()) == 1


def test_asking_for_a_human_hands_off_by_keyword_without_calling_the_provider(shop: dict[str, Any]) -> None:
    customer_says(shop, "Cho mình gặp NHAN VIEN tư vấn")
    drain_ai(shop)
    assert sent_texts(shop) == [HANDOFF_TEXT]
    assert shop["openai"].completions() == []
    detail = conversation(shop)
    assert detail["needsHuman"] is True
    assert detail["handoff"]["reason"] == "keyword"
    flagged = shop["api"].get("/conversations", query={"shopId": shop["shop_id"], "needsHuman": "true"})
    assert [c["id"] for c in flagged.data["conversations"]] == [detail["id"]]
    # AI stays stopped on it: the next message is left to the humans.
    customer_says(shop, "alo?")
    drain_ai(shop)
    assert sent_texts(shop) == [HANDOFF_TEXT]


def test_the_models_handoff_tool_hands_off(shop: dict[str, Any]) -> None:
    customer_says(shop, "cho mình gặp người bán hàng nhé")  # no handoff keyword: the model calls the tool
    drain_ai(shop)
    detail = conversation(shop)
    assert detail["handoff"]["reason"] == "model"
    assert sent_texts(shop) == [HANDOFF_TEXT]


@pytest.mark.parametrize("fault", ["500", "429", "timeout"])
def test_a_provider_failure_hands_off_with_the_handoff_message(shop: dict[str, Any], fault: str, monkeypatch) -> None:
    if fault == "timeout":
        from mkt_whatsapp.ai import provider

        monkeypatch.setenv("AI_TIMEOUT_SECONDS", "1")
        reset_caches()
        provider.reset()
        shop["openai"].stall_next(5, seconds=3)
    else:
        shop["openai"].fail_next(5, status=int(fault))
    customer_says(shop, "laptop nào tốt?")
    drain_ai(shop)
    detail = conversation(shop)
    assert (detail["needsHuman"], detail["handoff"]["reason"]) == (True, "provider_error")
    assert sent_texts(shop) == [HANDOFF_TEXT]


def test_max_turns_hands_off(shop: dict[str, Any]) -> None:
    now = int(time.time())
    for n in range(3):
        customer_says(shop, f"câu hỏi {n}: laptop giá bao nhiêu?", at=now - 30 + n * 10)
        drain_ai(shop)
    assert len(sent_texts(shop)) == 3
    customer_says(shop, "thêm một câu nữa", at=now + 5)
    drain_ai(shop)
    assert sent_texts(shop)[-1] == HANDOFF_TEXT
    assert conversation(shop)["handoff"]["reason"] == "max_turns"


def test_the_monthly_budget_hands_off_instead_of_calling_the_provider(shop: dict[str, Any]) -> None:
    api = shop["api"]
    assert api.put(f"/ai-agents/{shop['agentId']}", json_body={"monthlyBudgetUsd": 0}).status == 200
    customer_says(shop, "laptop giá bao nhiêu?")
    drain_ai(shop)
    assert shop["openai"].completions() == []
    assert conversation(shop)["handoff"]["reason"] == "budget"


def test_no_active_agent_no_ai_and_an_assigned_conversation_is_left_to_its_human(shop: dict[str, Any]) -> None:
    api = shop["api"]
    customer_says(shop, "xin chào")
    drain_ai(shop)
    detail = conversation(shop)
    assert api.post(f"/conversations/{detail['id']}/assign", json_body={"agentId": "human-1"}).status == 200
    customer_says(shop, "còn hàng không?", at=int(time.time()) + 1)
    assert drain_ai(shop) == 0  # nothing queued: a human holds it
    assert len(sent_texts(shop)) == 1


def test_the_test_endpoint_answers_as_api_v1_says_and_records_nothing(shop: dict[str, Any]) -> None:
    api = shop["api"]
    reply = api.post(
        f"/ai-agents/{shop['agentId']}/test",
        json_body={
            "conversationHistory": [{"role": "user", "content": "Bạn có laptop nào tốt?"}],
            "customerContext": {"name": "Nguyễn Văn A", "tags": ["vip"]},
        },
    )
    assert reply.status == 200, reply.text
    data = reply.data
    assert set(data) >= {"generatedResponse", "tokensUsed", "estimatedCost", "latencyMs"}
    assert "Laptop X1" in data["generatedResponse"]
    assert data["tokensUsed"]["total"] == data["tokensUsed"]["prompt"] + data["tokensUsed"]["completion"]
    assert sent_texts(shop) == []
    system = shop["openai"].completions()[0]["messages"][0]["content"]
    assert "Nguyễn Văn A" in system
    assert "vip" in system
    handoff = api.post(
        f"/ai-agents/{shop['agentId']}/test",
        json_body={"conversationHistory": [{"role": "user", "content": "cho tôi nói chuyện với người thật"}]},
    )
    assert handoff.data["handoff"]["reason"]


def test_the_test_endpoint_says_502_on_a_provider_error_and_503_without_a_provider(
    shop: dict[str, Any], monkeypatch
) -> None:
    from mkt_whatsapp.ai import provider

    api = shop["api"]
    body = {"conversationHistory": [{"role": "user", "content": "hi"}]}
    shop["openai"].fail_next(5, status=500)
    failed = api.post(f"/ai-agents/{shop['agentId']}/test", json_body=body)
    assert (failed.status, failed.code) == (502, "AI_PROVIDER_ERROR"), failed.text
    monkeypatch.delenv("OPENAI_API_KEY")
    monkeypatch.delenv("OPENAI_BASE_URL")
    reset_caches()
    provider.reset()
    missing = api.post(f"/ai-agents/{shop['agentId']}/test", json_body=body)
    assert (missing.status, missing.code) == (503, "AI_PROVIDER_NOT_CONFIGURED"), missing.text
    other = api.post(f"/ai-agents/{shop['agentId']}/test", json_body=body, token=make_token(["another-shop"]))
    assert other.status == 404
