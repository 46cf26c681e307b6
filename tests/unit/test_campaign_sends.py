"""Campaigns sent (issue 14, item 3): the campaign state machine (statemachines/campaign.asl.json, run by moto,
its steps by the in-process runner) enumerates the audience a page at a time and enqueues it; the sender
(drained here as its event source mapping would) sends each recipient once through the send rules, at the
number's rate and the tier's limit; pause, resume and cancel take effect for what is not sent; quiet hours in
Asia/Ho_Chi_Minh; a scheduled launch; a template paused by Meta, or the account needing action, pauses the
campaign. Exactly once under a fan-out retry, a sender crash mid-batch, a recipient enqueued twice, a send's
retry meeting a pause or a cancel, and a record the queue lost or dead-lettered (found again by the runner)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mkt_whatsapp.store import get_table, keys
from tests.support import (
    ApiClient,
    AwsStack,
    drain,
    drain_inbound,
    inbound_text_change,
    post_webhook,
    reset_caches,
    whatsapp_delivery,
)
from tests.unit.campaign_helpers import (
    add_customer,
    campaign_body,
    create,
    current,
    detail,
    recipients,
    send_until,
    sender_batch,
    status_is,
    template_sends,
    wait_for,
)

CUSTOMERS = [(f"8491000000{n}", name) for n, name in enumerate(["An", "Bình", "Chi", "Dũng", "Em"])]


@pytest.fixture
def shop(api: ApiClient, aws: AwsStack, graph: Any, shop_ids: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A shop with its number and WhatsApp Business Account connected, the campaign templates approved, five
    opted-in vip customers (no open conversation), one opted out, one excluded; pages of two, polls of 1 s."""
    from tests.support import connect_shop, make_token
    from tests.unit.campaign_helpers import seed

    waba = "9" + shop_ids.phone_number_id
    connect_shop(api, waba_id=waba)
    api.token = make_token([shop_ids.shop_id])
    seed(shop_ids.shop_id)
    for wa_id, name in CUSTOMERS:
        add_customer(shop_ids.shop_id, wa_id, name=name, tags=["vip"])
    add_customer(shop_ids.shop_id, "84910000098", name="Giang", tags=["vip"], consent="opted_out")
    add_customer(shop_ids.shop_id, "84910000099", name="Hà", tags=["vip", "no-promo"])
    monkeypatch.setenv("CAMPAIGN_PAGE_SIZE", "2")
    monkeypatch.setenv("CAMPAIGN_POLL_SECONDS", "1")
    reset_caches()
    graph.state.requests.clear()
    return {
        "api": api,
        "aws": aws,
        "graph": graph,
        "shop_id": shop_ids.shop_id,
        "waba": waba,
        "phone_number_id": shop_ids.phone_number_id,
    }


def launch(shop: dict[str, Any], **changes: Any) -> str:
    campaign_id = create(shop["api"], campaign_body(shop["shop_id"], **changes))
    reply = shop["api"].post(f"/campaigns/{campaign_id}/launch")
    assert reply.status == 200, reply.text
    return campaign_id


def enumerated(shop: dict[str, Any], campaign_id: str) -> dict[str, Any]:
    """The campaign once its audience is enumerated (nothing sent: the queue is not drained)."""
    return wait_for(
        lambda: (d := current(campaign_id))["stats"]["enumerationComplete"] and d,
        what="the audience's enumeration",
    )


def sent_once_each(shop: dict[str, Any]) -> list[str]:
    """Who got the campaign's template; every customer at most once."""
    to = [body["to"] for body in template_sends(shop["graph"])]
    assert len(to) == len(set(to)), f"a customer got the campaign twice: {to}"
    return sorted(to)


EVERYONE = sorted(wa_id for wa_id, _ in CUSTOMERS)


# --- launch, fan-out, send ------------------------------------------------------------------------------


