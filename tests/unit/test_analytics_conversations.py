"""GET /analytics/conversations and the counters behind it (issue 13, item 2): scripted conversations with
known answers, as the table's stream delivers their changes, then the metrics; a batch delivered again
counted once; the real path (a webhook, an agent's reply, a close, the stream drained); the send path's
wait bookkeeping; every bad parameter 400 naming it; another shop's token refused."""

from __future__ import annotations

import itertools
import time
from typing import Any

import pytest

from local.stream_events import change
from mkt_whatsapp.analytics import counting
from mkt_whatsapp.analytics.conversations import duration
from mkt_whatsapp.core.clock import parse_iso
from mkt_whatsapp.store import conversations as conversation_store
from mkt_whatsapp.store import get_table
from tests.support import ApiClient, AwsStack, deliver, drain_stats, make_token, seed_templates, whatsapp_delivery

_IDS = itertools.count(1)


class Script:
    """One conversation's item through its changes, as the stream would carry them."""

    def __init__(self, shop: str, created: str, records: list[dict[str, Any]]) -> None:
        self.records = records
        conversation_id = f"conv-{next(_IDS)}"
        self.item: dict[str, Any] = {
            "PK": f"CONV#{conversation_id}",
            "SK": "CONVERSATION",
            "entity": "conversation",
            "id": conversation_id,
            "shopId": shop,
            "status": "open",
            "createdAt": created,
            "awaitingSince": created,
        }
        records.append(change("INSERT", self.item))

    def _modify(self, **changes: Any) -> Script:
        new = {**self.item, **{k: v for k, v in changes.items() if v is not None}}
        for name in [k for k, v in changes.items() if v is None]:
            new.pop(name, None)
        self.records.append(change("MODIFY", new, self.item))
        self.item = new
        return self

    def customer(self, at: str) -> Script:
        return self._modify(awaitingSince=self.item.get("awaitingSince", at), lastInboundAt=at)

    def reply(self, by: str, at: str) -> Script:
        """The shop's message (``by``: human, flow, ai), answering the wait if one is open."""
        flags = {"humanTouched": True} if by == "human" else {"aiReplied": True} if by == "ai" else {}
        since = self.item.get("awaitingSince")
        if since is None:
            return self._modify(lastMessageAt=at, **flags)
        seconds = int((parse_iso(at) - parse_iso(str(since))).total_seconds())
        response = {"at": at, "seconds": seconds, "by": by, "since": since}
        return self._modify(lastMessageAt=at, awaitingSince=None, lastResponse=response, **flags)

    def hand_off(self) -> Script:
        return self._modify(needsHuman=True, handoff={"reason": "keyword"})

    def assign(self, agent: str = "agent-1") -> Script:
        return self._modify(assignedAgentId=agent)

    def close(self, at: str) -> Script:
        return self._modify(status="closed", closedAt=at, closedBy="agent-1", awaitingSince=None)


def scripted(shop: str) -> list[dict[str, Any]]:
    """Five conversations on 2026-03-10 (UTC), the known answers in the comments."""
    records: list[dict[str, Any]] = []
    day = "2026-03-10T"
    # 1: the AI answers twice (30 s, 60 s) and the conversation closes after 20 min: resolved by the AI.
    one = Script(shop, day + "10:00:00Z", records).reply("ai", day + "10:00:30Z")
    one.reply("ai", day + "10:01:00Z")  # no wait open: not a response
    one.customer(day + "10:05:00Z").customer(day + "10:05:30Z").reply("ai", day + "10:06:00Z").close(day + "10:20:00Z")
    # 2: a flow answers (10 s), hands off; an agent answers the next message (180 s); closed after 30 min.
    two = Script(shop, day + "11:00:00Z", records).reply("flow", day + "11:00:10Z")
    two.customer(day + "11:01:00Z").hand_off().reply("human", day + "11:04:00Z").close(day + "11:30:00Z")
    # 3: assigned to an agent, never answered, closed after 10 min (the wait ends unanswered).
    Script(shop, day + "12:00:00Z", records).assign().close(day + "12:10:00Z")
    # 4: the AI answers (20 s), then hands off; an agent answers (30 s); closed after 5 min.
    four = Script(shop, day + "13:00:00Z", records).reply("ai", day + "13:00:20Z").customer(day + "13:01:30Z")
    four.hand_off().assign().reply("human", day + "13:02:00Z").close(day + "13:05:00Z")
    # 5: opened at 18:00 UTC — the 11th in Vietnam — and still waiting.
    Script(shop, day + "18:00:00Z", records)
    # Another shop's conversation is not this shop's.
    Script("another-shop", day + "10:00:00Z", records).reply("human", day + "10:00:05Z")
    return records


