"""Message templates (issue 14, item 1): the shop's WhatsApp Business Account id (given at connect, or learnt
from a webhook), ``POST /templates/sync`` paging through the Graph simulator's list, ``GET /templates`` and
``GET /templates/{name}``, Meta's three template webhooks applied exactly once and in order, the shop guard
on every route, and sends refused before Meta is called when the template is unknown, not approved or given
the wrong parameters."""

from __future__ import annotations

import copy
import json
import math
import time
from pathlib import Path
from typing import Any

import pytest

from local.graph_simulator import DEFAULT_TEMPLATES, Fault, GraphSimulator, template_id, template_webhook
from mkt_whatsapp.inbound import processor, template_events
from mkt_whatsapp.store import business_accounts, get_table, keys
from tests.support import (
    ApiClient,
    AwsStack,
    ShopIds,
    connect_shop,
    deliver,
    inbound_text_change,
    make_token,
    new_shop_ids,
    whatsapp_delivery,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "template_webhooks"
CUSTOMER = "84907771001"


def waba_of(ids: ShopIds) -> str:
    """A WhatsApp Business Account id of the test's own (the simulator keeps one catalogue per account)."""
    return "9" + ids.phone_number_id


@pytest.fixture
def shop(api: ApiClient, graph: GraphSimulator, shop_ids: ShopIds) -> dict[str, Any]:
    connect_shop(api, waba_id=waba_of(shop_ids))
    graph.state.requests.clear()
    return {"api": api, "shop_id": shop_ids.shop_id, "waba": waba_of(shop_ids), "number": shop_ids.phone_number_id}


def sync(shop: dict[str, Any]) -> Any:
    return shop["api"].post("/templates/sync", json_body={"shopId": shop["shop_id"]})


def listed(shop: dict[str, Any], **query: str) -> Any:
    reply = shop["api"].get("/templates", query={"shopId": shop["shop_id"], **query})
    assert reply.status == 200, reply.text
    return reply


def one(shop: dict[str, Any], name: str, language: str = "vi") -> dict[str, Any]:
    reply = shop["api"].get(f"/templates/{name}", query={"shopId": shop["shop_id"], "language": language})
    assert reply.status == 200, reply.text
    return dict(reply.data)


def fixture(name: str, waba: str, at: int, **value: Any) -> dict[str, Any]:
    """One of tests/fixtures/template_webhooks (Meta's shapes) for the test's account, stated at ``at``."""
    body = json.loads((FIXTURES / f"{name}.json").read_text())
    body["entry"][0].update(id=waba, time=at)
    body["entry"][0]["changes"][0]["value"].update(value)
    return body


def unit_of(body: dict[str, Any]) -> dict[str, Any]:
    """The inbound queue's unit for a template webhook, as the receiver makes it."""
    from mkt_whatsapp.inbound.receiver import change_units

    [unit] = change_units(body)
    return unit


def stored(shop: dict[str, Any], name: str, language: str = "vi") -> dict[str, Any] | None:
    return get_table().get(keys.shop_pk(shop["shop_id"]), keys.template_sk(name, language), consistent=True)


def template_requests(graph: GraphSimulator) -> list[dict[str, Any]]:
    return [r for r in graph.state.requests if r["path"].endswith("/message_templates")]


# --- sync and reading ------------------------------------------------------------------------------------


def test_a_sync_reads_every_page_of_metas_list_and_the_list_answers_it(shop: dict[str, Any], graph) -> None:
    reply = sync(shop)

    assert reply.status == 200, reply.text
    count = len(DEFAULT_TEMPLATES)
    assert reply.data == {
        "shopId": shop["shop_id"],
        "wabaId": shop["waba"],
        "templates": count,
        "created": count,
        "changed": 0,
        "deleted": 0,
        "complete": True,
        "syncedAt": reply.data["syncedAt"],
    }
    pages = template_requests(graph)
    assert len(pages) == math.ceil(count / graph.state.template_page_size) > 1  # paged, cursor by cursor
    assert {r["path"] for r in pages} == {f"/v23.0/{shop['waba']}/message_templates"}
    assert all(r["authorization"] == "Bearer EAAtest-token" and r["query"]["limit"] == "100" for r in pages)
    assert "after" not in pages[0]["query"]
    assert all(r["query"]["after"] for r in pages[1:])
    assert {"components", "quality_score", "status", "category"} <= set(pages[0]["query"]["fields"].split(","))

    every = listed(shop, take="100")
    assert every.data["totalCount"] == count
    names = [(t["name"], t["language"]) for t in every.data["templates"]]
    assert names == sorted(names, key=lambda n: f"{n[0]}#{n[1]}")
    assert set(names) == {(t["name"], t["language"]) for t in DEFAULT_TEMPLATES}
    shipped = one(shop, "order_shipped")
    meta = next(t for t in DEFAULT_TEMPLATES if t["name"] == "order_shipped")
    assert shipped == {
        "name": "order_shipped",
        "language": "vi",
        "category": "UTILITY",
        "status": "APPROVED",
        "components": meta["components"],
        "qualityScore": "GREEN",
        "parameterFormat": "POSITIONAL",
        "metaTemplateId": template_id(shop["waba"], "order_shipped", "vi"),
        "rejectedReason": None,
        "syncedAt": reply.data["syncedAt"],
        "updatedAt": reply.data["syncedAt"],
    }
    assert one(shop, "old_offer")["rejectedReason"] == "PROMOTIONAL"


def test_the_list_filters_by_metas_status_and_category_and_pages(shop: dict[str, Any]) -> None:
    assert sync(shop).status == 200
    approved = listed(shop, status="APPROVED", take="100").data
    assert {t["status"] for t in approved["templates"]} == {"APPROVED"}
    assert approved["totalCount"] == sum(t["status"] == "APPROVED" for t in DEFAULT_TEMPLATES)
    authentication = listed(shop, category="AUTHENTICATION").data["templates"]
    assert [t["name"] for t in authentication] == ["login_code"]
    assert listed(shop, status="PENDING", category="MARKETING").data["templates"][0]["name"] == "summer_promo"
    page = listed(shop, skip="10", take="5")
    assert len(page.data["templates"]) == len(DEFAULT_TEMPLATES) - 10
    assert page.json["pagination"] == {"page": 3, "limit": 5, "total": len(DEFAULT_TEMPLATES), "totalPages": 3}
    wrong = shop["api"].get("/templates", query={"shopId": shop["shop_id"], "status": "approved"})
    assert (wrong.status, wrong.field) == (400, "status")


def test_a_template_is_one_name_in_one_language(shop: dict[str, Any]) -> None:
    assert sync(shop).status == 200
    assert one(shop, "order_update", "en_US")["components"][0]["text"].startswith("Your order")
    missing = shop["api"].get("/templates/order_update", query={"shopId": shop["shop_id"], "language": "fr"})
    assert (missing.status, missing.code, missing.field) == (404, "TEMPLATE_NOT_FOUND", "name")
    unnamed = shop["api"].get("/templates/order_update", query={"shopId": shop["shop_id"]})
    assert (unnamed.status, unnamed.code, unnamed.field) == (400, "REQUIRED_FIELD", "language")


def test_a_second_sync_keeps_what_meta_changed_and_marks_what_meta_deleted(shop: dict[str, Any], graph) -> None:
    assert sync(shop).status == 200
    with graph.state.lock:
        catalogue = graph.state.templates_of(shop["waba"])
        catalogue[:] = [t for t in catalogue if t["name"] != "promo"]
        paused = next(t for t in catalogue if t["name"] == "flash_sale")
        paused.update(status="PAUSED", quality_score={"score": "RED"})

    again = sync(shop)

    assert (again.data["created"], again.data["changed"], again.data["deleted"]) == (0, 1, 1)
    assert (one(shop, "flash_sale")["status"], one(shop, "flash_sale")["qualityScore"]) == ("PAUSED", "RED")
    assert one(shop, "promo")["status"] == "DELETED"  # kept: sent messages name it; a send says it was deleted
    assert listed(shop, status="DELETED").data["totalCount"] == 1
    third = sync(shop)
    assert (third.data["created"], third.data["changed"], third.data["deleted"]) == (0, 0, 0)


def test_a_sync_needs_a_connected_account_whose_waba_id_is_known(api: ApiClient, shop_ids: ShopIds) -> None:
    connect_shop(api)  # no wabaId, and no webhook has arrived for the number
    unknown = api.post("/templates/sync", json_body={"shopId": shop_ids.shop_id})
    assert (unknown.status, unknown.code, unknown.field) == (409, "WABA_ID_UNKNOWN", "wabaId")
    other = new_shop_ids().shop_id
    api.token = make_token([other])
    missing = api.post("/templates/sync", json_body={"shopId": other})
    assert (missing.status, missing.code) == (404, "ACCOUNT_NOT_FOUND")
    assert api.post("/templates/sync", json_body={}).field == "shopId"


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        (
            Fault(
                "/message_templates", 401, {"error": {"message": "Expired", "type": "OAuthException", "code": 190}}, 1
            ),
            422,
            "INVALID_ACCESS_TOKEN",
        ),
        (
            Fault("/message_templates", 400, {"error": {"message": "No such object", "code": 100}}, 1),
            422,
            "WABA_NOT_FOUND",
        ),
        (Fault("/message_templates", 503, {"error": {"message": "down"}}, 1), 502, "GRAPH_API_UNAVAILABLE"),
    ],
    ids=["token", "account", "outage"],
)
def test_metas_refusals_are_answered_and_nothing_is_stored(shop: dict[str, Any], graph, fault, status, code) -> None:
    graph.state.faults.append(copy.copy(fault))
    reply = sync(shop)
    assert (reply.status, reply.code) == (status, code), reply.text
    assert listed(shop).data["totalCount"] == 0