def test_a_launch_enumerates_the_audience_in_pages_and_sends_each_customer_once(shop: dict[str, Any]) -> None:
    api = shop["api"]
    campaign_id = launch(shop)
    send_until(shop["aws"], status_is(campaign_id, "completed"))

    assert sent_once_each(shop) == EVERYONE
    sends = template_sends(shop["graph"])
    names = {body["to"]: body["template"]["components"][0]["parameters"][0]["text"] for body in sends}
    assert names == {wa_id: name for wa_id, name in CUSTOMERS}
    stats = detail(api, campaign_id)["stats"]
    # Seven customers in the index, two a page (the excluded one is read and filtered out by DynamoDB).
    assert (stats["recipients"], stats["sent"], stats["queued"], stats["pages"]) == (6, 5, 0, 4)
    assert stats["skipped"]["optedOut"] == 1
    assert stats["enumerationComplete"] is True
    assert detail(api, campaign_id)["completedAt"]

    # Each message is in the customer's conversation (opened for it: theirs was closed), says its campaign.
    conversations = api.get("/conversations", query={"shopId": shop["shop_id"]}).data["conversations"]
    assert sorted(c["customerWaId"] for c in conversations) == EVERYONE
    conversation = api.get(f"/conversations/{conversations[0]['id']}").data
    [message] = conversation["messages"]
    assert (message["sentBy"], message["status"]) == (f"campaign:{campaign_id}", "sent")
    stored = get_table().get(keys.message_pk(message["id"]), keys.MESSAGE_SK)
    assert stored is not None
    assert stored["campaignId"] == campaign_id
    assert {r["status"] for r in recipients(campaign_id).values()} == {"sent", "skipped"}


def status_webhook(shop: dict[str, Any], wamid: str, wa_id: str, status: str, at: int, **more: Any) -> dict[str, Any]:
    entry = {"id": wamid, "status": status, "timestamp": str(at), "recipient_id": wa_id, **more}
    return whatsapp_delivery(shop["phone_number_id"], {"statuses": [entry]})


def customer_text(shop: dict[str, Any], wamid: str, wa_id: str, text: str, at: int) -> dict[str, Any]:
    change = inbound_text_change(shop["phone_number_id"], wa_id, wamid, at=at, body=text, name="An")
    return whatsapp_delivery(shop["phone_number_id"], change["value"])


def test_the_stats_funnel_follows_metas_statuses_and_the_customers_replies(shop: dict[str, Any]) -> None:
    """Meta's side of the funnel, counted from the table's stream: sent, then a delivery (twice: once
    counted), a read, a failure by code, 131049 as limited, billable by category, and a reply."""
    from tests.support import deliver, drain_stats

    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    send_until(aws, status_is(campaign_id, "completed"))
    sent = {
        r["waId"]: get_table().get(keys.message_pk(r["messageId"]), keys.MESSAGE_SK)
        for r in recipients(campaign_id).values()
        if r.get("waId") and r["status"] == "sent"
    }
    assert sorted(sent) == EVERYONE
    now = int(datetime.now(UTC).timestamp())
    pricing = {"pricing": {"billable": True, "pricing_model": "PMP", "category": "marketing", "type": "regular"}}
    an, binh, chi, dung = (sent[wa_id]["whatsAppMessageId"] for wa_id in EVERYONE[:4])
    for payload in (
        status_webhook(shop, an, EVERYONE[0], "delivered", now + 1, **pricing),
        status_webhook(shop, an, EVERYONE[0], "delivered", now + 1, **pricing),  # Meta delivers it again
        status_webhook(shop, binh, EVERYONE[1], "read", now + 2, **pricing),  # read, its delivered never came
        status_webhook(shop, chi, EVERYONE[2], "failed", now + 3, errors=[{"code": 131049, "title": "limited"}]),
        status_webhook(shop, dung, EVERYONE[3], "failed", now + 3, errors=[{"code": 131026, "title": "undeliverable"}]),
        customer_text(shop, "wamid.REPLY-1", EVERYONE[0], "Còn hàng không shop?", now + 60),
        customer_text(shop, "wamid.REPLY-2", EVERYONE[0], "Mình lấy 2 cái", now + 90),  # the same delivery: once
    ):
        deliver(api, aws, payload)
    drain_stats(aws)
    assert detail(api, campaign_id)["stats"]["delivery"] == {
        "messages": 5,
        "sent": 5,
        "delivered": 2,
        "read": 1,
        "failed": 1,
        "failedByCode": {"131026": 1},
        "limitedByMeta": 1,
        "replied": 1,
        "billable": {"marketing": 2},
        "estimatedMetaChargeUsd": 0.1464,
    }

    # Each recipient's outcome, paged: what the campaign did and what Meta did with its message.
    sent_page = api.get(f"/campaigns/{campaign_id}/recipients", query={"status": "sent", "take": "3"})
    assert sent_page.status == 200, sent_page.text
    assert (sent_page.data["totalCount"], len(sent_page.data["recipients"])) == (5, 3)
    rest = api.get(f"/campaigns/{campaign_id}/recipients", query={"status": "sent", "skip": "3", "take": "3"})
    outcomes = {
        r["waId"]: (r["messageStatus"], r["errorCode"]) for r in sent_page.data["recipients"] + rest.data["recipients"]
    }
    assert outcomes == {
        EVERYONE[0]: ("delivered", None),
        EVERYONE[1]: ("read", None),
        EVERYONE[2]: ("failed", 131049),
        EVERYONE[3]: ("failed", 131026),
        EVERYONE[4]: ("sent", None),
    }
    everyone = api.get(f"/campaigns/{campaign_id}/recipients").data
    assert everyone["totalCount"] == 6
    [skipped] = [r for r in everyone["recipients"] if r["status"] == "skipped"]
    assert (skipped["reason"], skipped["messageId"], skipped["messageStatus"]) == ("opted_out", None, None)


