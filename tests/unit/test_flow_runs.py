"""Flows run (issue 12, items 2-5): a customer's message starts a flow through the inbound dispatcher, the
flow state machine (statemachines/flow.asl.json, executed by moto, its Lambda tasks by the in-process
step runner) sends through the outbound path to the Graph simulator, waits for replies and delays, and
every execution ends with its outcome counted."""

from __future__ import annotations

import copy
import time
from typing import Any

import pytest

from tests.unit.flow_helpers import (
    CUSTOMER,
    conversation_of,
    create_flow,
    customer_tags,
    ended,
    executions_of,
    presses,
    runs_of,
    says,
    sent_texts,
    stats,
    stored_conversation,
    texts_reach,
    wait_for,
    waiting,
)

BUTTONS = {
    "type": "interactive",
    "interactive": {
        "type": "button",
        "body": {"text": "Bạn cần gì?"},
        "action": {"buttons": [{"id": "buy", "title": "Mua hàng"}, {"id": "help", "title": "Hỗ trợ"}]},
    },
}


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": body}


@pytest.fixture
def shop(connected_shop: dict[str, Any]) -> dict[str, Any]:
    return connected_shop


def flow(
    shop: dict[str, Any], steps: list[dict[str, Any]], trigger: dict[str, Any] | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "shopId": shop["shop_id"],
        "flowName": extra.pop("flowName", "Test flow"),
        "trigger": trigger or {"type": "keyword", "keywords": ["hi", "xin chào"]},
        "steps": copy.deepcopy(steps),
        **extra,
    }


def test_a_keyword_starts_the_flow_and_a_button_reply_continues_it(shop: dict[str, Any]) -> None:
    flow_id = create_flow(
        shop["api"],
        flow(
            shop,
            [
                {"id": "greet", "type": "send_message", "content": text("Xin chào {{customer.name}}!"), "next": "ask"},
                {
                    "id": "ask",
                    "type": "ask",
                    "content": BUTTONS,
                    "saveAs": "choice",
                    "timeoutSeconds": 30000,
                    "onTimeout": "bye",
                    "next": "route",
                },
                {
                    "id": "route",
                    "type": "condition",
                    "branches": [{"if": {"left": "{{vars.choice}}", "op": "equals", "right": "buy"}, "next": "thanks"}],
                    "else": "bye",
                },
                {"id": "thanks", "type": "send_message", "content": text("Bạn chọn {{vars.choice}}"), "next": None},
                {"id": "bye", "type": "send_message", "content": text("Tạm biệt"), "next": None},
            ],
        ),
    )
    says(shop, "Xin chao")
    assert texts_reach(shop, 2) == ["Xin chào Chị Hoa!", "Bạn cần gì?"]
    conversation_id = conversation_of(shop)["id"]
    wait_for(lambda: waiting(conversation_id), what="the question's wait")
    presses(shop, "buy", "Mua hàng")
    assert texts_reach(shop, 3)[2] == "Bạn chọn buy"
    [run] = ended(flow_id)
    assert (run["outcome"], run["steps"]) == ("completed", 4)
    assert stats(shop["api"], shop["shop_id"], flow_id) == {
        "executionCount": 1,
        "completionRate": 1.0,
        "averageSteps": 4.0,
        "fallbackRate": 0.0,
    }


# --- helpers of this module ----------------------------------------------------------------------------


def messages_of(shop: dict[str, Any], conversation_id: str) -> list[dict[str, Any]]:
    reply = shop["api"].get(f"/conversations/{conversation_id}", query={"shopId": shop["shop_id"], "limit": "100"})
    assert reply.status == 200, reply.text
    return list(reply.data["messages"])


def status_webhook(shop: dict[str, Any], wamid: str, status: str, errors: list[dict[str, Any]] | None = None) -> None:
    from tests.support import deliver, whatsapp_delivery

    entry: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(int(time.time())),
        "recipient_id": CUSTOMER,
    }
    if errors:
        entry["errors"] = errors
    deliver(shop["api"], shop["aws"], whatsapp_delivery(shop["phone_number_id"], {"statuses": [entry]}))