def test_the_shop_guard_stands_on_every_template_route(shop: dict[str, Any], graph) -> None:
    api, shop_id = shop["api"], shop["shop_id"]
    other = make_token(["someone-else"])
    for reply in (
        api.get("/templates", query={"shopId": shop_id}, token=other),
        api.get("/templates/order_update", query={"shopId": shop_id, "language": "vi"}, token=other),
        api.post("/templates/sync", json_body={"shopId": shop_id}, token=other),
    ):
        assert (reply.status, reply.code, reply.field) == (403, "SHOP_ACCESS_DENIED", "shopId"), reply.text
    assert template_requests(graph) == []  # refused before Meta is asked


# --- the WhatsApp Business Account id ----------------------------------------------------------------------


def test_connect_takes_an_optional_waba_id_and_disconnect_drops_its_pointer(api: ApiClient, shop_ids: ShopIds) -> None:
    waba = waba_of(shop_ids)
    bad = api.as_shops(shop_ids.shop_id).post(
        "/accounts",
        json_body={
            "shopId": shop_ids.shop_id,
            "phoneNumberId": shop_ids.phone_number_id,
            "accessToken": "EAAx",
            "wabaId": "WABA-1",
        },
    )
    assert (bad.status, bad.field, bad.code) == (400, "wabaId", "INVALID_FORMAT")
    connect_shop(api, waba_id=waba)
    assert api.get(f"/accounts/{shop_ids.shop_id}").data["wabaId"] == waba
    assert business_accounts.shops_of(get_table(), waba) == [shop_ids.shop_id]
    assert api.delete(f"/accounts/{shop_ids.shop_id}").status == 200
    assert business_accounts.shops_of(get_table(), waba) == []
    connect_shop(api)  # the same number again, without wabaId: the account keeps the one it knew
    assert api.get(f"/accounts/{shop_ids.shop_id}").data["wabaId"] == waba
    assert business_accounts.shops_of(get_table(), waba) == [shop_ids.shop_id]