@pytest.mark.parametrize("crash", ["before the queue", "after the queue"])
def test_a_fan_out_step_killed_mid_page_and_retried_neither_skips_nor_doubles_a_recipient(
    shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch, crash: str
) -> None:
    """The step dies after it put a page's recipients, before or after it enqueued them, and before it
    committed the page: Step Functions retries the step, which meets its own recipients and enqueues them
    again (the sender sends each once)."""
    from mkt_whatsapp.campaigns import fanout

    real_enqueue, calls = fanout.enqueue, {"n": 0}

    def dying_enqueue(campaign: Any, queued: Any) -> int:
        calls["n"] += 1
        if calls["n"] == 2:  # the second page
            if crash == "after the queue":
                real_enqueue(campaign, queued)
            raise RuntimeError("the Lambda was killed mid-page")
        return real_enqueue(campaign, queued)

    monkeypatch.setattr(fanout, "enqueue", dying_enqueue)
    api = shop["api"]
    campaign_id = launch(shop)
    send_until(shop["aws"], status_is(campaign_id, "completed"))
    assert calls["n"] >= 4  # the retried page enqueued again
    assert sent_once_each(shop) == EVERYONE
    stats = detail(api, campaign_id)["stats"]
    assert (stats["recipients"], stats["sent"], stats["pages"]) == (6, 5, 4)


def test_a_recipient_enqueued_twice_is_sent_once(shop: dict[str, Any]) -> None:
    from mkt_whatsapp.campaigns import fanout
    from mkt_whatsapp.store import campaigns as campaign_store

    api = shop["api"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)
    campaign = campaign_store.get(get_table(), campaign_id)
    assert campaign is not None
    fanout.enqueue(campaign, [r for r in recipients(campaign_id).values() if r["status"] == "queued"])
    send_until(shop["aws"], status_is(campaign_id, "completed"))
    assert sent_once_each(shop) == EVERYONE
    assert detail(api, campaign_id)["stats"]["sent"] == 5


def test_a_sender_crashing_mid_batch_neither_skips_nor_doubles_a_recipient(
    shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender receives the five records, sends two, and dies in the third after Meta accepted it and the
    message was recorded sent, before its recipient was: SQS delivers the whole batch again. The two are
    not sent again, the third is settled from its message, the last two are sent once."""
    from mkt_whatsapp.campaigns import sending
    from mkt_whatsapp.store import campaigns as campaign_store

    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)
    sqs = aws.client("sqs")
    received = sqs.receive_message(QueueUrl=aws.physical["OutboundQueue"], MaxNumberOfMessages=10, VisibilityTimeout=2)[
        "Messages"
    ]
    bodies = [json.loads(message["Body"]) for message in received]
    assert len(bodies) == 5
    sending.prepare(bodies)
    for body in bodies[:2]:
        assert sending.send_record(body, 1, "crashed", None) == "sent"
    real_settle = campaign_store.settle_recipient

    def dies(*args: Any, **kwargs: Any) -> bool:
        raise SystemExit("the sender died")

    monkeypatch.setattr(campaign_store, "settle_recipient", dies)
    with pytest.raises(SystemExit):
        sending.send_record(bodies[2], 1, "crashed", None)
    monkeypatch.setattr(campaign_store, "settle_recipient", real_settle)
    assert len(template_sends(shop["graph"])) == 3
    assert recipients(campaign_id)[bodies[2]["customerKey"]]["status"] == "queued"  # not recorded: it died

    send_until(aws, status_is(campaign_id, "completed"))  # the batch comes back after its visibility
    assert sent_once_each(shop) == EVERYONE
    assert detail(api, campaign_id)["stats"]["sent"] == 5


# --- pause, resume, cancel ------------------------------------------------------------------------------


def senders_see_it() -> None:
    """A sender reads a campaign's status at most every STATUS_SECONDS: a pause reaches it within them."""
    import time

    from mkt_whatsapp.campaigns import sending

    time.sleep(sending.STATUS_SECONDS + 0.1)


def test_pause_mid_send_parks_what_is_not_sent_and_resume_sends_it_once(shop: dict[str, Any]) -> None:
    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)
    assert sender_batch(aws, 2) == 2  # two sent before the pause
    assert api.post(f"/campaigns/{campaign_id}/pause").status == 200
    senders_see_it()
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)  # the sender meets the rest: parked
    stats = detail(api, campaign_id)["stats"]
    assert (stats["sent"], stats["paused"], stats["queued"]) == (2, 3, 0)
    assert len(template_sends(shop["graph"])) == 2

    assert api.post(f"/campaigns/{campaign_id}/resume").status == 200
    send_until(aws, status_is(campaign_id, "completed"))
    assert sent_once_each(shop) == EVERYONE
    stats = detail(api, campaign_id)["stats"]
    assert (stats["sent"], stats["paused"]) == (5, 0)