ASK_THEN_THANK = [
    {
        "id": "ask",
        "type": "ask",
        "content": BUTTONS,
        "saveAs": "choice",
        "timeoutSeconds": 3600,
        "onTimeout": "late",
        "onDeliveryFailed": "undelivered",
        "next": "thanks",
    },
    {"id": "thanks", "type": "send_message", "content": text("Cảm ơn: {{vars.choice}}"), "next": None},
    {"id": "late", "type": "send_message", "content": text("Hết giờ"), "next": None},
    {"id": "undelivered", "type": "add_tags", "tags": ["unreachable"], "next": None},
]


# --- ask: replies, validation, timeouts, failed questions ------------------------------------------------


def test_expect_refuses_a_bad_reply_asks_again_with_the_retry_content_and_saves_a_good_one(
    shop: dict[str, Any],
) -> None:
    flow_id = create_flow(
        shop["api"],
        flow(
            shop,
            [
                {
                    "id": "email",
                    "type": "ask",
                    "content": text("Email của bạn?"),
                    "expect": "email",
                    "retries": 2,
                    "retryContent": text("Email chưa đúng, bạn nhập lại nhé"),
                    "saveAs": "email",
                    "next": "save",
                },
                {"id": "save", "type": "set_field", "field": "email", "value": "{{vars.email}}", "next": "done"},
                {
                    "id": "done",
                    "type": "send_message",
                    "content": text("Đã lưu {{customer.fields.email}}"),
                    "next": None,
                },
            ],
        ),
    )
    says(shop, "hi")
    texts_reach(shop, 1)
    conversation_id = conversation_of(shop)["id"]
    wait_for(lambda: waiting(conversation_id))
    says(shop, "not an email")
    assert texts_reach(shop, 2)[1] == "Email chưa đúng, bạn nhập lại nhé"
    wait_for(lambda: waiting(conversation_id))
    says(shop, "  Hoa.Nguyen@Example.vn ")
    assert texts_reach(shop, 3)[2] == "Đã lưu hoa.nguyen@example.vn"
    [run] = ended(flow_id)
    assert run["outcome"] == "completed"


def test_retries_exhausted_take_on_timeout_or_end_as_a_fallback(shop: dict[str, Any]) -> None:
    flow_id = create_flow(
        shop["api"],
        flow(
            shop,
            [
                {
                    "id": "n",
                    "type": "ask",
                    "content": text("Bao nhiêu cái?"),
                    "expect": "number",
                    "retries": 1,
                    "saveAs": "n",
                    "next": None,
                }
            ],
        ),
    )
    says(shop, "hi")
    conversation_id = conversation_of(shop)["id"] if texts_reach(shop, 1) else ""
    for attempt in range(2):
        wait_for(lambda: waiting(conversation_id))
        says(shop, f"nhiều lắm {attempt}")
    [run] = ended(flow_id)
    assert (run["outcome"], run["reason"]) == ("fallback", "invalid_reply")
    assert sent_texts(shop) == ["Bao nhiêu cái?", "Bao nhiêu cái?"]  # asked again with its own content
    assert stats(shop["api"], shop["shop_id"], flow_id)["fallbackRate"] == 1.0


def test_no_reply_in_time_takes_on_timeout(shop: dict[str, Any]) -> None:
    flow_id = create_flow(shop["api"], flow(shop, ASK_THEN_THANK))  # 3600 s at the tests' scale: 4 s
    says(shop, "hi")
    assert texts_reach(shop, 2, timeout=30) == ["Bạn cần gì?", "Hết giờ"]
    [run] = ended(flow_id)
    assert run["outcome"] == "completed"
    assert "flowRun" not in stored_conversation(conversation_of(shop)["id"])


def test_a_question_meta_refuses_takes_on_delivery_failed(shop: dict[str, Any]) -> None:
    from local.graph_simulator import Fault

    flow_id = create_flow(shop["api"], flow(shop, ASK_THEN_THANK))
    refused = {"error": {"message": "(#131026) Message undeliverable", "type": "OAuthException", "code": 131026}}
    shop["graph"].state.faults[:] = [Fault(match="/messages", status=400, count=1, body=refused)]
    says(shop, "hi")
    [run] = ended(flow_id)
    assert run["outcome"] == "completed"
    assert "unreachable" in customer_tags(shop)
    assert sent_texts(shop) == ["Bạn cần gì?"]  # the refused question reached the simulator, nothing after


