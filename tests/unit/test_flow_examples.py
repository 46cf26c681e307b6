"""The example flows of docs/flows/ (docs/automation-flows.md, "Examples") run end to end: each is created
and activated through the API as published (only the shop id, and the AI agent id, substituted), started
by a signed webhook, and driven by the customer's messages through the inbound dispatcher, the flow state
machine (moto, with the in-process step runner) and the outbound path to the Graph simulator. Waits are
scaled by FLOW_TIME_SCALE (tests/conftest.py: 0.001, so an hour's question timeout is 4 s)."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest

from local.openai_simulator import OpenAISimulator
from mkt_whatsapp.store import flow_runs, get_table
from tests.support import meta_example, reset_caches
from tests.unit.flow_helpers import (
    CUSTOMER,
    conversation_of,
    create_flow,
    customer_message,
    ended,
    executions,
    presses,
    says,
    sent,
    sent_texts,
    stats,
    stored_conversation,
    texts_reach,
    wait_for,
    waiting,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "flows"
SILENT = "84907770002"


def example(name: str, shop_id: str, **substitutions: str) -> dict[str, Any]:
    """The published example, for the test's shop (and with ``AI_AGENT_ID`` and the like replaced)."""
    document = (EXAMPLES / f"{name}.json").read_text(encoding="utf-8")
    for placeholder, value in substitutions.items():
        assert placeholder in document, f"{placeholder} is not in {name}.json"
        document = document.replace(placeholder, value)
    body: dict[str, Any] = json.loads(document)
    assert body["shopId"] == "shop-1"
    body["shopId"] = shop_id
    return body


def step(body: dict[str, Any], step_id: str) -> dict[str, Any]:
    return next(s for s in body["steps"] if s["id"] == step_id)


def text_of(body: dict[str, Any], step_id: str, field: str = "content") -> str:
    content = step(body, step_id)[field]
    return str(content["text"] if content["type"] == "text" else content["interactive"]["body"]["text"])


def customer(shop: dict[str, Any], wa_id: str = CUSTOMER) -> dict[str, Any]:
    reply = shop["api"].get(f"/customers/{wa_id}", query={"shopId": shop["shop_id"]})
    assert reply.status == 200, reply.text
    return dict(reply.data)