def test_a_pause_during_the_enumeration_stops_it_and_resume_goes_on_from_its_page(shop: dict[str, Any]) -> None:
    from mkt_whatsapp.campaigns import fanout

    api = shop["api"]
    real_page = fanout._page
    paused = {"done": False}

    def page_then_pause(campaign: Any, generation: int) -> None:
        real_page(campaign, generation)
        if not paused["done"]:  # the user pauses right after the first page
            paused["done"] = True
            assert api.post(f"/campaigns/{campaign['campaignId']}/pause").status == 200

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fanout, "_page", page_then_pause)
        campaign_id = launch(shop)
        wait_for(lambda: current(campaign_id)["status"] == "paused" and paused["done"])
        drain(shop["aws"], "OutboundQueue", "SenderFunction", batch_size=10)
        stats = detail(api, campaign_id)["stats"]
        assert (stats["pages"], stats["enumerationComplete"], stats["sent"]) == (1, False, 0)
        assert api.post(f"/campaigns/{campaign_id}/resume").status == 200
        send_until(shop["aws"], status_is(campaign_id, "completed"))
    assert sent_once_each(shop) == EVERYONE
    assert detail(api, campaign_id)["stats"]["pages"] == 4


def test_cancel_mid_send_marks_what_is_not_sent_cancelled_and_never_sends_it(shop: dict[str, Any]) -> None:
    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)
    assert sender_batch(aws, 2) == 2
    assert api.post(f"/campaigns/{campaign_id}/pause").status == 200
    senders_see_it()
    assert sender_batch(aws, 1) == 1  # parked: paused
    assert api.post(f"/campaigns/{campaign_id}/cancel").status == 200
    senders_see_it()
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)  # the sender marks the queued ones cancelled
    # and the cancellation's execution sweeps the parked one
    stats = wait_for(
        lambda: (s := current(campaign_id)["stats"])["cancelled"] == 3 and s, what="the cancellation's sweep"
    )
    assert (stats["sent"], stats["queued"], stats["paused"]) == (2, 0, 0)
    assert len(template_sends(shop["graph"])) == 2
    assert detail(api, campaign_id)["status"] == "cancelled"


# --- a campaign message in the sender's retry path ------------------------------------------------------


def accepted(shop: dict[str, Any]) -> list[str]:
    """Whom the Graph simulator accepted a campaign send for (a faulted request is not a send)."""
    return sorted(
        request["body"]["to"]
        for request in list(shop["graph"].state.requests)
        if request.get("wamid") and request["body"].get("type") == "template"
    )


