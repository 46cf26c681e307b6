"""The Graph simulator's ``POST /_simulator/statuses`` (what Meta does with the sends it accepted): Meta's
``statuses`` webhooks, one a send it answered with a wamid, signed with the app secret and posted to the
webhook target, in Meta's envelope (the shape of tests/fixtures/webhooks/status_*.json), ``pricing`` on
``sent`` and ``delivered`` in the sent template's category, ``errors`` on ``failed``; and the service applies
them as Meta's (the message's status, pricing and error)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from local.graph_simulator import DEFAULT_WABA_ID, GraphSimulator
from mkt_whatsapp.inbound import processor
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.whatsapp.signature import is_valid
from mkt_whatsapp.whatsapp.webhook_models import WebhookDelivery
from tests.support import ApiClient, AwsStack, ShopIds, connect_shop, deliver, inbound_text_change, seed_templates

WEBHOOKS = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SECRET = "simulator-test-app-secret"
NUMBER, OTHER_NUMBER = "106540000000801", "106540000000802"
LAN, MINH, HUNG = "84907000001", "84907000002", "84907000003"
AUTH = {"Authorization": "Bearer EAAtest-token"}


class WebhookTarget:
    """A webhook receiver over HTTP, as the local stack's webhooks: records each body and its signature."""

    def __init__(self) -> None:
        self.received: list[tuple[bytes, str]] = []
        self.answer = 200
        self._server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.port}/api/v1/whatsapp/webhooks"

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        self.received.append((request.get_data(), request.headers.get("X-Hub-Signature-256", "")))
        return Response('{"success":true}', status=self.answer, content_type="application/json")(
            environ, start_response
        )

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def target() -> Iterator[WebhookTarget]:
    receiver = WebhookTarget()
    yield receiver
    receiver.stop()


@pytest.fixture
def simulator(target: WebhookTarget) -> Iterator[GraphSimulator]:
    """A simulator of the test's own, whose webhook target is ``target`` (as the local stack sets its own)."""
    graph = GraphSimulator().start()
    httpx.put(f"{graph.url}/_simulator/webhook-target", json={"url": target.url, "appSecret": SECRET})
    yield graph
    graph.stop()


def send(graph: GraphSimulator, to: str, message: dict[str, Any], number: str = NUMBER) -> str:
    """A send as the service makes it; the wamid the simulator answered."""
    reply = httpx.post(
        f"{graph.url}/v23.0/{number}/messages",
        headers=AUTH,
        json={"messaging_product": "whatsapp", "recipient_type": "individual", "to": to, **message},
    )
    assert reply.status_code == 200, reply.text
    return str(reply.json()["messages"][0]["id"])


def template(name: str, language: str = "vi") -> dict[str, Any]:
    return {"type": "template", "template": {"name": name, "language": {"code": language}}}


TEXT = {"type": "text", "text": {"body": "Dạ shop còn hàng ạ!"}}


def statuses(graph: GraphSimulator, expect: int = 200, **spec: Any) -> dict[str, Any]:
    reply = httpx.post(f"{graph.url}/_simulator/statuses", json=spec)
    assert reply.status_code == expect, reply.text
    return dict(reply.json())


def the_status(body: dict[str, Any]) -> dict[str, Any]:
    [entry] = body["entry"]
    [change] = entry["changes"]
    [status] = change["value"]["statuses"]
    return dict(status)