def by_conversation(runs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {str(run["conversationId"]): run for run in runs}


def next_second(after: float) -> None:
    """Sleep until the wall clock's second is past ``after``'s: Meta's timestamps are whole seconds, and an
    AI turn is keyed by the customer's latest one (see the AI tests below)."""
    while int(time.time()) <= int(after):
        time.sleep(0.05)


@pytest.fixture
def shop(connected_shop: dict[str, Any]) -> dict[str, Any]:
    return connected_shop


# --- welcome-menu.json -------------------------------------------------------------------------------


def test_welcome_menu_a_buyer_and_a_customer_who_never_answers(shop: dict[str, Any]) -> None:
    body = example("welcome-menu", shop["shop_id"])
    flow_id = create_flow(shop["api"], body)
    greeting = "Xin chào Chị Hoa! Cảm ơn bạn đã nhắn cho shop."
    menu, retry = text_of(body, "menu"), text_of(body, "menu", "retryContent")
    catalog, bye = text_of(body, "catalog"), text_of(body, "bye")

    says(shop, "HI")  # the keyword, case aside
    assert texts_reach(shop, 2) == [greeting, menu]
    question = sent(shop)[1]
    assert question["type"] == "interactive"
    assert [b["reply"]["id"] for b in question["interactive"]["action"]["buttons"]] == [
        "menu_buy",
        "menu_order",
        "menu_human",
    ]
    conversation_id = conversation_of(shop)["id"]
    first_wait = wait_for(lambda: waiting(conversation_id), what="the menu's wait")
    assert first_wait["step"] == "menu"

    says(shop, "cho mình hỏi giá")  # not a choice: asked again, with the retry text
    assert texts_reach(shop, 3)[2] == retry
    second_wait = wait_for(
        lambda: (w := waiting(conversation_id)) and w["seq"] != first_wait["seq"] and w, what="the retry's wait"
    )
    assert second_wait["step"] == "menu"

    presses(shop, "menu_buy", "Mua hàng")
    assert texts_reach(shop, 4) == [greeting, menu, retry, catalog]

    # Then a customer who never answers: the hour (4 s, scaled) runs out. Not overlapped with the buyer:
    # the in-process Lambdas share Powertools' metrics, which a concurrent flush can leave empty (see the
    # report to the lead: a runner raising there ends the execution as an error).
    says(shop, "Chào shop", wa_id=SILENT)
    assert texts_reach(shop, 2, to=SILENT) == [greeting, menu]

    runs = by_conversation(ended(flow_id, 2, timeout=30))
    buyer = runs[conversation_id]
    assert (buyer["outcome"], buyer.get("reason"), buyer["steps"]) == (
        "completed",
        None,
        5,
    )  # greet menu route tag catalog
    silent_id = conversation_of(shop, SILENT)["id"]
    quiet = runs[silent_id]
    # onTimeout names a step: the flow goes on there and completes normally.
    assert (quiet["outcome"], quiet.get("reason"), quiet["steps"]) == ("completed", None, 3)  # greet menu bye
    assert sent_texts(shop, to=SILENT) == [greeting, menu, bye]
    assert sent_texts(shop) == [greeting, menu, retry, catalog]  # nothing more

    assert customer(shop)["tags"] == ["interested"]
    assert customer(shop, SILENT)["tags"] == []
    for conversation in (conversation_id, silent_id):
        stored = stored_conversation(conversation)
        assert "flowRun" not in stored  # the conversation is free again
        assert stored["lastFlowRun"]["outcome"] == "completed"
    assert stats(shop["api"], shop["shop_id"], flow_id) == {
        "executionCount": 2,
        "completionRate": 1.0,
        "averageSteps": 4.0,
        "fallbackRate": 0.0,
    }


def test_welcome_menu_someone_asking_for_a_person_is_handed_over(shop: dict[str, Any]) -> None:
    body = example("welcome-menu", shop["shop_id"])
    flow_id = create_flow(shop["api"], body)
    says(shop, "xin chao")
    texts_reach(shop, 2)
    presses(shop, "menu_human", "Gặp nhân viên")
    [run] = ended(flow_id)
    # A branch chose "human": a normal end (only the condition's else into assign_agent is a fallback).
    assert (run["outcome"], run.get("reason"), run["steps"]) == ("completed", None, 4)  # greet menu route human
    conversation = stored_conversation(conversation_of(shop)["id"])
    assert conversation["needsHuman"] is True
    assert conversation["automationStopped"] is True
    assert conversation["handoff"].get("reason") == "flow"
    assert len(sent_texts(shop)) == 2
    # A human holds it now: the keyword starts nothing.
    says(shop, "hi")
    assert len(sent_texts(shop)) == 2
    assert stats(shop["api"], shop["shop_id"], flow_id)["executionCount"] == 1


# --- lead-capture.json -------------------------------------------------------------------------------


def test_lead_capture_saves_a_validated_lead_with_consent_and_hands_it_to_sales(shop: dict[str, Any]) -> None:
    body = example("lead-capture", shop["shop_id"])
    flow_id = create_flow(shop["api"], body)
    intro = "Chào Chị Hoa! Shop cần vài thông tin để gửi báo giá cho bạn."
    ask_name, ask_email = text_of(body, "ask_name"), text_of(body, "ask_email")
    email_again, ask_phone = text_of(body, "ask_email", "retryContent"), text_of(body, "ask_phone")
    ask_consent = text_of(body, "ask_consent")

    says(shop, "Cho mình xin bao gia với")  # "contains", accents aside
    assert texts_reach(shop, 2) == [intro, ask_name]
    says(shop, "Nguyễn Thị Hoa")
    assert texts_reach(shop, 3)[2] == ask_email
    assert customer(shop)["consent"]["status"] != "opted_in"
    says(shop, "hoa at example dot com")
    assert texts_reach(shop, 4)[3] == email_again
    says(shop, "Hoa.Nguyen@Example.COM")
    assert texts_reach(shop, 5)[4] == ask_phone
    says(shop, "+84 907 123 456")
    assert texts_reach(shop, 6)[5] == ask_consent
    presses(shop, "consent_yes", "Có, gửi cho tôi")
    thanks = "Cảm ơn Nguyễn Thị Hoa! Báo giá sẽ được gửi tới hoa.nguyen@example.com trong hôm nay."
    assert texts_reach(shop, 7) == [intro, ask_name, ask_email, email_again, ask_phone, ask_consent, thanks]

    [run] = ended(flow_id)
    # intro, 3 questions and their set_field, tag, consent question, condition, opt_in, thanks, sales
    assert (run["outcome"], run.get("reason"), run["steps"]) == ("completed", None, 13)
    lead = customer(shop)
    assert lead["customFields"] == {
        "fullName": "Nguyễn Thị Hoa",
        "email": "hoa.nguyen@example.com",
        "phone": "+84907123456",
    }
    assert lead["tags"] == ["lead"]
    assert (lead["consent"]["status"], lead["consent"]["source"]) == ("opted_in", "flow")
    conversation = shop["api"].get(f"/conversations/{conversation_of(shop)['id']}").data
    assert conversation["assignedAgentId"] == "sales-agent-1"
    assert stats(shop["api"], shop["shop_id"], flow_id) == {
        "executionCount": 1,
        "completionRate": 1.0,
        "averageSteps": 13.0,
        "fallbackRate": 0.0,
    }


def test_lead_capture_three_bad_emails_end_politely_without_a_lead(shop: dict[str, Any]) -> None:
    body = example("lead-capture", shop["shop_id"])
    flow_id = create_flow(shop["api"], body)
    says(shop, "quote please")
    texts_reach(shop, 2)
    says(shop, "Hoa")
    texts_reach(shop, 3)
    for attempt, bad in enumerate(["hoa@", "@example.com", "hoa@example"]):
        says(shop, bad)
        if attempt < 2:  # retries: 2
            assert texts_reach(shop, 4 + attempt)[3 + attempt] == text_of(body, "ask_email", "retryContent")
    assert texts_reach(shop, 6)[5] == text_of(body, "gave_up")
    [run] = ended(flow_id)
    # Invalid after the retries counts as no answer: onTimeout's step, then a normal end.
    assert (run["outcome"], run.get("reason"), run["steps"]) == (
        "completed",
        None,
        5,
    )  # intro ask_name save_name ask_email gave_up
    lead = customer(shop)
    assert lead["customFields"] == {"fullName": "Hoa"}
    assert lead["tags"] == []
    assert len(sent_texts(shop)) == 6


# --- ad-offer.json -----------------------------------------------------------------------------------

FAQ = [
    {"question": "Có giao hàng toàn quốc không?", "answer": "Dạ có, shop giao toàn quốc trong 2–4 ngày."},
    {"question": "Chính sách đổi trả thế nào?", "answer": "Đổi trả trong 7 ngày nếu còn nguyên hộp."},
    {"question": "Cửa hàng mở cửa mấy giờ?", "answer": "Từ 8:00 đến 21:00 mỗi ngày."},
]
AD_SOURCE = "120226305854810726"


def ad_referral() -> dict[str, Any]:
    """The referral of Meta's click-to-WhatsApp example (shared/conformance/meta)."""
    delivery = json.loads(meta_example("webhook__text_message_from_click_to_whatsapp_ad.json").read_text())
    referral: dict[str, Any] = delivery["entry"][0]["changes"][0]["value"]["messages"][0]["referral"]
    assert referral["source_id"] == AD_SOURCE
    return copy.deepcopy(referral)


@pytest.fixture
def ai_shop(shop: dict[str, Any], ai_provider: OpenAISimulator) -> dict[str, Any]:
    openai = ai_provider
    created = shop["api"].post(
        "/ai-agents",
        json_body={
            "shopId": shop["shop_id"],
            "name": "Lan",
            "model": "gpt-4o-mini",
            "language": "vi",
            "personality": "Thân thiện",
            "knowledgeBase": FAQ,
            # The flow's maxTurns (3) ends the conversation before the agent's own limit would hand off.
            "handoff": {"keywords": ["nhân viên"], "maxTurns": 10, "message": {"type": "text", "text": "Chờ chút."}},
        },
    )
    assert created.status == 201, created.text
    # Not activated: the flow's step names the agent; no message reaches the AI queue outside the flow.
    shop["graph"].state.requests.clear()
    return {**shop, "openai": openai, "agentId": created.data["agentId"]}


def from_the_ad(shop: dict[str, Any], text: str) -> str:
    return customer_message(shop, {"type": "text", "text": {"body": text}}, referral=ad_referral())


def asks_the_ai(shop: dict[str, Any], conversation_id: str, text: str, turns: int) -> float:
    """The customer writes once the AI step waits for its turn ``turns``; returns when."""
    wait_for(
        lambda: (w := waiting(conversation_id)) and w["kind"] == "ai" and w["step"] == "assistant" and w,
        what=f"the AI step's wait ({turns} turns done)",
    )
    at = time.time()
    says(shop, text)
    return at


def test_ad_offer_the_offer_then_three_ai_turns_then_the_closing_and_a_reminder(ai_shop: dict[str, Any]) -> None:
    shop = ai_shop
    body = example("ad-offer", shop["shop_id"], AI_AGENT_ID=shop["agentId"])
    assert step(body, "assistant")["aiAgentId"] == shop["agentId"]
    flow_id = create_flow(shop["api"], body)
    offer = "Chào Chị Hoa! Ưu đãi hè: giảm 20% mọi sản phẩm với mã HE20. Bạn cần tư vấn gì cứ hỏi nhé."
    closing, reminder = text_of(body, "closing"), text_of(body, "reminder")

    from_the_ad(shop, "Hello! Can I get more info on this?")
    assert texts_reach(shop, 1) == [offer]
    said = time.time()  # the customer's questions come in later seconds than the offer
    conversation_id = conversation_of(shop)["id"]
    # The offer was sent after the customer's message: the AI waits for the customer's next one.
    for turn, entry in enumerate(FAQ):
        next_second(said)  # later than the previous message, the AI's answer included
        asks_the_ai(shop, conversation_id, entry["question"], turn)
        assert texts_reach(shop, 2 + turn)[1 + turn] == entry["answer"]
        said = time.time()
    assert texts_reach(shop, 6) == [offer, *(entry["answer"] for entry in FAQ), closing, reminder]

    [run] = ended(flow_id)
    assert (run["outcome"], run.get("reason"), run["steps"]) == (
        "completed",
        None,
        5,
    )  # offer ai closing pause reminder
    assert len(shop["openai"].completions()) == 3
    messages = shop["api"].get(f"/conversations/{conversation_id}").data["messages"]
    outbound = sorted((m for m in messages if m["direction"] == "outbound"), key=lambda m: m["timestamp"])
    assert {m["sentBy"] for m in outbound if m.get("ai")} == {f"ai:{shop['agentId']}"}
    assert sum(1 for m in outbound if m.get("ai")) == 3
    assert stats(shop["api"], shop["shop_id"], flow_id) == {
        "executionCount": 1,
        "completionRate": 1.0,
        "averageSteps": 5.0,
        "fallbackRate": 0.0,
    }

    # oncePerCustomer: the same customer coming from the ad again starts nothing.
    customer_key = str(stored_conversation(conversation_id)["customerKey"])
    assert flow_runs.once_started_by(get_table(), shop["shop_id"], flow_id, customer_key) is not None
    started = len(executions(shop["aws"]))
    from_the_ad(shop, "Còn ưu đãi không?")
    assert len(executions(shop["aws"])) == started
    assert stats(shop["api"], shop["shop_id"], flow_id)["executionCount"] == 1
    assert len(sent_texts(shop)) == 6


def test_ad_offer_another_ad_or_no_ad_starts_nothing(ai_shop: dict[str, Any]) -> None:
    shop = ai_shop
    flow_id = create_flow(shop["api"], example("ad-offer", shop["shop_id"], AI_AGENT_ID=shop["agentId"]))
    other = {**ad_referral(), "source_id": "999"}
    customer_message(shop, {"type": "text", "text": {"body": "Hi"}}, referral=other)
    says(shop, "Hello! Can I get more info on this?")
    assert sent_texts(shop) == []
    assert stats(shop["api"], shop["shop_id"], flow_id)["executionCount"] == 0


def test_ad_offer_a_customer_who_goes_quiet_gets_the_closing(
    ai_shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    shop = ai_shop
    # The AI step waits up to a day between turns: 1/12500 of it is 7 s (the delay's minute stays 1 s), time
    # enough for the customer's question to reach the first wait on a loaded machine.
    monkeypatch.setenv("FLOW_TIME_SCALE", "0.00008")
    reset_caches()
    body = example("ad-offer", shop["shop_id"], AI_AGENT_ID=shop["agentId"])
    flow_id = create_flow(shop["api"], body)
    from_the_ad(shop, "Hello! Can I get more info on this?")
    texts_reach(shop, 1)
    said = time.time()
    conversation_id = conversation_of(shop)["id"]
    next_second(said)  # else the AI may not see the question after the offer (the same second, sorted by id)
    asks_the_ai(shop, conversation_id, "Có giao hàng toàn quốc không?", 0)
    assert texts_reach(shop, 2)[1] == FAQ[0]["answer"]
    # Then nothing from the customer: the AI step's wait runs out and the flow goes on.
    texts = texts_reach(shop, 4, timeout=30)
    assert texts[1:] == [FAQ[0]["answer"], text_of(body, "closing"), text_of(body, "reminder")]
    [run] = ended(flow_id)
    assert (run["outcome"], run.get("reason"), run["steps"]) == ("completed", None, 5)
    assert len(shop["openai"].completions()) == 1


# Two customer turns within one of Meta's seconds are two AI turns: the second is answered too (the
# runner names the turn by its message, not by the second alone).
def test_ad_offer_a_question_in_the_same_second_as_the_last_answered_one_is_answered(
    ai_shop: dict[str, Any],
) -> None:
    shop = ai_shop
    create_flow(shop["api"], example("ad-offer", shop["shop_id"], AI_AGENT_ID=shop["agentId"]))
    from_the_ad(shop, "Hello! Can I get more info on this?")
    texts_reach(shop, 1)
    conversation_id = conversation_of(shop)["id"]
    second = int(time.time())
    for turn, entry in enumerate(FAQ[:2]):
        seq = 2 + turn  # the offer was send 1, each wait for a turn takes the next
        wait_for(lambda seq=seq: (w := waiting(conversation_id)) and w["kind"] == "ai" and w["seq"] == seq)
        customer_message(shop, {"type": "text", "text": {"body": entry["question"]}, "timestamp": str(second)})
        assert texts_reach(shop, 2 + turn, timeout=15)[1 + turn] == entry["answer"]


# Punctuation next to a keyword does not hide it: "Báo giá?" starts lead-capture, "Hi!" the welcome menu.
@pytest.mark.parametrize(("name", "typed"), [("lead-capture", "Báo giá?"), ("welcome-menu", "Hi!")])
def test_a_keyword_with_punctuation_next_to_it_starts_the_example(name: str, typed: str) -> None:
    from mkt_whatsapp.flows import matching

    trigger = example(name, "shop-1")["trigger"]
    index = {"flow-1": {"trigger": trigger, "version": 1}}
    assert matching.match(index, {"type": "text", "text": {"body": typed}}, new_customer=False) is not None