def a_send_left_for_a_retry(shop: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A launched campaign whose first send met a Meta 500: its message is stored ``queued`` and back on the
    outbound queue for the sender's retry, its recipient still ``queued``. Returns the campaign and that
    recipient."""
    from local.graph_simulator import Fault

    campaign_id = launch(shop)
    enumerated(shop, campaign_id)
    shop["graph"].state.faults.append(Fault(match="/messages", status=500, count=1, body={"error": {"message": "x"}}))
    assert sender_batch(shop["aws"], 1) == 1
    [(recipient, message)] = [
        (r, m)
        for r in recipients(campaign_id).values()
        if (m := get_table().get(keys.message_pk(str(r.get("messageId"))), keys.MESSAGE_SK)) is not None
    ]
    assert (recipient["status"], message["status"], message["campaignId"]) == ("queued", "queued", campaign_id)
    assert len(template_sends(shop["graph"])) == 1
    assert accepted(shop) == []
    return campaign_id, recipient


def stored_message(recipient: dict[str, Any]) -> dict[str, Any]:
    message = get_table().get(keys.message_pk(str(recipient["messageId"])), keys.MESSAGE_SK)
    assert message is not None
    return message


def test_a_campaign_message_retried_while_its_campaign_runs_is_sent_once(shop: dict[str, Any]) -> None:
    campaign_id, recipient = a_send_left_for_a_retry(shop)
    send_until(shop["aws"], status_is(campaign_id, "completed"))
    assert accepted(shop) == EVERYONE
    assert stored_message(recipient)["status"] == "sent"
    assert detail(shop["api"], campaign_id)["stats"]["sent"] == 5


def test_a_campaign_message_retried_after_its_campaign_is_cancelled_is_withdrawn_not_sent(shop: dict[str, Any]) -> None:
    api, aws = shop["api"], shop["aws"]
    campaign_id, recipient = a_send_left_for_a_retry(shop)
    assert api.post(f"/campaigns/{campaign_id}/cancel").status == 200
    senders_see_it()
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)  # four recipients and the message's retry

    assert len(template_sends(shop["graph"])) == 1  # nothing more reached Meta
    message = stored_message(recipient)
    assert (message["status"], message["errors"][0]["code"]) == ("failed", "CAMPAIGN_CANCELLED")
    assert recipients(campaign_id)[recipient["customerKey"]]["status"] == "cancelled"
    stats = wait_for(lambda: (s := current(campaign_id)["stats"])["cancelled"] == 5 and s, what="the cancellation")
    assert (stats["sent"], stats["failed"], stats["queued"], stats["paused"]) == (0, 0, 0, 0)


@pytest.mark.parametrize("then", ["resume", "cancel"])
def test_a_campaign_message_retried_after_its_campaign_is_paused_waits_with_its_recipient(
    shop: dict[str, Any], then: str
) -> None:
    """Paused, the retry parks the recipient with its stored message: a resume sends that message, once; a
    cancellation's sweep withdraws it."""
    api, aws = shop["api"], shop["aws"]
    campaign_id, recipient = a_send_left_for_a_retry(shop)
    assert api.post(f"/campaigns/{campaign_id}/pause").status == 200
    senders_see_it()
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)
    assert len(template_sends(shop["graph"])) == 1
    parked = recipients(campaign_id)[recipient["customerKey"]]
    assert (parked["status"], parked["messageQueued"]) == ("paused", True)
    assert stored_message(recipient)["status"] == "queued"
    stats = detail(api, campaign_id)["stats"]
    assert (stats["paused"], stats["queued"], stats["sent"]) == (5, 0, 0)

    assert api.post(f"/campaigns/{campaign_id}/{then}").status == 200
    if then == "resume":
        send_until(aws, status_is(campaign_id, "completed"))
        assert accepted(shop) == EVERYONE  # each once, the retried message among them
        message = stored_message(recipient)
        assert (message["status"], message["sendAttempts"]) == ("sent", 2)
        stats = detail(api, campaign_id)["stats"]
        assert (stats["sent"], stats["paused"], stats["queued"]) == (5, 0, 0)
    else:
        stats = wait_for(lambda: (s := current(campaign_id)["stats"])["cancelled"] == 5 and s, what="the sweep")
        assert (stats["sent"], stats["paused"], stats["queued"]) == (0, 0, 0)
        message = stored_message(recipient)
        assert (message["status"], message["errors"][0]["code"]) == ("failed", "CAMPAIGN_CANCELLED")
        drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)
        assert len(template_sends(shop["graph"])) == 1


# --- records the queue lost or dead-lettered ------------------------------------------------------------