def test_a_failed_status_for_the_question_takes_on_delivery_failed(shop: dict[str, Any]) -> None:
    flow_id = create_flow(shop["api"], flow(shop, ASK_THEN_THANK))
    says(shop, "hi")
    texts_reach(shop, 1)
    conversation_id = conversation_of(shop)["id"]
    wait_for(lambda: waiting(conversation_id))
    question = next(m for m in messages_of(shop, conversation_id) if m["direction"] == "outbound")
    status_webhook(
        shop,
        question["whatsAppMessageId"],
        "failed",
        [{"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}],
    )
    [run] = ended(flow_id)
    assert run["outcome"] == "completed"
    assert "unreachable" in customer_tags(shop)
    status_webhook(shop, question["whatsAppMessageId"], "failed")  # again: nothing more happens
    assert len(runs_of(flow_id)) == 1


def test_a_question_without_on_delivery_failed_ends_as_a_fallback(shop: dict[str, Any]) -> None:
    from local.graph_simulator import Fault

    steps = copy.deepcopy(ASK_THEN_THANK)
    del steps[0]["onDeliveryFailed"]
    flow_id = create_flow(shop["api"], flow(shop, steps[:3]))
    shop["graph"].state.faults[:] = [
        Fault(match="/messages", status=400, count=1, body={"error": {"message": "bad", "code": 131026}})
    ]
    says(shop, "hi")
    [run] = ended(flow_id)
    assert (run["outcome"], run["reason"]) == ("fallback", "delivery_failed")


# --- delay, conditions, the loop guard -----------------------------------------------------------------


def test_delay_waits_then_goes_on(shop: dict[str, Any]) -> None:
    flow_id = create_flow(
        shop["api"],
        flow(
            shop,
            [
                {"id": "a", "type": "send_message", "content": text("Một"), "next": "wait"},
                {"id": "wait", "type": "delay", "seconds": 2000, "next": "b"},  # 2 s at the tests' scale
                {"id": "b", "type": "send_message", "content": text("Hai"), "next": None},
            ],
        ),
    )
    says(shop, "hi")
    assert texts_reach(shop, 1) == ["Một"]
    started = time.monotonic()
    assert texts_reach(shop, 2) == ["Một", "Hai"]
    assert time.monotonic() - started >= 1.0
    [run] = ended(flow_id)
    assert (run["outcome"], run["steps"]) == ("completed", 3)


def test_the_loop_guard_stops_an_endless_flow_as_a_fallback(shop: dict[str, Any]) -> None:
    flow_id = create_flow(
        shop["api"],
        flow(
            shop,
            [
                {"id": "tag", "type": "add_tags", "tags": ["looping"], "next": "check"},
                {
                    "id": "check",
                    "type": "condition",
                    "branches": [{"if": {"op": "has_tag", "right": "looping"}, "next": "tag"}],
                    "else": None,
                },
            ],
            settings={"maxSteps": 7},
        ),
    )
    says(shop, "hi")
    [run] = ended(flow_id)
    assert (run["outcome"], run["reason"], run["steps"]) == ("fallback", "loop_guard", 7)
    assert stats(shop["api"], shop["shop_id"], flow_id) == {
        "executionCount": 1,
        "completionRate": 0.0,
        "averageSteps": 7.0,
        "fallbackRate": 1.0,
    }


def test_conditions_route_on_every_operator_in_one_invocation(shop: dict[str, Any]) -> None:
    """Each condition sends ✓ or ✗: the answers show every operator evaluated as the guide says."""
    cases = [
        ("equals", "{{vars.x}}", "Áo"),  # x = "ao" (accents and case aside)
        ("not_equals", "{{vars.x}}", "quần"),
        ("contains", "{{message.text}}", "CHÀO"),
        ("starts_with", "{{message.text}}", "xin"),
        ("in", "{{vars.x}}", ["giày", "AO"]),
        ("matches", "{{customer.waId}}", "^84[0-9]{9}$"),
        ("gt", "{{vars.n}}", 10),
        ("lt", "{{vars.n}}", "2,5"),
        ("has_tag", None, "vip"),
        ("exists", "{{customer.fields.city}}", None),
    ]
    steps: list[dict[str, Any]] = [
        {"id": "setx", "type": "set_field", "field": "seen", "value": "yes", "next": "tagvip"},
        {"id": "tagvip", "type": "add_tags", "tags": ["vip"], "next": "ask"},
        {"id": "ask", "type": "ask", "content": text("Mua gì?"), "saveAs": "x", "next": "askn"},
        {"id": "askn", "type": "ask", "content": text("Mấy cái?"), "expect": "number", "saveAs": "n", "next": "c0"},
    ]
    for index, (op, left, right) in enumerate(cases):
        test: dict[str, Any] = {"op": op}
        if left is not None:
            test["left"] = left
        if right is not None:
            test["right"] = right
        following = f"c{index + 1}" if index + 1 < len(cases) else None
        steps += [
            {
                "id": f"c{index}",
                "type": "condition",
                "branches": [{"if": test, "next": f"yes{index}"}],
                "else": f"no{index}",
            },
            {"id": f"yes{index}", "type": "send_message", "content": text(f"{op} ✓"), "next": following},
            {"id": f"no{index}", "type": "send_message", "content": text(f"{op} ✗"), "next": following},
        ]
    flow_id = create_flow(shop["api"], flow(shop, steps, trigger={"type": "any_message"}, settings={"maxSteps": 100}))
    says(shop, "Xin chào shop")
    conversation_id = conversation_of(shop)["id"] if texts_reach(shop, 1) else ""
    wait_for(lambda: waiting(conversation_id))
    says(shop, "ao")
    texts_reach(shop, 2)
    wait_for(lambda: waiting(conversation_id))
    says(shop, "12")
    answers = texts_reach(shop, 2 + len(cases))[2:]
    assert answers == [
        "equals ✓",
        "not_equals ✓",
        "contains ✗",
        "starts_with ✗",
        "in ✓",
        "matches ✓",
        "gt ✓",
        "lt ✗",
        "has_tag ✓",
        "exists ✗",
    ]  # message.text is the latest reply ("12"); no city field
    [run] = ended(flow_id)
    assert run["outcome"] == "completed"


# --- triggers ------------------------------------------------------------------------------------------


def test_triggers_match_in_the_guides_order_and_inactive_flows_start_nothing(shop: dict[str, Any]) -> None:
    api = shop["api"]
    one = [{"id": "s", "type": "send_message", "content": text("{{vars.none}}from {{message.text}}"), "next": None}]
    button = create_flow(
        api,
        flow(
            shop,
            [{**one[0], "content": text("button")}],
            {"type": "button_reply", "buttonIds": ["promo"]},
            flowName="B",
        ),
    )
    keyword = create_flow(
        api,
        flow(
            shop,
            [{**one[0], "content": text("keyword")}],
            {"type": "keyword", "keywords": ["khuyến mãi"], "match": "contains"},
            flowName="K",
        ),
    )
    new = create_flow(api, flow(shop, [{**one[0], "content": text("new")}], {"type": "new_customer"}, flowName="N"))
    anything = create_flow(api, flow(shop, [{**one[0], "content": text("any")}], {"type": "any_message"}, flowName="A"))
    inactive = create_flow(
        api,
        flow(shop, [{**one[0], "content": text("inactive")}], {"type": "keyword", "keywords": ["tắt"]}, flowName="I"),
        activate=False,
    )

    says(shop, "Có KHUYEN MAI gì không?")  # a new customer whose text has the keyword: keyword wins
    assert texts_reach(shop, 1) == ["keyword"]
    ended(keyword)
    presses(shop, "promo", "Xem ưu đãi")
    assert texts_reach(shop, 2)[1] == "button"
    ended(button)
    says(shop, "tắt")  # the inactive flow's keyword: the fallback flow answers
    assert texts_reach(shop, 3)[2] == "any"
    says(shop, "hello", wa_id="84907770002")  # another new customer: new_customer before any_message
    assert texts_reach(shop, 1, to="84907770002") == ["new"]
    ended(new)
    assert runs_of(inactive) == []
    assert stats(api, shop["shop_id"], anything)["executionCount"] == 1


def test_a_templates_quick_reply_starts_a_button_reply_flow(shop: dict[str, Any]) -> None:
    """Issue 14, item 5: a campaign's template carries quick-reply buttons with payloads; the customer's
    press comes back as a ``button`` message (``button.payload``, ``button.text``), and a ``button_reply``
    trigger holding the payload starts its flow, as an interactive reply's id does: the campaign opens an
    automated conversation."""
    from tests.support import seed_templates
    from tests.unit.flow_helpers import customer_message

    api = shop["api"]
    seed_templates(shop["shop_id"])  # the simulator's approved spring_sale: image header, 2 variables, 2 quick replies
    flow_id = create_flow(
        api,
        flow(
            shop,
            [{"id": "offer", "type": "send_message", "content": text("Ưu đãi mùa xuân dành cho bạn!"), "next": None}],
            {"type": "button_reply", "buttonIds": ["spring_view"]},
            flowName="Spring offer",
        ),
    )
    says(shop, "chào shop")  # opens the conversation; no flow answers it
    conversation = conversation_of(shop)["id"]
    image = {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://shop.example/xuan.jpg"}}]}
    body = {"type": "body", "parameters": [{"type": "text", "text": "Hoa"}, {"type": "text", "text": "20%"}]}
    buttons = [
        {
            "type": "button",
            "sub_type": "quick_reply",
            "index": str(index),
            "parameters": [{"type": "payload", "payload": p}],
        }
        for index, p in enumerate(("spring_view", "spring_stop"))
    ]
    template = {"name": "spring_sale", "language": "vi", "components": [image, body, *buttons]}
    sent = api.post(
        f"/conversations/{conversation}/messages", json_body={"content": {"type": "template", "template": template}}
    )
    assert (sent.status, sent.data["status"]) == (201, "sent"), sent.text

    press = {"type": "button", "button": {"payload": "spring_view", "text": "Xem ưu đãi"}}
    customer_message(shop, {**press, "context": {"from": "15550783881", "id": sent.data["whatsAppMessageId"]}})

    assert texts_reach(shop, 2) == ["template:spring_sale", "Ưu đãi mùa xuân dành cho bạn!"]
    [run] = ended(flow_id)
    assert run["outcome"] == "completed"
    # The other button's payload is no trigger of it: the press is stored and nothing starts.
    customer_message(shop, {"type": "button", "button": {"payload": "spring_stop", "text": "Dừng khuyến mãi"}})
    time.sleep(0.5)
    assert len(sent_texts(shop)) == 2
    assert len(runs_of(flow_id)) == 1


def test_a_human_assigned_conversation_starts_nothing(shop: dict[str, Any]) -> None:
    flow_id = create_flow(
        shop["api"],
        flow(
            shop, [{"id": "s", "type": "send_message", "content": text("auto"), "next": None}], {"type": "any_message"}
        ),
    )
    says(shop, "hello")
    texts_reach(shop, 1)
    ended(flow_id)
    conversation_id = conversation_of(shop)["id"]
    assigned = shop["api"].post(f"/conversations/{conversation_id}/assign", json_body={"agentId": "agent-7"})
    assert assigned.status == 200, assigned.text
    says(shop, "hello again")
    time.sleep(0.5)
    assert sent_texts(shop) == ["auto"]
    assert len(runs_of(flow_id)) == 1


def test_once_per_customer_holds_under_five_redeliveries_and_a_second_message(shop: dict[str, Any]) -> None:
    from tests.support import post_webhook, whatsapp_delivery

    flow_id = create_flow(
        shop["api"],
        flow(
            shop,
            [{"id": "s", "type": "send_message", "content": text("Chào mừng!"), "next": None}],
            {"type": "any_message"},
            settings={"oncePerCustomer": True},
        ),
    )
    message = {
        "from": CUSTOMER,
        "id": "wamid.ONCE.1",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "hello"},
    }
    payload = whatsapp_delivery(
        shop["phone_number_id"],
        {"contacts": [{"profile": {"name": "Chị Hoa"}, "wa_id": CUSTOMER}], "messages": [message]},
    )
    for _ in range(5):
        assert post_webhook(shop["api"], payload).status == 200
    from tests.support import drain_inbound

    drain_inbound(shop["aws"])
    ended(flow_id)
    says(shop, "hello again")  # a new message from the same customer: the flow does not start again
    time.sleep(0.5)
    assert sent_texts(shop) == ["Chào mừng!"]
    assert stats(shop["api"], shop["shop_id"], flow_id)["executionCount"] == 1
    assert len(executions_of(shop["aws"], flow_id)) == 1


def test_a_message_while_a_flow_runs_starts_nothing_else(shop: dict[str, Any]) -> None:
    api = shop["api"]
    waiting_flow = create_flow(
        api,
        flow(
            shop,
            [
                {"id": "d", "type": "delay", "seconds": 3000, "next": "s"},
                {"id": "s", "type": "send_message", "content": text("sau"), "next": None},
            ],
        ),
    )
    other = create_flow(
        api,
        flow(
            shop,
            [{"id": "s", "type": "send_message", "content": text("khác"), "next": None}],
            {"type": "keyword", "keywords": ["menu"]},
            flowName="Other",
        ),
    )
    says(shop, "hi")
    wait_for(lambda: (stored_conversation(conversation_of(shop)["id"]).get("flowRun") or {}).get("steps"))
    says(shop, "menu")
    assert texts_reach(shop, 1) == ["sau"]
    ended(waiting_flow)
    assert runs_of(other) == []


# --- stopping, versions --------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["assign", "close"])
def test_assigning_or_closing_the_conversation_stops_its_execution(shop: dict[str, Any], action: str) -> None:
    flow_id = create_flow(shop["api"], flow(shop, ASK_THEN_THANK))
    says(shop, "hi")
    texts_reach(shop, 1)
    conversation_id = conversation_of(shop)["id"]
    wait_for(lambda: waiting(conversation_id))
    body = {"agentId": "agent-7"} if action == "assign" else None
    reply = shop["api"].post(f"/conversations/{conversation_id}/{action}", json_body=body)
    assert reply.status == 200, reply.text
    [run] = ended(flow_id)
    assert run["outcome"] == "stopped"
    arn = stored_conversation(conversation_id).get("lastFlowRun", {}).get("execution")
    assert arn
    statuses = wait_for(lambda: [e["status"] for e in executions_of(shop["aws"], flow_id) if e["status"] != "RUNNING"])
    assert statuses in (["ABORTED"], ["FAILED"])  # Step Functions says ABORTED; moto, stopping a callback task, FAILED
    time.sleep(4.5)  # past the question's timeout: a stopped execution sends nothing more
    assert sent_texts(shop) == ["Bạn cần gì?"]
    assert stats(shop["api"], shop["shop_id"], flow_id) == {
        "executionCount": 1,
        "completionRate": 0.0,
        "averageSteps": 1.0,
        "fallbackRate": 0.0,
    }


def test_deleting_a_flow_stops_its_running_executions(shop: dict[str, Any]) -> None:
    flow_id = create_flow(shop["api"], flow(shop, ASK_THEN_THANK))
    says(shop, "hi")
    conversation_id = conversation_of(shop)["id"] if texts_reach(shop, 1) else ""
    wait_for(lambda: waiting(conversation_id))
    assert shop["api"].post(f"/flows/{flow_id}/deactivate").status == 200
    assert shop["api"].delete(f"/flows/{flow_id}").status == 200
    [run] = runs_of(flow_id)
    assert (run["outcome"], run["reason"]) == ("stopped", "flow deleted")
    assert "flowRun" not in stored_conversation(conversation_id)
    statuses = wait_for(lambda: [e["status"] for e in executions_of(shop["aws"], flow_id) if e["status"] != "RUNNING"])
    assert statuses in (["ABORTED"], ["FAILED"])  # Step Functions says ABORTED; moto, stopping a callback task, FAILED


def test_a_running_execution_finishes_on_its_version_after_a_put(shop: dict[str, Any]) -> None:
    patient = copy.deepcopy(ASK_THEN_THANK)
    patient[0]["timeoutSeconds"] = 30000  # 30 s at the tests' scale: the presses are in time on a loaded machine
    flow_id = create_flow(shop["api"], flow(shop, patient))
    says(shop, "hi")
    conversation_id = conversation_of(shop)["id"] if texts_reach(shop, 1) else ""
    wait_for(lambda: waiting(conversation_id))
    steps = copy.deepcopy(patient)
    steps[1]["content"] = text("Phiên bản 2: {{vars.choice}}")
    changed = shop["api"].put(f"/flows/{flow_id}", json_body={"steps": steps})
    assert changed.status == 200, changed.text
    presses(shop, "help", "Hỗ trợ")
    assert texts_reach(shop, 2)[1] == "Cảm ơn: help"  # version 1's text
    ended(flow_id)
    says(shop, "hi", wa_id="84907770003")  # a new execution runs version 2
    texts_reach(shop, 1, to="84907770003")
    wait_for(lambda: waiting(conversation_of(shop, "84907770003")["id"]))
    presses(shop, "buy", "Mua hàng", wa_id="84907770003")
    assert texts_reach(shop, 2, to="84907770003")[1] == "Phiên bản 2: buy"


def test_matching_reads_the_same_items_however_many_flows_the_shop_has(shop: dict[str, Any], monkeypatch) -> None:
    from tests.support import counted_aws_calls, reset_caches

    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "1000")  # 80 flow requests in a few seconds
    reset_caches()

    def dispatch_cost(wa_id: str) -> dict[str, int]:
        with counted_aws_calls() as calls:
            says(shop, "không khớp gì", wa_id=wa_id)
        return {name: count for name, count in calls.items() if name.startswith("dynamodb:Get")}

    create_flow(
        shop["api"],
        flow(
            shop,
            [{"id": "s", "type": "send_message", "content": text("x"), "next": None}],
            {"type": "keyword", "keywords": ["k0"]},
            flowName="F0",
        ),
    )
    says(shop, "warm up", wa_id="84907770100")
    one = dispatch_cost("84907770101")
    for index in range(1, 40):
        create_flow(
            shop["api"],
            flow(
                shop,
                [{"id": "s", "type": "send_message", "content": text("x"), "next": None}],
                {"type": "keyword", "keywords": [f"k{index}", f"từ khóa {index}"]},
                flowName=f"F{index}",
            ),
        )
    forty = dispatch_cost("84907770102")
    assert forty == one
    assert sent_texts(shop, to="84907770102") == []


def test_a_retried_start_starts_the_same_execution_never_a_second(shop: dict[str, Any]) -> None:
    """The processor may stop after the start's claim and before StartExecution; the still-pending message
    is then dispatched again: the same execution name is started (or found), never another."""
    from mkt_whatsapp.flows import runs

    flow_id = create_flow(shop["api"], flow(shop, ASK_THEN_THANK))
    says(shop, "hi")
    conversation = stored_conversation(conversation_of(shop)["id"])
    execution = conversation["flowRun"]["execution"]
    offered = {
        "shop_id": shop["shop_id"],
        "message_id": execution,  # the execution is named after the triggering message
        "conversation_id": conversation["id"],
        "customer_key": conversation["customerKey"],
        "content": {"type": "text", "text": "hi"},
        "new_customer": True,
        "referral": None,
    }
    for _ in range(3):
        assert runs.offer(**offered) == runs.STARTED
    assert [e["name"] for e in executions_of(shop["aws"], flow_id)] == [execution]
    assert stats(shop["api"], shop["shop_id"], flow_id)["executionCount"] == 1
    texts_reach(shop, 1)
    time.sleep(0.3)
    assert sent_texts(shop) == ["Bạn cần gì?"]  # the question was sent once