def test_a_messages_webhook_tells_an_account_its_waba_id_once(api: ApiClient, aws: AwsStack, shop_ids: ShopIds) -> None:
    connect_shop(api)
    assert api.get(f"/accounts/{shop_ids.shop_id}").data["wabaId"] is None
    waba = waba_of(shop_ids)
    change = inbound_text_change(shop_ids.phone_number_id, CUSTOMER, "wamid.waba.1")["value"]
    message = whatsapp_delivery(shop_ids.phone_number_id, change)
    message["entry"][0]["id"] = waba
    deliver(api, aws, message)

    assert api.get(f"/accounts/{shop_ids.shop_id}").data["wabaId"] == waba
    assert business_accounts.shops_of(get_table(), waba) == [shop_ids.shop_id]
    assert api.post("/templates/sync", json_body={"shopId": shop_ids.shop_id}).status == 200
    # Another account named later changes nothing (it is logged): the first one stands.
    message["entry"][0]["id"] = "123"
    message["entry"][0]["changes"][0]["value"]["messages"][0]["id"] = "wamid.waba.2"
    deliver(api, aws, message)
    assert api.get(f"/accounts/{shop_ids.shop_id}").data["wabaId"] == waba


# --- Meta's template webhooks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "template", "field", "value"),
    [
        ("status_paused", "spring_sale", "status", "PAUSED"),
        ("quality_update", "spring_sale", "qualityScore", "YELLOW"),
        ("category_update_completed", "order_update", "category", "MARKETING"),
    ],
)
def test_each_template_webhook_is_applied_once_however_often_it_is_delivered(
    shop: dict[str, Any], aws: AwsStack, name: str, template: str, field: str, value: str
) -> None:
    assert sync(shop).status == 200
    before = one(shop, template)
    body = fixture(name, shop["waba"], int(time.time()) + 5)

    deliver(shop["api"], aws, body)

    after = one(shop, template)
    assert after[field] == value != before[field]
    assert {k: v for k, v in after.items() if k not in (field, "updatedAt")} == {
        k: v for k, v in before.items() if k not in (field, "updatedAt")
    }
    item = stored(shop, template)
    deliver(shop["api"], aws, body)  # Meta's redelivery
    assert stored(shop, template) == item  # not one attribute written again
    assert template_events.apply_change(unit_of(body)) == 0  # the inbound queue's own redelivery