@pytest.fixture
def stalls_soon(shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The runner takes queued recipients for lost after 1 s without a change (not 20 minutes), and a record
    the sender fails comes back at once (the queue's visibility timeout 0, not 180 s)."""
    from mkt_whatsapp.campaigns import fanout

    monkeypatch.setattr(fanout, "STALL", timedelta(seconds=1))
    sqs, url = shop["aws"].client("sqs"), shop["aws"].physical["OutboundQueue"]
    visibility = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
    yield
    sqs.set_queue_attributes(QueueUrl=url, Attributes=visibility)


def test_a_recipient_the_sender_fails_on_every_time_is_abandoned_and_the_campaign_completes(
    shop: dict[str, Any], stalls_soon: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sender raises on one recipient's record every time (five receives, then the dead-letter queue):
    the runner hands it to the sender again MAX_ATTEMPTS times, then fails it SEND_ABANDONED; the campaign
    completes with everyone else sent once."""
    from mkt_whatsapp.campaigns import fanout, sending
    from tests.support import queue_depth

    poison = EVERYONE[2]
    real_send_record = sending.send_record

    def fails_on_one(body: dict[str, Any], *args: Any) -> str:
        if body["customerKey"] == poison:
            raise RuntimeError("the sender fails on this record")
        return real_send_record(body, *args)

    monkeypatch.setattr(sending, "send_record", fails_on_one)
    api = shop["api"]
    campaign_id = launch(shop)
    send_until(shop["aws"], status_is(campaign_id, "completed"), timeout=60)

    assert accepted(shop) == [wa_id for wa_id in EVERYONE if wa_id != poison]
    abandoned = recipients(campaign_id)[poison]
    assert (abandoned["status"], abandoned["reason"], abandoned["attempts"]) == (
        "failed",
        "SEND_ABANDONED",
        fanout.MAX_ATTEMPTS,
    )
    stats = detail(api, campaign_id)["stats"]
    assert (stats["sent"], stats["failed"], stats["queued"]) == (4, 1, 0)
    assert queue_depth(shop["aws"], "OutboundDeadLetterQueue") >= 1  # each round ended there, alarmed


@pytest.mark.parametrize("then", ["runs", "cancel"])
def test_a_record_the_queue_lost_is_enqueued_again_by_the_runner(
    shop: dict[str, Any], stalls_soon: None, then: str
) -> None:
    """One recipient's record is deleted from the queue unhandled: once the campaign's queued recipients stop
    moving, the runner finds it queued and enqueues it again — sent exactly once, or, the campaign cancelled
    meanwhile, cancelled by the sender."""
    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)
    sqs, url = aws.client("sqs"), aws.physical["OutboundQueue"]
    [lost] = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=1, VisibilityTimeout=30)["Messages"]
    sqs.delete_message(QueueUrl=url, ReceiptHandle=lost["ReceiptHandle"])
    lost_key = json.loads(lost["Body"])["customerKey"]

    if then == "runs":
        send_until(aws, status_is(campaign_id, "completed"))
        assert accepted(shop) == EVERYONE
        assert recipients(campaign_id)[lost_key]["attempts"] == 1
        assert detail(api, campaign_id)["stats"]["sent"] == 5
    else:
        assert api.post(f"/campaigns/{campaign_id}/cancel").status == 200
        senders_see_it()
        send_until(aws, lambda: current(campaign_id)["stats"]["cancelled"] == 5, what="the lost one cancelled")
        assert recipients(campaign_id)[lost_key]["status"] == "cancelled"
        stats = detail(api, campaign_id)["stats"]
        assert (stats["sent"], stats["queued"]) == (0, 0)
        assert template_sends(shop["graph"]) == []


def test_an_abandoned_recipient_whose_message_is_stored_has_it_withdrawn(shop: dict[str, Any]) -> None:
    """A recipient given up while its stored message waits for a retry: the message is failed SEND_ABANDONED
    with it, and the retry then sends nothing."""
    from mkt_whatsapp.campaigns import sending
    from mkt_whatsapp.store import campaigns as campaign_store

    campaign_id, recipient = a_send_left_for_a_retry(shop)
    campaign = campaign_store.get(get_table(), campaign_id)
    assert campaign is not None
    assert sending.abandon(campaign, recipient) == "withdrawn"
    message = stored_message(recipient)
    assert (message["status"], message["errors"][0]["code"]) == ("failed", "SEND_ABANDONED")
    settled = recipients(campaign_id)[recipient["customerKey"]]
    assert (settled["status"], settled["reason"]) == ("failed", "SEND_ABANDONED")

    send_until(shop["aws"], status_is(campaign_id, "completed"))
    assert accepted(shop) == [wa_id for wa_id in EVERYONE if wa_id != recipient["waId"]]
    stats = detail(shop["api"], campaign_id)["stats"]
    assert (stats["sent"], stats["failed"]) == (4, 1)


# --- the tier, quiet hours, the schedule ----------------------------------------------------------------


def set_daily_limit(shop: dict[str, Any], limit: int) -> None:
    table = get_table()
    table.update(keys.shop_pk(shop["shop_id"]), keys.ACCOUNT_SK, "SET dailyLimit = :limit", {":limit": limit})
    reset_caches()  # the sender keeps the account 30 s


def age_usage(shop: dict[str, Any]) -> None:
    """Move the shop's usage out of the moving 24 hours (what the next day does)."""
    table = get_table()
    old = (datetime.now(UTC) - timedelta(hours=30)).strftime("%Y-%m-%dT%H")
    for item in table.query_prefix(keys.shop_pk(shop["shop_id"]), keys.USAGE_PREFIX):
        table.client.delete_item(TableName=table.name, Key={"PK": {"S": item["PK"]}, "SK": {"S": item["SK"]}})
        table.put({**item, "SK": keys.account_usage_sk(old)})


def test_the_tier_limit_defers_the_rest_visible_as_waiting_for_tier_until_capacity_comes_back(
    shop: dict[str, Any],
) -> None:
    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)  # five queued before the tier shrank
    set_daily_limit(shop, 2)
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)
    stats = detail(api, campaign_id)["stats"]
    assert (stats["sent"], stats["waitingForTier"], stats["queued"]) == (2, 3, 0)
    assert detail(api, campaign_id)["status"] == "running"
    assert api.get(f"/accounts/{shop['shop_id']}").data["messagesUsedToday"] == 2

    age_usage(shop)  # a day later: two more fit
    send_until(aws, lambda: current(campaign_id)["stats"]["sent"] == 4, what="the next day's two")
    assert detail(api, campaign_id)["stats"]["waitingForTier"] == 1
    age_usage(shop)
    send_until(aws, status_is(campaign_id, "completed"))
    assert sent_once_each(shop) == EVERYONE


def test_a_fan_out_at_the_tier_limit_parks_instead_of_enqueuing(shop: dict[str, Any]) -> None:
    set_daily_limit(shop, 3)
    campaign_id = launch(shop)
    stats = enumerated(shop, campaign_id)["stats"]
    assert (stats["queued"], stats["waitingForTier"]) == (3, 2)


def test_quiet_hours_in_ho_chi_minh_city() -> None:
    from mkt_whatsapp.campaigns.quiet_hours import window_end

    night = {"start": "21:00", "end": "08:00", "timezone": "Asia/Ho_Chi_Minh"}  # UTC+7
    at = datetime(2026, 3, 10, 15, 30, tzinfo=UTC)  # 22:30 there
    assert window_end(night, at) == datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # 08:00 the next morning
    assert window_end(night, datetime(2026, 3, 10, 23, 0, tzinfo=UTC)) == datetime(2026, 3, 11, 1, 0, tzinfo=UTC)
    assert window_end(night, datetime(2026, 3, 11, 1, 0, tzinfo=UTC)) is None  # 08:00: sending again
    assert window_end(night, datetime(2026, 3, 10, 13, 59, tzinfo=UTC)) is None  # 20:59
    lunch = {"start": "12:00", "end": "13:30", "timezone": "Asia/Ho_Chi_Minh"}
    assert window_end(lunch, datetime(2026, 3, 10, 5, 15, tzinfo=UTC)) == datetime(2026, 3, 10, 6, 30, tzinfo=UTC)
    assert window_end(None, at) is None


def _window_around_now(hours: int = 1) -> dict[str, str]:
    from zoneinfo import ZoneInfo

    here = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
    start, end = here - timedelta(hours=hours), here + timedelta(hours=hours)
    return {"start": start.strftime("%H:%M"), "end": end.strftime("%H:%M"), "timezone": "Asia/Ho_Chi_Minh"}


def test_inside_quiet_hours_the_fan_out_waits_and_nothing_is_sent(shop: dict[str, Any]) -> None:
    import time

    api = shop["api"]
    campaign_id = launch(shop, quietHours=_window_around_now())
    time.sleep(1.5)
    drain(shop["aws"], "OutboundQueue", "SenderFunction", batch_size=10)
    campaign = detail(api, campaign_id)
    assert (campaign["status"], campaign["stats"]["pages"], campaign["stats"]["recipients"]) == ("running", 0, 0)
    assert template_sends(shop["graph"]) == []


def test_the_sender_parks_what_it_meets_in_quiet_hours_until_they_end(
    shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mkt_whatsapp.campaigns import sending

    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)  # enqueued just before the quiet hours began
    ends = datetime.now(UTC) + timedelta(seconds=2)
    monkeypatch.setattr(sending.quiet_hours, "window_end", lambda quiet, now: ends if now < ends else None)
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)
    stats = detail(api, campaign_id)["stats"]
    assert (stats["waitingForQuietHours"], stats["sent"]) == (5, 0)
    send_until(aws, status_is(campaign_id, "completed"))  # woken when they end
    assert sent_once_each(shop) == EVERYONE