@pytest.fixture
def shop(api: ApiClient, aws: Any, shop_ids: Any) -> dict[str, Any]:
    api.token = make_token([shop_ids.shop_id])
    return {"api": api, "shop_id": shop_ids.shop_id}


def metrics(shop: dict[str, Any], **query: str) -> Any:
    return shop["api"].get("/analytics/conversations", query={"shopId": shop["shop_id"], **query})


def test_durations_read_as_api_v1_writes_them() -> None:
    assert [duration(s) for s in (0, 45, 150, 120, 3900, 3600, 3959, 93600, 44.5, None)] == [
        "0s",
        "45s",
        "2m 30s",
        "2m",
        "1h 5m",
        "1h",
        "1h 5m",
        "1d 2h",
        "44s",
        None,
    ]


def test_scripted_conversations_give_the_known_metrics(shop: dict[str, Any]) -> None:
    batch = scripted(shop["shop_id"])
    counting.count_records(batch)
    counting.count_records(batch)  # delivered again: nothing counted twice
    reply = metrics(shop, startDate="2026-03-10", endDate="2026-03-10")
    assert reply.status == 200, reply.text
    data = reply.data
    assert data["counts"] == {
        "responses": 6,  # ai 30 + 60 + 20, flow 10, human 180 + 30
        "responseSeconds": 330,
        "resolved": 4,
        "resolutionSeconds": 1200 + 1800 + 600 + 300,
        "resolvedByAutomation": 1,
        "resolvedWithAi": 2,
        "resolvedByAi": 1,
        "opened": 5,
        "handedOff": 3,
    }
    assert (data["averageResponseTime"], data["averageResponseSeconds"]) == ("55s", 55.0)
    assert (data["averageResolutionTime"], data["averageResolutionSeconds"]) == ("16m 15s", 975.0)
    assert (data["automationResolutionRate"], data["aiResolutionRate"], data["humanHandoffRate"]) == (0.25, 0.5, 0.6)
    assert data["responseTimeByResponder"] == {
        "human": {"responses": 2, "averageResponseTime": "1m 45s", "averageResponseSeconds": 105.0},
        "flow": {"responses": 1, "averageResponseTime": "10s", "averageResponseSeconds": 10.0},
        "ai": {"responses": 3, "averageResponseTime": "37s", "averageResponseSeconds": 36.67},
    }
    assert (data["startDate"], data["endDate"], data["timezone"]) == ("2026-03-10", "2026-03-10", "UTC")

    vietnam = metrics(shop, startDate="2026-03-10", endDate="2026-03-10", timezone="Asia/Ho_Chi_Minh").data
    assert vietnam["counts"]["opened"] == 4  # the fifth opened on the 11th there
    assert (
        metrics(shop, startDate="2026-03-11", endDate="2026-03-11", timezone="Asia/Ho_Chi_Minh").data["counts"][
            "opened"
        ]
        == 1
    )


def test_an_empty_range_has_null_averages_and_rates(shop: dict[str, Any]) -> None:
    data = metrics(shop, startDate="2026-03-01", endDate="2026-03-02").data
    assert data["averageResponseTime"] is None
    assert data["humanHandoffRate"] is None
    assert set(data["counts"].values()) == {0}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"startDate": "10/03/2026"}, "startDate"),
        ({"endDate": "2026-02-30"}, "endDate"),
        ({"startDate": "2026-03-10", "endDate": "2026-03-01"}, "endDate"),
        ({"startDate": "2025-01-01", "endDate": "2026-03-10"}, "endDate"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Asia/Kolkata"}, "timezone"),
        ({"shopId": ""}, "shopId"),
    ],
)
def test_every_bad_parameter_is_400_naming_it(shop: dict[str, Any], query: dict[str, str], field: str) -> None:
    reply = metrics(shop, **query)
    assert reply.status == 400, reply.text
    assert reply.field == field


def test_another_shops_token_sees_nothing(shop: dict[str, Any]) -> None:
    counting.count_records(scripted(shop["shop_id"]))
    shop["api"].token = make_token(["another-shop"])
    assert metrics(shop, startDate="2026-03-10", endDate="2026-03-10").status == 403


# --- the real path -------------------------------------------------------------------------------------


def _webhook(phone_number_id: str, wa_id: str, wamid: str, at: int) -> dict[str, Any]:
    message = {"from": wa_id, "id": wamid, "timestamp": str(at), "type": "text", "text": {"body": "còn hàng không?"}}
    contacts = [{"profile": {"name": "Khách"}, "wa_id": wa_id}]
    return whatsapp_delivery(phone_number_id, {"contacts": contacts, "messages": [message]})