def test_a_late_event_cannot_undo_a_newer_one_and_a_sync_cannot_undo_a_later_webhook(shop: dict[str, Any]) -> None:
    assert sync(shop).status == 200
    now = int(time.time())
    approved = fixture("status_approved", shop["waba"], now + 20)
    paused_earlier = fixture("status_paused", shop["waba"], now + 10)
    assert template_events.apply_change(unit_of(fixture("status_paused", shop["waba"], now + 5))) == 1
    assert template_events.apply_change(unit_of(approved)) == 1
    assert template_events.apply_change(unit_of(paused_earlier)) == 0  # Meta's retry of an older event, late
    assert one(shop, "spring_sale")["status"] == "APPROVED"
    # Two events of one second: both applied, in their order of arrival; each of them once.
    assert template_events.apply_change(unit_of(fixture("status_paused", shop["waba"], now + 20))) == 1
    assert template_events.apply_change(unit_of(approved)) == 0
    assert one(shop, "spring_sale")["status"] == "PAUSED"
    # A webhook stated after the sync began is not undone by it; the sync still writes everything else.
    late_quality = fixture("quality_update", shop["waba"], now + 60, new_quality_score="RED")
    assert template_events.apply_change(unit_of(late_quality)) == 1
    assert sync(shop).status == 200
    kept = one(shop, "spring_sale")
    assert (kept["status"], kept["qualityScore"], kept["category"]) == ("PAUSED", "RED", "MARKETING")


def test_a_webhook_for_a_template_never_synced_keeps_what_it_names(shop: dict[str, Any], aws: AwsStack) -> None:
    now = int(time.time())
    deliver(shop["api"], aws, fixture("status_rejected_invalid_format", shop["waba"], now))
    rejected = one(shop, "abandoned_cart", "en")
    assert {k: rejected[k] for k in ("status", "category", "rejectedReason", "metaTemplateId", "components")} == {
        "status": "REJECTED",
        "category": "MARKETING",
        "rejectedReason": "INVALID_FORMAT",
        "metaTemplateId": "1689556908129835",
        "components": [],
    }
    deliver(
        shop["api"],
        aws,
        fixture(
            "category_update_impending",
            shop["waba"],
            now,
            message_template_language="en",
            message_template_name="abandoned_cart",
        ),
    )
    assert one(shop, "abandoned_cart", "en")["category"] == "UTILITY"  # new_category: the category now


def test_events_that_name_no_status_or_no_known_account_change_nothing(shop: dict[str, Any]) -> None:
    assert sync(shop).status == 200
    item = stored(shop, "spring_sale")
    assert template_events.apply_change(unit_of(fixture("status_flagged", shop["waba"], int(time.time()) + 5))) == 0
    assert stored(shop, "spring_sale") == item
    assert template_events.apply_change(unit_of(fixture("status_paused", "555000111", int(time.time()) + 5))) == 0
    assert stored(shop, "spring_sale") == item


