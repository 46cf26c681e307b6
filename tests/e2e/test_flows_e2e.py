"""Automation flows end to end on the local stack (what `make dev` runs): the welcome example flow
(docs/flows/welcome-menu.json) created and activated over HTTP, customers' signed webhooks posted as
`make say` and `make press` post them, and the flow's messages read at the Graph simulator — moto's Step
Functions running the flow state machine, its Lambda tasks run by the stack's in-process handlers."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local import devtools
from local.defaults import LOCAL_DEFAULTS
from local.graph_simulator import GraphSimulator
from tests.e2e.conftest import RunningStack, start_stack

pytestmark = pytest.mark.e2e
WELCOME = Path(__file__).resolve().parents[2] / "docs" / "flows" / "welcome-menu.json"
GREETING = "Xin chào Lan! Cảm ơn bạn đã nhắn cho shop."
CATALOG = "Bạn xem sản phẩm mới tại https://shop.example/new — nhắn tên sản phẩm để shop tư vấn nhé!"
BYE = 'Khi cần, bạn cứ nhắn "hi" để xem menu nhé. Chúc bạn một ngày vui!'
# The welcome flow asks with a 3,600 s timeout: 1.8 s (2 s, whole seconds) at this scale.
FAST_TIME_SCALE = "0.0005"


def says(stack: RunningStack, phone_number_id: str, customer: str, text: str) -> None:
    """``make say``: the customer's text message, signed with the stack's app secret, now."""
    secret = stack.env.get("META_APP_SECRET") or LOCAL_DEFAULTS["META_APP_SECRET"]
    answer = devtools.post_customer_text(stack.api, text, phone_number_id, customer, "Lan", secret=secret)
    assert answer == '{"success":true}'


def presses(stack: RunningStack, phone_number_id: str, customer: str, button_id: str, title: str) -> None:
    """``make press``: the customer presses a reply button, signed with the stack's app secret, now."""
    secret = stack.env.get("META_APP_SECRET") or LOCAL_DEFAULTS["META_APP_SECRET"]
    answer = devtools.post_button_press(stack.api, button_id, title, phone_number_id, customer, "Lan", secret=secret)
    assert answer == '{"success":true}'


def eventually(read: Callable[[], Any], check: Callable[[Any], bool], *, seconds: float = 20, what: str = "") -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = read()
        if check(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or 'a value'}; last: {value!r}")
        time.sleep(0.1)


def sends_to(simulator: GraphSimulator, customer: str) -> list[dict[str, Any]]:
    """The sends the Graph simulator received for ``customer``, in order (each with its arrival time)."""
    with simulator.state.lock:
        requests = list(simulator.state.requests)
    return [
        {**r["body"], "at": r["at"]}
        for r in requests
        if r["path"].endswith("/messages") and isinstance(r["body"], dict) and r["body"].get("to") == customer
    ]


def sends_reach(simulator: GraphSimulator, customer: str, count: int, seconds: float = 20) -> list[dict[str, Any]]:
    return eventually(
        lambda: sends_to(simulator, customer),
        lambda sends: len(sends) >= count,
        seconds=seconds,
        what=f"{count} messages to {customer}",
    )


def welcome_flow(stack: RunningStack, auth: dict[str, str], shop_id: str, *, on_timeout: bool = True) -> str:
    """Create the welcome example flow for ``shop_id`` and activate it (its menu without ``onTimeout``, and
    so without the goodbye step, unless ``on_timeout``); returns its id."""
    document = json.loads(WELCOME.read_text())
    document["shopId"] = shop_id
    if not on_timeout:
        [menu] = [step for step in document["steps"] if step["id"] == "menu"]
        del menu["onTimeout"]  # bye is then unreachable: a flow may not have one
        document["steps"] = [step for step in document["steps"] if step["id"] != "bye"]
    created = httpx.post(f"{stack.api}/flows", headers=auth, json=document)
    assert created.status_code == 201, created.text
    flow_id = str(created.json()["data"]["flowId"])
    activated = httpx.post(f"{stack.api}/flows/{flow_id}/activate", headers=auth)
    assert activated.status_code == 200, activated.text
    assert activated.json()["data"]["isActive"] is True
    return flow_id


def stats(stack: RunningStack, auth: dict[str, str], shop_id: str, flow_id: str) -> dict[str, Any]:
    reply = httpx.get(f"{stack.api}/flows", headers=auth, params={"shopId": shop_id})
    assert reply.status_code == 200, reply.text
    return next(dict(flow["stats"]) for flow in reply.json()["data"]["flows"] if flow["flowId"] == flow_id)


def finished_stats(stack: RunningStack, auth: dict[str, str], shop_id: str, flow_id: str) -> dict[str, Any]:
    """The flow's stats once its one execution has ended (recorded by the step runner's last invocation)."""
    return eventually(
        lambda: stats(stack, auth, shop_id, flow_id),
        lambda found: found["completionRate"] is not None,
        what=f"{flow_id}'s execution to end",
    )


def text_of(send: dict[str, Any]) -> str:
    if send["type"] == "text":
        return str(send["text"]["body"])
    return str(send["interactive"]["body"]["text"])


