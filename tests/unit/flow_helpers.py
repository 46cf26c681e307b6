"""Driving flows in tests: a shop with a connected number, customers who write (signed webhooks drained
through the inbound processor), and waits on what the flow state machine — run by moto, its Lambda tasks
by the in-process handlers — does in its own thread."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable
from typing import Any

from mkt_whatsapp.store import get_table, keys
from tests.support import ApiClient, AwsStack, deliver, poll_until, whatsapp_delivery

CUSTOMER = "84907770001"
_WAMIDS = itertools.count(1)


def wait_for(predicate: Callable[[], Any], *, timeout: float = 20.0, what: str = "the flow") -> Any:
    """Poll ``predicate`` until it returns something truthy (the flow runs in moto's own thread)."""
    return poll_until(predicate, timeout=timeout, what=what)


def new_wamid() -> str:
    return f"wamid.FLOW.{time.time_ns()}.{next(_WAMIDS)}"


def customer_message(
    shop: dict[str, Any], message: dict[str, Any], *, wa_id: str = CUSTOMER, referral: Any = None
) -> str:
    """Deliver one inbound message (``message`` without from/id/timestamp); returns its wamid."""
    wamid = new_wamid()
    body = {"from": wa_id, "id": wamid, "timestamp": str(int(time.time())), **message}
    if referral is not None:
        body["referral"] = referral
    payload = whatsapp_delivery(
        shop["phone_number_id"], {"contacts": [{"profile": {"name": "Chị Hoa"}, "wa_id": wa_id}], "messages": [body]}
    )
    deliver(shop["api"], shop["aws"], payload)
    return wamid


def says(shop: dict[str, Any], text: str, *, wa_id: str = CUSTOMER) -> str:
    return customer_message(shop, {"type": "text", "text": {"body": text}}, wa_id=wa_id)


def presses(shop: dict[str, Any], button_id: str, title: str = "", *, wa_id: str = CUSTOMER) -> str:
    return customer_message(
        shop,
        {
            "type": "interactive",
            "interactive": {"type": "button_reply", "button_reply": {"id": button_id, "title": title or button_id}},
        },
        wa_id=wa_id,
    )


def sent(shop: dict[str, Any], *, to: str = CUSTOMER) -> list[dict[str, Any]]:
    """The message bodies the Graph simulator received for ``to``, in order."""
    bodies = []
    for request in list(shop["graph"].state.requests):
        body = request.get("body")
        if request["path"].endswith("/messages") and isinstance(body, dict) and body.get("to") == to:
            bodies.append(body)
    return bodies


def sent_texts(shop: dict[str, Any], *, to: str = CUSTOMER) -> list[str]:
    texts = []
    for body in sent(shop, to=to):
        if body.get("type") == "text":
            texts.append(body["text"]["body"])
        elif body.get("type") == "interactive":
            texts.append(body["interactive"]["body"]["text"])
        elif body.get("type") == "template":
            texts.append("template:" + body["template"]["name"])
    return texts


def texts_reach(shop: dict[str, Any], count: int, *, to: str = CUSTOMER, timeout: float = 20.0) -> list[str]:
    return wait_for(
        lambda: (t := sent_texts(shop, to=to)) and len(t) >= count and t,
        timeout=timeout,
        what=f"{count} messages to {to}",
    )


def create_flow(api: ApiClient, body: dict[str, Any], *, activate: bool = True) -> str:
    created = api.post("/flows", json_body=body)
    assert created.status == 201, created.text
    flow_id = str(created.data["flowId"])
    if activate:
        activated = api.post(f"/flows/{flow_id}/activate")
        assert activated.status == 200, activated.text
    return flow_id


def runs_of(flow_id: str) -> list[dict[str, Any]]:
    """How the flow's executions ended (the RUN# records)."""
    table = get_table()
    return table.query_prefix(keys.flow_pk(flow_id), "RUN#", consistent=True)


def ended(flow_id: str, count: int = 1, *, timeout: float = 20.0) -> list[dict[str, Any]]:
    return wait_for(
        lambda: (r := runs_of(flow_id)) and len(r) >= count and r,
        timeout=timeout,
        what=f"{count} executions of {flow_id} to end",
    )


def conversation_of(shop: dict[str, Any], wa_id: str = CUSTOMER) -> dict[str, Any]:
    reply = shop["api"].get("/conversations", query={"shopId": shop["shop_id"], "take": "50"})
    assert reply.status == 200, reply.text
    for item in reply.data["conversations"]:
        if item.get("customer", {}).get("waId") == wa_id or item.get("customerWaId") == wa_id:
            return dict(item)
    raise AssertionError(f"no conversation with {wa_id}: {json.dumps(reply.data)[:500]}")


def stored_conversation(conversation_id: str) -> dict[str, Any]:
    item = get_table().get(keys.conversation_pk(conversation_id), keys.CONVERSATION_SK, consistent=True)
    assert item is not None
    return item


def waiting(conversation_id: str) -> dict[str, Any] | None:
    return (stored_conversation(conversation_id).get("flowRun") or {}).get("wait")


def stats(api: ApiClient, shop_id: str, flow_id: str) -> dict[str, Any]:
    reply = api.get("/flows", query={"shopId": shop_id})
    assert reply.status == 200, reply.text
    return next(dict(f["stats"]) for f in reply.data["flows"] if f["flowId"] == flow_id)


def executions(aws: AwsStack) -> list[dict[str, Any]]:
    client = aws.client("stepfunctions")
    return list(client.list_executions(stateMachineArn=aws.physical["FlowStateMachine"])["executions"])


def customer_tags(shop: dict[str, Any], wa_id: str = CUSTOMER) -> list[str]:
    reply = shop["api"].get(f"/customers/{wa_id}", query={"shopId": shop["shop_id"]})
    assert reply.status == 200, reply.text
    return list(reply.data["tags"])


def executions_of(aws: AwsStack, flow_id: str) -> list[dict[str, Any]]:
    """The state machine's executions of ``flow_id`` (the machine serves every flow and every test of the
    worker), described: status and input."""
    client = aws.client("stepfunctions")
    found = []
    for listed in executions(aws):
        described = client.describe_execution(executionArn=listed["executionArn"])
        if json.loads(described["input"]).get("flowId") == flow_id:
            found.append(described)
    return found