def shape(value: Any) -> Any:
    """The keys of a JSON document, nested (its shape, not its values)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def test_delivered_posts_one_signed_status_webhook_a_send_in_metas_envelope(
    simulator: GraphSimulator, target: WebhookTarget
) -> None:
    marketing = send(simulator, LAN, template("spring_sale"))
    utility = send(simulator, MINH, template("order_update"))
    service = send(simulator, f"+{HUNG}", TEXT)
    mark_as_read = {"messaging_product": "whatsapp", "status": "read", "message_id": "wamid.FROM-LAN"}
    assert httpx.post(f"{simulator.url}/v23.0/{NUMBER}/messages", json=mark_as_read, headers=AUTH).status_code == 200

    answer = statuses(simulator, status="delivered")

    assert answer["postedTo"] == target.url
    assert len(answer["webhooks"]) == len(target.received) == 3
    for (raw, signature), body in zip(target.received, answer["webhooks"], strict=True):
        assert is_valid(raw, signature, SECRET)
        assert json.loads(raw) == body
        WebhookDelivery.model_validate_json(raw)  # the service reads it as Meta's
    bodies = [json.loads(raw) for raw, _ in target.received]
    # Meta's envelope: the fixture of a delivered status, field for field, with pricing beside it (per-message
    # pricing: no conversation object; the BSUID only for a user who has one).
    expected = json.loads((WEBHOOKS / "status_delivered.json").read_text())
    [expected_status] = expected["entry"][0]["changes"][0]["value"]["statuses"]
    del expected_status["recipient_user_id"]
    expected_status["pricing"] = json.loads((WEBHOOKS / "status_sent.json").read_text())["entry"][0]["changes"][0][
        "value"
    ]["statuses"][0]["pricing"]
    assert all(shape(body) == shape(expected) for body in bodies)
    assert {body["entry"][0]["id"] for body in bodies} == {DEFAULT_WABA_ID}
    metadata = bodies[0]["entry"][0]["changes"][0]["value"]["metadata"]
    assert metadata == {"display_phone_number": "15550801", "phone_number_id": NUMBER}
    found = [the_status(body) for body in bodies]
    assert [(s["id"], s["status"], s["recipient_id"]) for s in found] == [
        (marketing, "delivered", LAN),
        (utility, "delivered", MINH),
        (service, "delivered", HUNG),
    ]
    # Billed in the template's category as the catalogue has it; a free-form reply is free service.
    assert [s["pricing"] for s in found] == [
        {"billable": True, "pricing_model": "PMP", "category": "marketing", "type": "regular"},
        {"billable": True, "pricing_model": "PMP", "category": "utility", "type": "regular"},
        {"billable": False, "pricing_model": "PMP", "category": "service", "type": "free_customer_service"},
    ]
    assert all(s["timestamp"].isdigit() for s in found)


def test_read_for_one_customer_and_one_number(simulator: GraphSimulator, target: WebhookTarget) -> None:
    first = send(simulator, LAN, template("promo"))
    send(simulator, MINH, template("promo"))
    send(simulator, LAN, template("promo"), number=OTHER_NUMBER)

    answer = statuses(simulator, status="read", to=[LAN], phoneNumberId=NUMBER)

    [body] = answer["webhooks"]
    assert the_status(body) == {
        "id": first,
        "status": "read",
        "timestamp": the_status(body)["timestamp"],
        "recipient_id": LAN,
    }  # no pricing on a read: Meta priced the message with its sent and delivered
    assert len(target.received) == 1


def test_failed_carries_metas_error(simulator: GraphSimulator) -> None:
    wamid = send(simulator, LAN, template("spring_sale"))
    send(simulator, MINH, template("spring_sale"))

    limited = the_status(statuses(simulator, status="failed", to=[LAN], errorCode=131049)["webhooks"][0])
    undeliverable = the_status(statuses(simulator, status="failed", to=MINH)["webhooks"][0])

    assert (limited["id"], limited["status"]) == (wamid, "failed")
    assert "pricing" not in limited
    expected = json.loads((WEBHOOKS / "status_failed.json").read_text())
    [meta_error] = expected["entry"][0]["changes"][0]["value"]["statuses"][0]["errors"]
    assert [shape(error) for error in limited["errors"]] == [shape(meta_error)]
    assert (limited["errors"][0]["code"], limited["errors"][0]["title"]) == (
        131049,
        "This message was not delivered to maintain healthy ecosystem engagement.",
    )
    assert [error["code"] for error in undeliverable["errors"]] == [131026]  # unless told: undeliverable


def test_the_account_and_the_category_are_the_accounts(simulator: GraphSimulator) -> None:
    httpx.put(f"{simulator.url}/_simulator/phone-numbers/{NUMBER}", json={"wabaId": "4242"})
    simulator.change_template("4242", {"name": "promo", "language": "vi", "category": "UTILITY"})
    send(simulator, LAN, template("promo"))
    send(simulator, MINH, template("not_in_the_catalogue"))

    named = statuses(simulator, status="sent")["webhooks"]
    told = statuses(simulator, status="delivered", wabaId="777", to=[MINH])["webhooks"]

    assert [body["entry"][0]["id"] for body in named] == ["4242", "4242"]
    assert [the_status(body)["pricing"]["category"] for body in named] == ["utility", "marketing"]
    assert [body["entry"][0]["id"] for body in told] == ["777"]


@pytest.mark.parametrize(
    ("spec", "says"),
    [
        ({"status": "deleted"}, "status is one of sent, delivered, read, failed"),
        ({}, "status is one of"),
        ({"status": "failed", "errorCode": "131026"}, "errorCode"),
        ({"status": "read", "to": [84907000001]}, "to is a list of waIds"),
    ],
)
def test_a_spec_it_cannot_play_is_400(
    simulator: GraphSimulator, target: WebhookTarget, spec: dict[str, Any], says: str
) -> None:
    send(simulator, LAN, template("promo"))
    assert says in statuses(simulator, expect=400, **spec)["error"]
    assert target.received == []


def test_nothing_accepted_posts_nothing(simulator: GraphSimulator, target: WebhookTarget) -> None:
    send(simulator, LAN, template("promo"))
    assert statuses(simulator, status="delivered", to=[HUNG]) == {"webhooks": [], "postedTo": target.url}
    assert target.received == []


def test_a_target_that_refuses_is_502(simulator: GraphSimulator, target: WebhookTarget) -> None:
    send(simulator, LAN, template("promo"))
    target.answer = 401
    answer = statuses(simulator, expect=502, status="delivered")
    assert "did not take a status webhook" in answer["error"]
    assert answer["webhooks"] == []


def test_without_a_target_it_answers_the_webhooks_it_would_post() -> None:
    graph = GraphSimulator().start()
    try:
        send(graph, LAN, template("promo"))
        answer = statuses(graph, status="delivered")
    finally:
        graph.stop()
    assert answer["postedTo"] is None
    assert the_status(answer["webhooks"][0])["recipient_id"] == LAN


def test_the_service_applies_the_simulators_statuses_as_metas(
    api: ApiClient, aws: AwsStack, graph: GraphSimulator, shop_ids: ShopIds
) -> None:
    """Templates the shop sent, then the simulator's statuses through the webhook receiver and the inbound
    processor: each message moves as Meta's statuses move it, with Meta's pricing and error kept."""
    connect_shop(api)
    seed_templates(shop_ids.shop_id)
    processor.process_change(inbound_text_change(shop_ids.phone_number_id, LAN, f"wamid.in.{shop_ids.shop_id}"))
    [conversation] = api.get("/conversations", query={"shopId": shop_ids.shop_id}).data["conversations"]

    def send_promo() -> str:
        body = {"content": {"type": "template", "template": {"name": "promo", "language": "vi"}}}
        sent = api.post(f"/conversations/{conversation['id']}/messages", json_body=body)
        assert sent.status == 201, sent.text
        return str(sent.data["messageId"])

    def webhooks(status: str, **spec: Any) -> list[dict[str, Any]]:
        return graph.status_webhooks(status, phone_number_id=shop_ids.phone_number_id, **spec)

    delivered_id = send_promo()
    for body in webhooks("delivered"):
        deliver(api, aws, body)
    failed_id = send_promo()
    for body in webhooks("failed", error_code=131026):  # both: the delivered one stays delivered
        deliver(api, aws, body)

    table = get_table()
    delivered, failed = message_store.get(table, delivered_id), message_store.get(table, failed_id)
    assert delivered is not None
    assert failed is not None
    assert delivered["status"] == "delivered"
    assert delivered["pricing"] == {"billable": True, "pricingModel": "PMP", "category": "marketing", "type": "regular"}
    assert failed["status"] == "failed"
    messages = api.get(f"/conversations/{conversation['id']}").data["messages"]
    [read_back] = [m for m in messages if m["id"] == failed_id]
    assert [error["code"] for error in read_back["errors"]] == [131026]


def test_the_local_stack_serves_its_simulators_controls_on_its_own_port(simulator: GraphSimulator) -> None:
    """``make statuses`` posts to the stack's port: ``/_simulator/…`` is its simulator's, the rest the API's."""
    from werkzeug.test import Client

    from local.stack import SimulatorControls

    def api(environ: dict[str, Any], start_response: Any) -> Any:
        return Response("the API", status=200)(environ, start_response)

    client = Client(SimulatorControls(api, simulator))
    send(simulator, LAN, template("promo"))
    answer = client.post("/_simulator/statuses", json={"status": "delivered"})
    assert answer.status_code == 200
    assert the_status(answer.get_json()["webhooks"][0])["recipient_id"] == LAN
    assert client.get("/_simulator/requests").get_json()["requests"][0]["body"]["to"] == LAN
    assert client.get("/api/v1/whatsapp/health").get_data(as_text=True) == "the API"