def assert_greeted_and_asked(sends: list[dict[str, Any]]) -> None:
    greeting, question = sends[:2]
    assert (greeting["type"], text_of(greeting)) == ("text", GREETING)
    assert question["type"] == "interactive"
    assert question["interactive"]["type"] == "button"
    assert text_of(question) == "Bạn cần shop giúp gì?"
    buttons = [(b["reply"]["id"], b["reply"]["title"]) for b in question["interactive"]["action"]["buttons"]]
    assert buttons == [("menu_buy", "Mua hàng"), ("menu_order", "Đơn hàng của tôi"), ("menu_human", "Gặp nhân viên")]


def test_a_customer_says_hi_and_presses_buy(stack: RunningStack, e2e_graph: GraphSimulator) -> None:
    shop_id, phone_number_id, customer = "shop-flow", "880000601", "84911100601"
    auth = stack.connect(shop_id, phone_number_id)
    flow_id = welcome_flow(stack, auth, shop_id)

    says(stack, phone_number_id, customer, "hi")
    assert_greeted_and_asked(sends_reach(e2e_graph, customer, 2))
    assert stats(stack, auth, shop_id, flow_id)["executionCount"] == 1

    presses(stack, phone_number_id, customer, "menu_buy", "Mua hàng")
    sends = sends_reach(e2e_graph, customer, 3)
    assert (sends[2]["type"], text_of(sends[2])) == ("text", CATALOG)

    profile = httpx.get(f"{stack.api}/customers/{customer}", headers=auth, params={"shopId": shop_id})
    assert profile.status_code == 200, profile.text
    assert "interested" in profile.json()["data"]["tags"]
    assert finished_stats(stack, auth, shop_id, flow_id) == {
        "executionCount": 1,
        "completionRate": 1.0,
        "averageSteps": 5.0,  # greet, menu, route, tag_buyer, catalog
        "fallbackRate": 0.0,
    }
    # The terminal shows the state machine's tasks: the question's wait (an hour at the stack's 0.01: 36 s),
    # then the end.
    stack.wait_for_line(r"^Step Functions → FlowRunnerFunction ok \d+ ms  action=run kind=wait seconds=36$")
    stack.wait_for_line(r"^Step Functions → FlowRunnerFunction ok \d+ ms  action=run kind=end outcome=completed$")
    # The flow ended at the catalog: the question's wait was settled by the press, so no timeout follows.
    assert [text_of(send) for send in sends_to(e2e_graph, customer)][2:] == [CATALOG]


@pytest.fixture(scope="module")
def fast_flows() -> Iterator[tuple[RunningStack, GraphSimulator]]:
    """A stack of its own whose flows wait 1/2,000 of their seconds (an hour's timeout in 2 s)."""
    simulator = GraphSimulator().start()
    running = start_stack({"GRAPH_API_BASE_URL": simulator.url, "FLOW_TIME_SCALE": FAST_TIME_SCALE})
    try:
        yield running, simulator
    finally:
        running.stop()
        simulator.stop()


def test_a_customer_who_never_answers_gets_the_timeout_path(fast_flows: tuple[RunningStack, GraphSimulator]) -> None:
    stack, simulator = fast_flows
    shop_id, phone_number_id, customer = "shop-flow-timeout", "880000602", "84911100602"
    auth = stack.connect(shop_id, phone_number_id)
    flow_id = welcome_flow(stack, auth, shop_id)

    says(stack, phone_number_id, customer, "hi")
    sends = sends_reach(simulator, customer, 3)
    assert_greeted_and_asked(sends)
    question, bye = sends[1], sends[2]
    assert (bye["type"], text_of(bye)) == ("text", BYE)  # onTimeout: bye
    # It came when the question's wait timed out (3,600 s scaled: 2 s), not before.
    assert bye["at"] - question["at"] >= 1.5
    # onTimeout jumps to a step, so the execution completes (a timeout without onTimeout is a fallback).
    assert finished_stats(stack, auth, shop_id, flow_id) == {
        "executionCount": 1,
        "completionRate": 1.0,
        "averageSteps": 3.0,  # greet, menu, bye
        "fallbackRate": 0.0,
    }
    assert len(sends_to(simulator, customer)) == 3
    stack.wait_for_line(r"^Step Functions → FlowRunnerFunction ok \d+ ms  action=run kind=wait seconds=2$")
    stack.wait_for_line(r"^Step Functions → FlowRunnerFunction ok \d+ ms  action=run kind=end outcome=completed$")


def test_without_on_timeout_a_customer_who_never_answers_ends_the_flow_as_a_fallback(
    fast_flows: tuple[RunningStack, GraphSimulator],
) -> None:
    stack, simulator = fast_flows
    shop_id, phone_number_id, customer = "shop-flow-fallback", "880000603", "84911100603"
    auth = stack.connect(shop_id, phone_number_id)
    flow_id = welcome_flow(stack, auth, shop_id, on_timeout=False)

    says(stack, phone_number_id, customer, "hi")
    assert_greeted_and_asked(sends_reach(simulator, customer, 2))
    assert finished_stats(stack, auth, shop_id, flow_id) == {
        "executionCount": 1,
        "completionRate": 0.0,
        "averageSteps": 2.0,  # greet, menu
        "fallbackRate": 1.0,
    }
    stack.wait_for_line(
        r"^Step Functions → FlowRunnerFunction ok \d+ ms  action=run kind=end outcome=fallback reason=timeout$"
    )
    assert len(sends_to(simulator, customer)) == 2  # nothing after the menu
