"""A campaign's funnel (issue 14, item 4): counted from the table's changes of the messages that name the
campaign — scripted statuses and replies in, exact counts out; a batch delivered again and a status
redelivered counted once; Meta's per-user marketing limit (131049) apart from failures; a reply within
72 hours of delivery attributed once, end to end through the inbound processor."""

from __future__ import annotations

from typing import Any

import pytest

from local.stream_events import inbound, outbound
from mkt_whatsapp.analytics import campaigns, counting
from mkt_whatsapp.core.clock import iso, meta_time
from mkt_whatsapp.store import customers as customer_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from tests.support import ApiClient, AwsStack, connect_shop, deliver
from tests.unit.test_inbound_rules import SHOP, WA_ID, corpus, store_sent_message, text_message

BILLED = {"pricing": {"billable": True, "pricingModel": "PMP", "category": "marketing", "type": "regular"}}


def failure(code: int) -> dict[str, Any]:
    return {"errors": [{"code": code, "title": "t", "message": "m", "details": "d"}]}


def test_the_funnel_counts_each_stage_once_from_scripted_statuses(aws: Any) -> None:
    spring = {"campaignId": "camp-spring"}
    batch = [
        *outbound(  # sent, delivered, read; billed as marketing with its sent status
            "shop-a",
            "2026-03-01T08:00:00Z",
            [
                ("sent", "2026-03-01T08:00:01Z", BILLED),
                ("delivered", "2026-03-01T08:00:05Z"),
                ("read", "2026-03-01T09:00:00Z"),
            ],
            **spring,
        ),
        # read came without its delivered: delivered too
        *outbound(
            "shop-a",
            "2026-03-01T08:00:00Z",
            [("sent", "2026-03-01T08:00:02Z"), ("read", "2026-03-01T08:30:00Z")],
            **spring,
        ),
        *outbound("shop-a", "2026-03-01T08:00:00Z", [("failed", "2026-03-01T08:00:03Z", failure(131049))], **spring),
        *outbound(
            "shop-a",
            "2026-03-01T08:00:00Z",
            [("sent", "2026-03-01T08:00:02Z"), ("failed", "2026-03-01T08:01:00Z", failure(131026))],
            **spring,
        ),
        *outbound("shop-a", "2026-03-01T08:00:00Z", [], **spring),  # still queued (waiting for the tier)
        *outbound("shop-a", "2026-03-01T08:00:00Z", [("sent", "2026-03-01T08:00:02Z")], campaignId="camp-other"),
        *outbound("shop-a", "2026-03-01T08:00:00Z", [("sent", "2026-03-01T08:00:02Z")]),  # no campaign
        inbound("shop-a", "2026-03-01T10:00:00Z", campaignReply="camp-spring"),
        inbound("shop-a", "2026-03-01T10:05:00Z"),  # not a reply to a campaign
    ]
    counting.count_records(batch)
    assert counting.count_records(batch)["skipped"] >= 1  # the batch again: nothing twice
    table = get_table()
    assert campaigns.funnel(table, "camp-spring") == {
        "messages": 5,
        "sent": 3,
        "delivered": 2,
        "read": 2,
        "failed": 1,
        "failedByCode": {"131026": 1},
        "limitedByMeta": 1,
        "replied": 1,
        "billable": {"marketing": 1},
        "estimatedMetaChargeUsd": 0.0732,
    }
    assert campaigns.funnel(table, "camp-other")["sent"] == 1
    assert campaigns.funnel(table, "camp-none") == campaigns.funnel_of({})
    # the shop's own counters still count every message, the campaign's included
    assert counting.tally(batch)[("shop-a", "2026-03-01T08")]["outbound"] == 5


def test_a_status_whose_rank_does_not_move_counts_nothing() -> None:
    message = {"PK": "MSG#m", "direction": "outbound", "campaignId": "c", "status": "delivered", "statusRank": 2}
    assert campaigns.counts_of("MODIFY", {**message, "statusTimestamps": {"x": 1}}, message) == []
    billed = {**message, **BILLED}
    assert campaigns.counts_of("MODIFY", {**billed, "status": "read", "statusRank": 3}, billed) == [("c", "read", 1)]


# --- a reply within 72 hours of delivery, through the inbound processor --------------------------------------


@pytest.fixture
def campaign_message(api: ApiClient, aws: AwsStack) -> ApiClient:
    """A customer of shop-1 and a campaign message Meta accepted for them (wamid.OUTBOUND-STATUS-1)."""
    shop = connect_shop(api, SHOP)
    deliver(shop, aws, text_message("wamid.IN-1", "hello", 1767225600))
    table = get_table()
    customer = customer_store.find(table, SHOP, [WA_ID])
    assert customer is not None
    store_sent_message(
        "campaign-msg-1",
        customer["activeConversation"]["id"],
        customerKey=customer_store.key_of(customer),
        campaignId="camp-spring",
        sentBy="campaign:camp-spring",
        content={"type": "template", "template": {"name": "spring_sale", "language": "vi"}},
    )
    return shop


def stamped(wamid: str) -> Any:
    from mkt_whatsapp.inbound.processor import inbound_message_id

    item = message_store.get(get_table(), inbound_message_id(SHOP, wamid))
    assert item is not None
    return item.get("campaignReply")


def test_the_first_message_within_72_hours_of_delivery_is_the_reply(campaign_message: ApiClient, aws: AwsStack) -> None:
    delivered_at = 1767225702  # status_delivered's timestamp
    deliver(campaign_message, aws, corpus("status_delivered"))
    deliver(campaign_message, aws, corpus("status_delivered"))  # redelivered: nothing more
    deliver(campaign_message, aws, corpus("status_read"))  # read after delivered: the delivery stands
    customer = customer_store.find(get_table(), SHOP, [WA_ID])
    assert customer["lastCampaign"] == {"id": "camp-spring", "deliveredAt": iso(meta_time(delivered_at))}
    deliver(campaign_message, aws, text_message("wamid.IN-2", "Còn size M không?", delivered_at + 3600))
    deliver(campaign_message, aws, text_message("wamid.IN-2", "Còn size M không?", delivered_at + 3600))  # again
    deliver(campaign_message, aws, text_message("wamid.IN-3", "Cảm ơn", delivered_at + 7200))
    assert (stamped("wamid.IN-2"), stamped("wamid.IN-3")) == ("camp-spring", None)  # one reply per delivery
    assert customer_store.find(get_table(), SHOP, [WA_ID])["lastCampaign"]["replied"] is True


def test_a_message_after_72_hours_is_not_a_reply(campaign_message: ApiClient, aws: AwsStack) -> None:
    deliver(campaign_message, aws, corpus("status_delivered"))
    deliver(campaign_message, aws, text_message("wamid.IN-LATE", "hi", 1767225702 + 72 * 3600 + 1))
    assert stamped("wamid.IN-LATE") is None
