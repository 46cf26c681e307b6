"""The other two example flows of docs/flows/ end to end on the local stack (what `make dev` runs), over
HTTP as a developer drives them: lead-capture.json (a keyword, three validated questions, a consent
button, the lead saved on the customer) and ad-offer.json (an AI agent created through the API, its id put
in the flow, a customer writing from the click-to-WhatsApp ad, three AI turns answered by the stack's own
OpenAI simulator, the closing, and the reminder after the delay). Customers' messages are signed webhooks
posted as `make say` / `make press` post them; what they get is read at the Graph simulator. Both run on
the shared stack (FLOW_TIME_SCALE 0.01: the ad-offer delay's minute is 1 s)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from local import devtools
from local.defaults import LOCAL_DEFAULTS
from local.graph_simulator import GraphSimulator
from tests.e2e.conftest import RunningStack
from tests.e2e.test_flows_e2e import finished_stats, presses, says, sends_reach, sends_to, stats, text_of

pytestmark = pytest.mark.e2e
EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "flows"
AD_SOURCE = "120226305854810726"  # the ad of ad-offer.json's trigger (and of Meta's click-to-WhatsApp example)
FAQ = [
    {"question": "Có giao hàng toàn quốc không?", "answer": "Dạ có, shop giao toàn quốc trong 2–4 ngày."},
    {"question": "Chính sách đổi trả thế nào?", "answer": "Đổi trả trong 7 ngày nếu còn nguyên hộp."},
    {"question": "Cửa hàng mở cửa mấy giờ?", "answer": "Từ 8:00 đến 21:00 mỗi ngày."},
]


def example(name: str, shop_id: str, **substitutions: str) -> dict[str, Any]:
    """The published example for ``shop_id``, its placeholders replaced as ``make flow SET=...`` does."""
    text = devtools.substituted((EXAMPLES / f"{name}.json").read_text(encoding="utf-8"), substitutions)
    document: dict[str, Any] = json.loads(text)
    document["shopId"] = shop_id
    return document


def step_text(document: dict[str, Any], step_id: str, field: str = "content") -> str:
    content = next(step for step in document["steps"] if step["id"] == step_id)[field]
    return str(content["text"] if content["type"] == "text" else content["interactive"]["body"]["text"])


def activate(stack: RunningStack, auth: dict[str, str], document: dict[str, Any]) -> str:
    created = httpx.post(f"{stack.api}/flows", headers=auth, json=document)
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["data"]["flowId"])
    activated = httpx.post(f"{stack.api}/flows/{flow_id}/activate", headers=auth)
    assert activated.status_code == 200, activated.text
    assert activated.json()["data"]["isActive"] is True
    return flow_id


def texts_reach(simulator: GraphSimulator, customer: str, count: int, seconds: float = 20) -> list[str]:
    return [text_of(send) for send in sends_reach(simulator, customer, count, seconds)]


def get(stack: RunningStack, auth: dict[str, str], path: str, **params: str) -> dict[str, Any]:
    reply = httpx.get(f"{stack.api}{path}", headers=auth, params=params)
    assert reply.status_code == 200, reply.text
    return dict(reply.json()["data"])


def the_conversation(stack: RunningStack, auth: dict[str, str], shop_id: str, customer: str) -> dict[str, Any]:
    listed = get(stack, auth, "/conversations", shopId=shop_id)["conversations"]
    [conversation] = [c for c in listed if c["customerWaId"] == customer]
    return get(stack, auth, f"/conversations/{conversation['id']}")


def next_second(after: float) -> None:
    """Sleep until the wall clock's second is past ``after``'s: Meta's timestamps are whole seconds, and an
    AI turn answers the customer's latest message (so a question comes in a later second than the last send)."""
    while int(time.time()) <= int(after):
        time.sleep(0.05)


# --- lead-capture.json -------------------------------------------------------------------------------


