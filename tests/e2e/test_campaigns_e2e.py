"""Issue 14 end to end on the local stack (what `make dev` runs): a campaign to 200 tagged customers reaches
the Graph simulator exactly once each and its funnel matches. A new shop connects with its WhatsApp Business
Account and syncs its templates; its customers write in signed webhooks (50 messages a delivery), opt in
(the `START` keyword, or `PUT /customers/{waId}/opt-in`) and are tagged over HTTP; a marketing campaign with
a per-customer placeholder is dry-run, launched, paused while it sends, resumed and completed (moto's Step
Functions running the campaign state machine); then Meta's statuses (delivered, read, failed by code) and two
replies, posted signed, make the funnel that `stats.delivery` and the recipients' page report."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from local import devtools
from local.defaults import LOCAL_DEFAULTS
from local.graph_simulator import GraphSimulator
from tests.e2e.conftest import RunningStack, start_stack
from tests.e2e.test_flows_e2e import eventually

pytestmark = pytest.mark.e2e

SHOP_ID, PHONE_NUMBER_ID, WABA_ID = "shop-campaign-e2e", "880000701", "419560000000701"
AUDIENCE = 200
BATCH = 50
# The 200: the first 150 opt in by writing START, the last 50 are opted in by the shop over HTTP.
VIP = [(f"8497{n:07d}", f"Khách {n:03d}") for n in range(AUDIENCE)]
OPTED_IN_BY_KEYWORD = 150
# Customers the campaign must not reach: two vip who wrote STOP, two vip who never opted in (the skipped:
# spring_sale is a marketing template), two opted-in customers without the tag, one vip tagged no-promo.
OPTED_OUT = [("84980000001", "Ngừng 1"), ("84980000002", "Ngừng 2")]
NO_CONSENT = [("84980000003", "Chưa đồng ý 1"), ("84980000004", "Chưa đồng ý 2")]
UNTAGGED = [("84980000005", "Không tag 1"), ("84980000006", "Không tag 2")]
NO_PROMO = [("84980000007", "Không khuyến mãi")]
SPRING_IMAGE = "https://shop.example/spring.jpg"
BILLED = {"billable": True, "pricing_model": "PMP", "category": "marketing", "type": "regular"}


@pytest.fixture(scope="module")
def campaign_stack() -> Iterator[tuple[RunningStack, GraphSimulator]]:
    """A stack of its own: the campaign looks every second (not 30), pages of 100 (three pages of the
    shop's customers), and a rate limit the 250 requests that set the customers up do not reach."""
    simulator = GraphSimulator().start()
    running = start_stack(
        {
            "GRAPH_API_BASE_URL": simulator.url,
            "CAMPAIGN_POLL_SECONDS": "1",
            "CAMPAIGN_PAGE_SIZE": "100",
            "RATE_LIMIT_PER_MINUTE": "100000",
        }
    )
    try:
        yield running, simulator
    finally:
        running.stop()
        simulator.stop()


def post_delivery(stack: RunningStack, changes: list[dict[str, Any]]) -> None:
    """One signed Meta delivery of ``changes`` (``messages`` changes' values) for the shop's number."""
    entry = {
        "id": WABA_ID,
        "changes": [
            {
                "field": "messages",
                "value": {
                    "messaging_product": "whatsapp",
                    "metadata": {"display_phone_number": "15550000701", "phone_number_id": PHONE_NUMBER_ID},
                    **value,
                },
            }
            for value in changes
        ],
    }
    body = json.dumps({"object": "whatsapp_business_account", "entry": [entry]}, ensure_ascii=True).encode()
    secret = stack.env.get("META_APP_SECRET") or LOCAL_DEFAULTS["META_APP_SECRET"]
    assert devtools.post_signed(stack.api, body, secret) == '{"success":true}'


def customers_write(stack: RunningStack, customers: list[tuple[str, str]], text: str) -> None:
    """Each customer writes ``text`` now: one delivery, one change of every message and its contact."""
    now = str(int(time.time()))
    post_delivery(
        stack,
        [
            {
                "contacts": [{"profile": {"name": name}, "wa_id": wa_id} for wa_id, name in customers],
                "messages": [
                    {
                        "from": wa_id,
                        "id": f"wamid.E2E-CAMPAIGN.{wa_id}.{time.time_ns()}",
                        "timestamp": now,
                        "type": "text",
                        "text": {"body": text},
                    }
                    for wa_id, _ in customers
                ],
            }
        ],
    )


def statuses(stack: RunningStack, updates: list[dict[str, Any]]) -> None:
    """Meta's statuses of the campaign's messages, 50 a delivery."""
    for start in range(0, len(updates), BATCH):
        post_delivery(stack, [{"statuses": updates[start : start + BATCH]}])


def status(wamid: str, wa_id: str, state: str, **extra: Any) -> dict[str, Any]:
    return {"id": wamid, "status": state, "timestamp": str(int(time.time())), "recipient_id": wa_id, **extra}


def failure(code: int) -> dict[str, Any]:
    return {"errors": [{"code": code, "title": "t", "message": "m", "error_data": {"details": "d"}}]}


class Api:
    """The shop's side of the stack over HTTP."""

    def __init__(self, stack: RunningStack) -> None:
        self.base = stack.api
        self.headers = {"Authorization": f"Bearer {stack.token(SHOP_ID)}"}
        self.client = httpx.Client(timeout=30)

    def call(self, method: str, path: str, expect: int = 200, **kwargs: Any) -> Any:
        reply = self.client.request(method, f"{self.base}{path}", headers=self.headers, **kwargs)
        assert reply.status_code == expect, f"{method} {path}: {reply.status_code} {reply.text}"
        return reply.json()["data"]

    def campaign(self, campaign_id: str) -> dict[str, Any]:
        return dict(self.call("GET", f"/campaigns/{campaign_id}"))

    def recipients(self, campaign_id: str, state: str | None = None) -> tuple[int, list[dict[str, Any]]]:
        """Every recipient (``state``: of that status), a page of 100 at a time, and the pages' totalCount."""
        found: list[dict[str, Any]] = []
        query = {"take": "100", **({"status": state} if state else {})}
        while True:
            page = self.call("GET", f"/campaigns/{campaign_id}/recipients", params={**query, "skip": len(found)})
            found += page["recipients"]
            if len(found) >= page["totalCount"] or not page["recipients"]:
                return int(page["totalCount"]), found


def template_sends(simulator: GraphSimulator) -> list[dict[str, Any]]:
    """The template messages the simulator accepted for the shop's number, each with the wamid it answered."""
    with simulator.state.lock:
        requests = list(simulator.state.requests)
    return [
        {**request["body"], "wamid": request.get("wamid")}
        for request in requests
        if request["path"].endswith(f"/{PHONE_NUMBER_ID}/messages")
        and isinstance(request["body"], dict)
        and request["body"].get("type") == "template"
    ]


def set_up_customers(stack: RunningStack, api: Api) -> None:
    keyword = VIP[:OPTED_IN_BY_KEYWORD]
    for start in range(0, len(keyword), BATCH):
        customers_write(stack, keyword[start : start + BATCH], "START")
    customers_write(stack, VIP[OPTED_IN_BY_KEYWORD:], "Xin chào shop")
    customers_write(stack, OPTED_OUT, "STOP")
    customers_write(stack, NO_CONSENT, "Shop còn hàng không?")
    customers_write(stack, UNTAGGED + NO_PROMO, "START")
    everyone = len(VIP + OPTED_OUT + NO_CONSENT + UNTAGGED + NO_PROMO)
    eventually(
        lambda: api.call("GET", "/customers", params={"shopId": SHOP_ID, "take": "1"})["totalCount"],
        lambda total: total == everyone,
        seconds=60,
        what=f"{everyone} customers stored",
    )
    shop = {"shopId": SHOP_ID}
    for wa_id, _ in VIP + OPTED_OUT + NO_CONSENT:
        api.call("PUT", f"/customers/{wa_id}/tags", params=shop, json={"addTags": ["vip"]})
    for wa_id, _ in NO_PROMO:
        api.call("PUT", f"/customers/{wa_id}/tags", params=shop, json={"addTags": ["VIP", "No Promo"]})
    for wa_id, _ in VIP[OPTED_IN_BY_KEYWORD:]:
        api.call("PUT", f"/customers/{wa_id}/opt-in", params=shop, json={"status": "opted_in", "source": "web"})
    listed = api.call("GET", "/customers", params={"shopId": SHOP_ID, "tags": "vip", "take": "1"})
    assert listed["totalCount"] == AUDIENCE + len(OPTED_OUT + NO_CONSENT + NO_PROMO)


def test_a_campaign_to_200_tagged_customers_reaches_each_once_and_its_funnel_matches(
    campaign_stack: tuple[RunningStack, GraphSimulator],
) -> None:
    stack, simulator = campaign_stack
    api = Api(stack)
    connected = api.call(
        "POST",
        "/accounts",
        expect=201,
        json={"shopId": SHOP_ID, "phoneNumberId": PHONE_NUMBER_ID, "accessToken": "EAAe2e-token", "wabaId": WABA_ID},
    )
    assert connected["status"] == "active"
    synced = api.call("POST", "/templates/sync", json={"shopId": SHOP_ID})
    assert (synced["wabaId"], synced["complete"]) == (WABA_ID, True)
    spring = api.call("GET", "/templates/spring_sale", params={"shopId": SHOP_ID, "language": "vi"})
    assert (spring["category"], spring["status"]) == ("MARKETING", "APPROVED")
    set_up_customers(stack, api)

    # --- the campaign: created, dry-run, launched, paused while it sends, resumed, completed ---------------
    created = api.call(
        "POST",
        "/campaigns",
        expect=201,
        json={
            "shopId": SHOP_ID,
            "name": "Spring sale e2e",
            "template": {
                "name": "spring_sale",
                "language": "vi",
                "components": [
                    {"type": "header", "parameters": [{"type": "image", "image": {"link": SPRING_IMAGE}}]},
                    {
                        "type": "body",
                        "parameters": [
                            {"type": "text", "text": "{{customer.name|bạn}}"},
                            {"type": "text", "text": "20%"},
                        ],
                    },
                    {
                        "type": "button",
                        "sub_type": "quick_reply",
                        "index": "0",
                        "parameters": [{"type": "payload", "payload": "spring_view"}],
                    },
                ],
            },
            "audience": {"tags": ["vip"], "excludeTags": ["no-promo"]},
        },
    )
    campaign_id = str(created["campaignId"])
    dry_run = api.call("POST", f"/campaigns/{campaign_id}/dry-run")
    assert dry_run["templateCategory"] == "marketing"
    assert (dry_run["audience"], dry_run["wouldReceive"], dry_run["complete"]) == (204, AUDIENCE, True)
    assert dry_run["skipped"] == {
        "total": 4,
        "optedOut": 2,
        "noConsent": 2,
        "invalidParameters": 0,
        "duplicate": 0,
        "notACustomer": 0,
        "excluded": 0,
    }
    assert template_sends(simulator) == []  # a dry run sends nothing

    # Meta answers each send half a second late, so the pause meets the campaign mid-send.
    simulator.state.latency_seconds = 0.5
    assert api.call("POST", f"/campaigns/{campaign_id}/launch")["status"] == "running"
    eventually(lambda: len(template_sends(simulator)), lambda sent: sent >= 20, seconds=30, what="the first sends")
    assert api.call("POST", f"/campaigns/{campaign_id}/pause")["status"] == "paused"
    paused = eventually(
        lambda: api.campaign(campaign_id)["stats"],
        lambda found: found["queued"] == 0 and found["enumerationComplete"],
        seconds=30,
        what="the queue parked",
    )
    assert paused["paused"] > 0, paused
    assert paused["sent"] + paused["paused"] == AUDIENCE
    time.sleep(1)  # nothing is sent while it is paused
    assert len(template_sends(simulator)) == paused["sent"]
    simulator.state.latency_seconds = 0.0

    assert api.call("POST", f"/campaigns/{campaign_id}/resume")["status"] == "running"
    done = eventually(
        lambda: api.campaign(campaign_id),
        lambda found: found["status"] == "completed",
        seconds=120,
        what="the campaign completed",
    )
    assert done["completedAt"]
    assert done["templateCategory"] == "marketing"

    # --- what reached Meta: one send per opted-in vip, named for them, nothing to anyone else -------------
    sends = template_sends(simulator)
    to = Counter(send["to"] for send in sends)
    assert [wa_id for wa_id, count in to.items() if count > 1] == []
    assert sorted(to) == sorted(wa_id for wa_id, _ in VIP)
    names = dict(VIP)
    for send in sends:
        header, body, button = send["template"]["components"]
        assert send["template"]["name"] == "spring_sale"
        assert header["parameters"] == [{"type": "image", "image": {"link": SPRING_IMAGE}}]
        assert [p["text"] for p in body["parameters"]] == [names[send["to"]], "20%"]
        assert button["parameters"] == [{"type": "payload", "payload": "spring_view"}]
    stats = done["stats"]
    assert {name: stats[name] for name in ("targeted", "recipients", "queued", "sent", "failed", "paused")} == {
        "targeted": 204,
        "recipients": 204,
        "queued": 0,
        "sent": AUDIENCE,
        "failed": 0,
        "paused": 0,
    }
    assert (stats["skipped"]["optedOut"], stats["skipped"]["noConsent"], stats["skipped"]["total"]) == (2, 2, 4)
    assert stats["enumerationComplete"]
    assert stats["pages"] >= 3

    # --- Meta's statuses and two replies: the funnel ---------------------------------------------------------
    wamid = {send["to"]: send["wamid"] for send in sends}
    failed = {VIP[0][0]: 131026, VIP[1][0]: 131000, VIP[2][0]: 131049}  # 131049: Meta's marketing limit
    delivered = [wa_id for wa_id, _ in VIP if wa_id not in failed]
    read = delivered[:40]
    statuses(stack, [status(wamid[wa_id], wa_id, "failed", **failure(code)) for wa_id, code in failed.items()])
    statuses(stack, [status(wamid[wa_id], wa_id, "delivered", pricing=BILLED) for wa_id in delivered])
    statuses(stack, [status(wamid[wa_id], wa_id, "delivered", pricing=BILLED) for wa_id in delivered[:BATCH]])
    statuses(stack, [status(wamid[wa_id], wa_id, "read") for wa_id in read])
    eventually(
        lambda: api.campaign(campaign_id)["stats"]["delivery"],
        lambda found: (found["delivered"], found["read"]) == (len(delivered), len(read)),
        seconds=30,
        what="the statuses counted",
    )
    # Replies after the delivery was noted on the customers.
    customers_write(stack, [VIP[3], VIP[4]], "Còn size M không shop?")
    delivery = eventually(
        lambda: api.campaign(campaign_id)["stats"]["delivery"],
        lambda found: found["replied"] == 2,
        seconds=30,
        what="the replies counted",
    )
    assert delivery == {
        "messages": AUDIENCE,
        "sent": AUDIENCE,
        "delivered": 197,
        "read": 40,
        "failed": 2,
        "failedByCode": {"131026": 1, "131000": 1},
        "limitedByMeta": 1,
        "replied": 2,
        "billable": {"marketing": 197},
        "estimatedMetaChargeUsd": 14.4204,  # 197 × 0.0732
    }

    # --- the recipients' page says the same, customer by customer -------------------------------------------
    total, everyone = api.recipients(campaign_id)
    assert total == len(everyone) == 204
    sent_total, sent = api.recipients(campaign_id, "sent")
    assert sent_total == len(sent) == AUDIENCE
    assert {r["waId"] for r in sent} == {wa_id for wa_id, _ in VIP}
    assert Counter(r["messageStatus"] for r in sent) == {"delivered": 157, "read": 40, "failed": 3}
    assert {r["waId"]: r["errorCode"] for r in sent if r["messageStatus"] == "failed"} == failed
    skipped_total, skipped = api.recipients(campaign_id, "skipped")
    assert skipped_total == 4
    assert sorted((r["waId"], r["reason"]) for r in skipped) == sorted(
        [(wa_id, "opted_out") for wa_id, _ in OPTED_OUT] + [(wa_id, "no_consent") for wa_id, _ in NO_CONSENT]
    )
    for state in ("queued", "paused", "failed", "cancelled"):
        assert api.recipients(campaign_id, state)[0] == 0, state