def test_every_shop_of_a_waba_gets_its_template_changes(api: ApiClient, shop_ids: ShopIds) -> None:
    waba = waba_of(shop_ids)
    connect_shop(api, waba_id=waba)
    second = new_shop_ids()
    connect_shop(api, second.shop_id, second.phone_number_id, waba_id=waba)
    body = template_webhook(
        waba, "message_template_status_update", {"name": "promo", "language": "vi"}, event="APPROVED"
    )
    assert template_events.apply_change(unit_of(body)) == 2
    for shop_id in (shop_ids.shop_id, second.shop_id):
        reply = api.get("/templates/promo", query={"shopId": shop_id, "language": "vi"}, token=make_token([shop_id]))
        assert reply.data["status"] == "APPROVED", reply.text


def test_the_simulator_posts_the_webhooks_of_a_change_it_makes(graph: GraphSimulator) -> None:
    """What the local stack's ``POST /_simulator/templates/{waba}`` does (its webhook target is the stack's
    webhooks; none here): the catalogue changes, and each change's webhook is in Meta's shape."""
    bodies = graph.change_template(
        "4242", {"name": "flash_sale", "language": "vi", "status": "PAUSED", "qualityScore": "RED"}
    )
    assert [b["entry"][0]["changes"][0]["field"] for b in bodies] == [
        "message_template_status_update",
        "message_template_quality_update",
    ]
    status, quality = (b["entry"][0]["changes"][0]["value"] for b in bodies)
    assert (status["event"], status["message_template_name"], status["message_template_category"]) == (
        "PAUSED",
        "flash_sale",
        "MARKETING",
    )
    assert (quality["previous_quality_score"], quality["new_quality_score"]) == ("GREEN", "RED")
    with graph.state.lock:
        changed = next(t for t in graph.state.templates_of("4242") if t["name"] == "flash_sale")
    assert changed["status"] == "PAUSED"


# --- the send refusal ---------------------------------------------------------------------------------------


@pytest.fixture
def conversation(shop: dict[str, Any]) -> str:
    assert sync(shop).status == 200
    processor.process_change(inbound_text_change(shop["number"], CUSTOMER, f"wamid.tpl.{time.time_ns()}"))
    [found] = shop["api"].get("/conversations", query={"shopId": shop["shop_id"]}).data["conversations"]
    return str(found["id"])


def send(shop: dict[str, Any], conversation: str, template: dict[str, Any]) -> Any:
    body = {"content": {"type": "template", "template": {"language": "vi", **template}}}
    return shop["api"].post(f"/conversations/{conversation}/messages", json_body=body)


def sends(graph: GraphSimulator) -> list[dict[str, Any]]:
    return [r for r in graph.state.requests if r["path"].endswith("/messages")]


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


HEADER = {"type": "header", "parameters": [text("#1042")]}
BODY = {"type": "body", "parameters": [text("An"), text("#1042"), text("GHN")]}
URL_BUTTON = {"type": "button", "sub_type": "url", "index": "0", "parameters": [text("1042")]}