def test_lead_capture_saves_a_validated_lead_with_consent(stack: RunningStack, e2e_graph: GraphSimulator) -> None:
    shop_id, phone_number_id, customer = "shop-flow-lead", "880000611", "84911100611"
    auth = stack.connect(shop_id, phone_number_id)
    document = example("lead-capture", shop_id)
    flow_id = activate(stack, auth, document)
    intro = "Chào Lan! Shop cần vài thông tin để gửi báo giá cho bạn."
    ask_name, ask_email = step_text(document, "ask_name"), step_text(document, "ask_email")
    email_again, ask_phone = step_text(document, "ask_email", "retryContent"), step_text(document, "ask_phone")
    ask_consent = step_text(document, "ask_consent")

    says(stack, phone_number_id, customer, "Cho mình xin bao gia với")  # "contains", accents aside
    assert texts_reach(e2e_graph, customer, 2) == [intro, ask_name]
    says(stack, phone_number_id, customer, "Nguyễn Thị Hoa")
    assert texts_reach(e2e_graph, customer, 3)[2] == ask_email
    says(stack, phone_number_id, customer, "hoa at example dot com")  # not an email: asked again
    assert texts_reach(e2e_graph, customer, 4)[3] == email_again
    says(stack, phone_number_id, customer, "Hoa.Nguyen@Example.COM")
    assert texts_reach(e2e_graph, customer, 5)[4] == ask_phone
    says(stack, phone_number_id, customer, "+84 907 123 456")
    sends = sends_reach(e2e_graph, customer, 6)
    consent_question = sends[5]
    assert (consent_question["type"], text_of(consent_question)) == ("interactive", ask_consent)
    buttons = [b["reply"]["id"] for b in consent_question["interactive"]["action"]["buttons"]]
    assert buttons == ["consent_yes", "consent_no"]
    before = get(stack, auth, f"/customers/{customer}", shopId=shop_id)
    assert before["consent"]["status"] != "opted_in"
    assert before["tags"] == ["lead"]  # tagged before the consent question

    presses(stack, phone_number_id, customer, "consent_yes", "Có, gửi cho tôi")
    thanks = "Cảm ơn Nguyễn Thị Hoa! Báo giá sẽ được gửi tới hoa.nguyen@example.com trong hôm nay."
    assert texts_reach(e2e_graph, customer, 7) == [
        intro,
        ask_name,
        ask_email,
        email_again,
        ask_phone,
        ask_consent,
        thanks,
    ]

    # intro, 3 questions and their set_field, tag, consent question, condition, opt_in, thanks, sales
    assert finished_stats(stack, auth, shop_id, flow_id) == {
        "executionCount": 1,
        "completionRate": 1.0,
        "averageSteps": 13.0,
        "fallbackRate": 0.0,
    }
    lead = get(stack, auth, f"/customers/{customer}", shopId=shop_id)
    assert lead["customFields"] == {
        "fullName": "Nguyễn Thị Hoa",
        "email": "hoa.nguyen@example.com",
        "phone": "+84907123456",
    }
    assert lead["tags"] == ["lead"]
    assert (lead["consent"]["status"], lead["consent"]["source"]) == ("opted_in", "flow")
    assert the_conversation(stack, auth, shop_id, customer)["assignedAgentId"] == "sales-agent-1"
    assert len(sends_to(e2e_graph, customer)) == 7  # nothing after the thanks


# --- ad-offer.json -----------------------------------------------------------------------------------


def openai_completions(stack: RunningStack, agent_name: str) -> list[dict[str, Any]]:
    """The completions the stack's own OpenAI simulator (the banner's OpenAI URL) received for the agent."""
    match = re.search(r"OpenAI: (http://\S+)/v1", stack.ready_line)
    assert match, stack.ready_line
    requests = httpx.get(f"{match.group(1)}/_simulator/requests").json()["requests"]
    return [
        r["body"]
        for r in requests
        if r["path"] == "/v1/chat/completions" and agent_name in json.dumps(r["body"], ensure_ascii=False)
    ]