def test_a_webhook_an_agents_reply_and_a_close_are_counted_through_the_stream(
    connected_shop: dict[str, Any], shop_ids: Any
) -> None:
    api, aws = connected_shop["api"], connected_shop["aws"]
    shop_id, number = shop_ids.shop_id, shop_ids.phone_number_id
    drain_stats(aws)
    asked = int(time.time()) - 120
    wa_id = "84907770001"
    deliver(api, aws, _webhook(number, wa_id, f"wamid.conv.{asked}", asked))
    deliver(api, aws, _webhook(number, wa_id, f"wamid.conv.{asked}", asked))  # Meta's duplicate
    deliver(api, aws, _webhook(number, wa_id, f"wamid.conv.{asked + 1}", asked + 1))  # the wait is open
    [listed] = api.get("/conversations", query={"shopId": shop_id}).data["conversations"]
    conversation_id = listed["id"]
    sent = api.post(
        f"/conversations/{conversation_id}/messages", json_body={"content": {"type": "text", "text": "Còn"}}
    )
    assert sent.status == 201, sent.text
    again = api.post(f"/conversations/{conversation_id}/messages", json_body={"content": {"type": "text", "text": "!"}})
    assert again.status == 201, again.text  # no wait open: not a response
    assert api.post(f"/conversations/{conversation_id}/close", json_body={}).status == 200
    assert drain_stats(aws) > 0
    drain_stats(aws)

    item = conversation_store.get(get_table(), conversation_id)
    assert item is not None
    assert "awaitingSince" not in item
    response, opened, closed = item["lastResponse"], item["createdAt"], item["closedAt"]
    assert (response["by"], response["since"], int(response["seconds"]) >= 120) == ("human", opened, True)
    resolution = int((parse_iso(closed) - parse_iso(opened)).total_seconds())
    query = {"shopId": shop_id, "startDate": opened[:10], "endDate": closed[:10]}
    data = api.get("/analytics/conversations", query=query).data
    assert data["counts"] == {
        "responses": 1,
        "responseSeconds": int(response["seconds"]),
        "resolved": 1,
        "resolutionSeconds": resolution,
        "resolvedByAutomation": 0,
        "resolvedWithAi": 0,
        "resolvedByAi": 0,
        "opened": 1,
        "handedOff": 0,
    }
    assert data["averageResponseTime"] == duration(int(response["seconds"]))
    assert data["responseTimeByResponder"]["human"]["responses"] == 1
    assert data["automationResolutionRate"] == 0.0
    assert data["humanHandoffRate"] == 0.0


# --- the send path's bookkeeping ------------------------------------------------------------------------


def test_a_send_with_a_stale_read_of_the_wait_reads_again_and_answers_it(
    connected_shop: dict[str, Any], shop_ids: Any, aws: AwsStack
) -> None:
    from mkt_whatsapp.messaging import send
    from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest

    api = connected_shop["api"]
    asked = int(time.time()) - 30
    deliver(api, aws, _webhook(shop_ids.phone_number_id, "84907770002", f"wamid.stale.{asked}", asked))
    [listed] = api.get("/conversations", query={"shopId": shop_ids.shop_id}).data["conversations"]
    stale = dict(conversation_store.get(get_table(), listed["id"]) or {})
    assert stale["awaitingSince"].startswith(time.strftime("%Y-%m-%d", time.gmtime(asked)))
    stale.pop("awaitingSince")  # read before the customer's message arrived
    request = SendMessageRequest.model_validate({"content": {"type": "text", "text": "Dạ"}})
    status, _ = send.send(shop_ids.shop_id, stale, request, actor="flow:flow-1", deadline=None)
    assert status == 201
    item = conversation_store.get(get_table(), listed["id"]) or {}
    assert "awaitingSince" not in item
    assert item["lastResponse"]["by"] == "flow"
    assert item["messageCount"] == 2
    assert not item.get("humanTouched")
    # A campaign's template answers nothing and leaves a wait open.
    deliver(api, aws, _webhook(shop_ids.phone_number_id, "84907770002", f"wamid.stale.{asked + 5}", asked + 5))
    template = {"content": {"type": "template", "template": {"name": "sale", "language": "vi", "category": "utility"}}}
    seed_templates(shop_ids.shop_id)  # the simulator's approved "sale", as a sync keeps it
    fresh = conversation_store.get(get_table(), listed["id"]) or {}
    status, _ = send.send(
        shop_ids.shop_id, fresh, SendMessageRequest.model_validate(template), actor="campaign:c-1", deadline=None
    )
    assert status == 201
    after = conversation_store.get(get_table(), listed["id"]) or {}
    assert after["awaitingSince"] == fresh["awaitingSince"]
    assert after["lastResponse"] == item["lastResponse"]