@pytest.mark.parametrize(
    ("template", "code", "field", "says"),
    [
        (
            {"name": "no_such_template"},
            "UNKNOWN_TEMPLATE",
            "content.template.name",
            "no template no_such_template in vi",
        ),
        ({"name": "order_update", "language": "fr"}, "UNKNOWN_TEMPLATE", "content.template.name", "in fr"),
        ({"name": "summer_promo"}, "TEMPLATE_NOT_APPROVED", "content.template.name", "is PENDING at Meta"),
        ({"name": "old_offer"}, "TEMPLATE_NOT_APPROVED", "content.template.name", "is REJECTED at Meta"),
        (
            {
                "name": "order_shipped",
                "components": [HEADER, {"type": "body", "parameters": [text("An"), text("#1")]}, URL_BUTTON],
            },
            "TEMPLATE_PARAMETERS_MISMATCH",
            "content.template.components[1]",
            "body expects 3 parameters, got 2",
        ),
        (
            {"name": "order_shipped", "components": [HEADER, BODY]},
            "TEMPLATE_PARAMETERS_MISMATCH",
            "content.template.components",
            "button 0 (URL) expects 1 parameter, got 0",
        ),
        (
            {"name": "order_update", "components": [{"type": "body", "parameters": [text("x")]}]},
            "TEMPLATE_PARAMETERS_MISMATCH",
            "content.template.components[0]",
            "body expects 0 parameters, got 1",
        ),
    ],
    ids=["unknown", "other-language", "pending", "rejected", "body-short", "button-missing", "body-extra"],
)
def test_a_template_send_is_refused_before_meta_is_called(
    shop: dict[str, Any], conversation: str, graph, template: dict[str, Any], code: str, field: str, says: str
) -> None:
    graph.state.requests.clear()
    reply = send(shop, conversation, template)
    assert (reply.status, reply.code, reply.field) == (422, code, field), reply.text
    assert says in reply.json["error"]
    assert sends(graph) == []
    assert shop["api"].get(f"/conversations/{conversation}").data["messageCount"] == 1  # the customer's only


def test_a_template_with_every_parameter_in_place_is_sent(shop: dict[str, Any], conversation: str, graph) -> None:
    graph.state.requests.clear()
    reply = send(shop, conversation, {"name": "order_shipped", "components": [HEADER, BODY, URL_BUTTON]})
    assert (reply.status, reply.data["status"]) == (201, "sent"), reply.text
    [request] = sends(graph)
    assert request["body"]["template"]["components"] == [HEADER, BODY, URL_BUTTON]


def test_what_metas_webhooks_say_decides_the_next_send(shop: dict[str, Any], conversation: str, aws: AwsStack) -> None:
    now = int(time.time())
    paused = template_webhook(
        shop["waba"], "message_template_status_update", {"name": "sale", "language": "vi"}, event="PAUSED", at=now + 5
    )
    deliver(shop["api"], aws, paused)
    refused = send(shop, conversation, {"name": "sale"})
    assert (refused.status, refused.code) == (422, "TEMPLATE_NOT_APPROVED")
    reinstated = template_webhook(
        shop["waba"],
        "message_template_status_update",
        {"name": "sale", "language": "vi"},
        event="REINSTATED",
        at=now + 6,
    )
    deliver(shop["api"], aws, reinstated)
    assert send(shop, conversation, {"name": "sale"}).status == 201
    # Meta moved the template to marketing: an opted-out customer no longer gets it, whatever the request says.
    opt_out = {"status": "opted_out", "source": "web"}
    assert (
        shop["api"].put(f"/customers/{CUSTOMER}/opt-in", query={"shopId": shop["shop_id"]}, json_body=opt_out).status
        == 200
    )
    recategorised = template_webhook(
        shop["waba"],
        "template_category_update",
        {"name": "sale", "language": "vi"},
        previous_category="UTILITY",
        new_category="MARKETING",
        at=now + 7,
    )
    deliver(shop["api"], aws, recategorised)
    refused = send(shop, conversation, {"name": "sale", "category": "utility"})
    assert (refused.status, refused.code) == (422, "CUSTOMER_OPTED_OUT")


def test_the_sync_path_is_the_syncs_not_a_template_named_sync(shop: dict[str, Any]) -> None:
    """``/templates/sync`` matches ``GET /templates/{name}`` too (API Gateway routes it there): the concrete
    path names the sync, as the OpenAPI document matches paths, so GET there is 405 listing POST."""
    from mkt_whatsapp.http.routes import methods_allowed_for

    assert methods_allowed_for("/api/v1/whatsapp/templates/sync") == ["POST"]
    assert methods_allowed_for("/api/v1/whatsapp/templates/order_update") == ["GET", "HEAD"]
    for method in ("GET", "HEAD"):
        reply = shop["api"].request(method, "/templates/sync", query={"shopId": shop["shop_id"], "language": "vi"})
        assert (reply.status, reply.headers["Allow"]) == (405, "POST"), reply.text
    assert shop["api"].get("/templates/sync").code == "METHOD_NOT_ALLOWED"
    options = shop["api"].request("OPTIONS", "/templates/sync")
    assert (options.status, options.headers["Allow"]) == (405, "POST")