def test_ad_offer_a_customer_from_the_ad_gets_the_offer_ai_answers_the_closing_and_a_reminder(
    stack: RunningStack, e2e_graph: GraphSimulator
) -> None:
    shop_id, phone_number_id, customer = "shop-flow-ad", "880000612", "84911100612"
    auth = stack.connect(shop_id, phone_number_id)
    agent_name = "Lan e2e ad-offer"
    created = httpx.post(
        f"{stack.api}/ai-agents",
        headers=auth,
        json={
            "shopId": shop_id,
            "name": agent_name,
            "model": "gpt-4o-mini",
            "language": "vi",
            "personality": "Thân thiện",
            "knowledgeBase": FAQ,
            # The flow's maxTurns (3) ends the conversation before the agent's own limit would hand off.
            "handoff": {"keywords": ["nhân viên"], "maxTurns": 10, "message": {"type": "text", "text": "Chờ chút."}},
        },
    )
    assert created.status_code == 201, created.text
    agent_id = str(created.json()["data"]["agentId"])  # not activated: the flow's step names it
    document = example("ad-offer", shop_id, AI_AGENT_ID=agent_id)
    assert next(step for step in document["steps"] if step["id"] == "assistant")["aiAgentId"] == agent_id
    flow_id = activate(stack, auth, document)
    offer = "Chào Lan! Ưu đãi hè: giảm 20% mọi sản phẩm với mã HE20. Bạn cần tư vấn gì cứ hỏi nhé."
    closing, reminder = step_text(document, "closing"), step_text(document, "reminder")
    secret = stack.env.get("META_APP_SECRET") or LOCAL_DEFAULTS["META_APP_SECRET"]

    def from_the_ad(text: str) -> None:
        """``make say REFERRAL=120226305854810726 TEXT=...``"""
        referral = devtools.ad_referral(AD_SOURCE)
        answer = devtools.post_customer_text(stack.api, text, phone_number_id, customer, "Lan", secret, referral)
        assert answer == '{"success":true}'

    # Without the ad (or from another one) the same words start nothing.
    says(stack, phone_number_id, "84911100613", "Hello! Can I get more info on this?")
    from_the_ad("Hello! Can I get more info on this?")
    assert texts_reach(e2e_graph, customer, 1) == [offer]
    # The offer was a send: the AI step waits for the customer's next message, and answers each in turn.
    for turn, entry in enumerate(FAQ):
        next_second(sends_to(e2e_graph, customer)[-1]["at"])
        says(stack, phone_number_id, customer, entry["question"])
        assert texts_reach(e2e_graph, customer, 2 + turn)[1 + turn] == entry["answer"]
    # After maxTurns (3): the closing, then the delay's minute (1 s at the stack's scale), then the reminder.
    sends = sends_reach(e2e_graph, customer, 6)
    assert [text_of(send) for send in sends] == [offer, *(entry["answer"] for entry in FAQ), closing, reminder]
    assert sends[5]["at"] - sends[4]["at"] >= 0.9

    assert finished_stats(stack, auth, shop_id, flow_id) == {
        "executionCount": 1,
        "completionRate": 1.0,
        "averageSteps": 5.0,  # offer, assistant, closing, pause, reminder
        "fallbackRate": 0.0,
    }
    completions = openai_completions(stack, agent_name)
    assert len(completions) == 3
    asked = [next(m for m in reversed(c["messages"]) if m["role"] == "user")["content"] for c in completions]
    assert [str(text) for text in asked] == [entry["question"] for entry in FAQ]
    outbound = [m for m in the_conversation(stack, auth, shop_id, customer)["messages"] if m["direction"] == "outbound"]
    assert sorted(m["content"]["text"] for m in outbound if m.get("ai")) == sorted(entry["answer"] for entry in FAQ)
    assert {m["sentBy"] for m in outbound if m.get("ai")} == {f"ai:{agent_id}"}

    # oncePerCustomer: the same customer from the ad again starts nothing.
    from_the_ad("Còn ưu đãi không?")
    time.sleep(2)
    assert stats(stack, auth, shop_id, flow_id)["executionCount"] == 1
    assert len(sends_to(e2e_graph, customer)) == 6
    assert sends_to(e2e_graph, "84911100613") == []
    assert len(openai_completions(stack, agent_name)) == 3