def test_a_scheduled_launch_waits_for_its_time(shop: dict[str, Any]) -> None:
    api, aws = shop["api"], shop["aws"]
    at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=4)
    campaign_id = launch(shop, scheduledAt=at.strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert detail(api, campaign_id)["status"] == "scheduled"
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)
    assert template_sends(shop["graph"]) == []
    send_until(aws, status_is(campaign_id, "completed"), timeout=60)
    campaign = detail(api, campaign_id)
    assert campaign["startedAt"] >= at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert sent_once_each(shop) == EVERYONE


# --- stopped from outside: the template, the account ----------------------------------------------------


def test_a_template_meta_pauses_pauses_its_running_campaigns_with_the_reason(shop: dict[str, Any]) -> None:
    api = shop["api"]
    campaign_id = launch(shop)
    other = create(
        api, campaign_body(shop["shop_id"], template={**campaign_body("")["template"], "name": "order_note"})
    )
    assert api.post(f"/campaigns/{other}/launch").status == 200
    enumerated(shop, campaign_id)
    fixture = Path(__file__).resolve().parents[1] / "fixtures" / "template_webhooks" / "status_paused.json"
    body = json.loads(fixture.read_text())
    body["entry"][0].update(id=shop["waba"], time=int(datetime.now(UTC).timestamp()))
    assert post_webhook(api, body).status == 200
    drain_inbound(shop["aws"])

    campaign = detail(api, campaign_id)
    assert campaign["status"] == "paused"
    assert campaign["statusReason"]["code"] == "TEMPLATE_PAUSED"
    assert "spring_sale" in campaign["statusReason"]["message"]
    assert detail(api, other)["status"] != "paused"  # another template: not touched
    drain(shop["aws"], "OutboundQueue", "SenderFunction", batch_size=10)
    assert template_sends(shop["graph"]) == []
    resumed = api.post(f"/campaigns/{campaign_id}/resume")
    assert (resumed.status, resumed.code) == (422, "TEMPLATE_NOT_APPROVED")  # until Meta approves it again


def test_the_account_needing_action_pauses_its_running_campaigns(shop: dict[str, Any]) -> None:
    from local.graph_simulator import Fault

    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)
    shop["graph"].state.faults.append(
        Fault(match="/messages", status=401, body={"error": {"code": 190, "message": "token expired"}}, count=1)
    )
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=1)  # one at a time: the first meets the refusal
    campaign = detail(api, campaign_id)
    assert campaign["status"] == "paused"
    assert campaign["statusReason"]["code"] == "ACCOUNT_ACTION_REQUIRED"
    stats = campaign["stats"]
    assert (stats["failed"], stats["paused"], stats["sent"]) == (1, 4, 0)


def test_a_resume_s_records_are_not_parked_again_by_a_sender_still_holding_the_pause(
    shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A sender keeps a campaign's status for STATUS_SECONDS; here for a minute, as if the resume's records
    reached it at once: records of the resume's generation read the campaign again and are sent."""
    from mkt_whatsapp.campaigns import sending
    from mkt_whatsapp.core.cache import TimedCache

    monkeypatch.setattr(sending, "_campaigns", TimedCache(seconds=60.0))
    api, aws = shop["api"], shop["aws"]
    campaign_id = launch(shop)
    enumerated(shop, campaign_id)
    assert api.post(f"/campaigns/{campaign_id}/pause").status == 200
    drain(aws, "OutboundQueue", "SenderFunction", batch_size=10)  # the sender reads the pause: all parked
    assert current(campaign_id)["stats"]["paused"] == 5

    assert api.post(f"/campaigns/{campaign_id}/resume").status == 200
    wait_for(lambda: current(campaign_id)["stats"]["paused"] == 0, what="the resume's wake")
    assert sender_batch(aws, 10) == 5  # the woken five, in one batch
    stats = current(campaign_id)["stats"]
    assert (stats["sent"], stats["paused"]) == (5, 0)
    assert sent_once_each(shop) == EVERYONE
