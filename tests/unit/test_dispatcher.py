"""The inbound automation dispatcher: each stored message is offered once, in order, to the responders
(a waiting flow, flow triggers, the AI agent as they land); redeliveries are not offered again unless
the first dispatch never finished."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mkt_whatsapp.inbound import dispatcher, processor
from mkt_whatsapp.inbound.dispatcher import StoredInbound
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from tests.support import ApiClient, AwsStack, connect_shop, inbound_text_change

SHOP = "shop-dispatch"
PHONE_NUMBER_ID = "106540352240401"
WA_ID = "84907770002"


def inbound_text(wamid: str, body: str = "hi") -> dict:
    return inbound_text_change(PHONE_NUMBER_ID, WA_ID, wamid, body=body, name="Lê Văn C")


class Recorder:
    """A responder that records what it was offered and claims the messages it is told to."""

    def __init__(self, claims: bool, fail_first: int = 0) -> None:
        self.claims = claims
        self.fail_first = fail_first
        self.offered: list[StoredInbound] = []

    def __call__(self, message: StoredInbound) -> bool:
        self.offered.append(message)
        if self.fail_first:
            self.fail_first -= 1
            raise RuntimeError("responder failed")
        return self.claims


@pytest.fixture(autouse=True)
def no_other_responders() -> Iterator[None]:
    """These tests register their own responders: the functions' (the AI agent's, registered when the
    inbound function's module is loaded in this process) step aside for them and come back after."""
    before = list(dispatcher._responders)
    dispatcher._responders.clear()
    try:
        yield
    finally:
        dispatcher._responders[:] = before


@pytest.fixture
def shop(api: ApiClient, aws: AwsStack) -> ApiClient:
    return connect_shop(api, SHOP, PHONE_NUMBER_ID)


@pytest.fixture
def responders() -> Iterator[dict[str, Recorder]]:
    registered = {"waiting-flow": Recorder(claims=False), "flow-trigger": Recorder(claims=True)}
    registered["ai-agent"] = Recorder(claims=True)
    for name, responder in registered.items():
        dispatcher.register(name, responder)
    try:
        yield registered
    finally:
        for name in registered:
            dispatcher.unregister(name)


def automation_of(wamid: str) -> str | None:
    stored = message_store.get(get_table(), processor.inbound_message_id(SHOP, wamid))
    assert stored is not None
    return stored.get("automation")


def test_without_responders_nothing_is_offered_or_written(shop: ApiClient) -> None:
    assert not dispatcher.has_responders()
    assert processor.process_change(inbound_text("wamid.D0")) == {"messages": 1, "statuses": 0}
    assert automation_of("wamid.D0") is None


def test_a_stored_message_is_offered_once_in_order_and_the_first_claim_wins(
    shop: ApiClient, responders: dict[str, Recorder]
) -> None:
    processor.process_change(inbound_text("wamid.D1", "Xin chào"))
    [offered] = responders["waiting-flow"].offered
    assert responders["flow-trigger"].offered == [offered]
    assert responders["ai-agent"].offered == []  # the trigger claimed it first
    assert (offered.shop_id, offered.whatsapp_message_id, offered.content["text"]) == (SHOP, "wamid.D1", "Xin chào")
    assert offered.new_customer
    assert offered.new_conversation
    assert automation_of("wamid.D1") == "flow-trigger"

    processor.process_change(inbound_text("wamid.D1", "Xin chào"))  # Meta delivers it again
    assert len(responders["waiting-flow"].offered) == 1
    assert automation_of("wamid.D1") == "flow-trigger"

    processor.process_change(inbound_text("wamid.D2"))  # the same customer again: not new any more
    second = responders["flow-trigger"].offered[-1]
    assert (second.whatsapp_message_id, second.new_customer, second.new_conversation) == ("wamid.D2", False, False)


def test_a_dispatch_that_failed_is_offered_again_on_redelivery(
    shop: ApiClient, responders: dict[str, Recorder]
) -> None:
    responders["waiting-flow"].fail_first = 1
    with pytest.raises(RuntimeError, match="responder failed"):
        processor.process_change(inbound_text("wamid.D3"))
    assert automation_of("wamid.D3") == dispatcher.PENDING  # stored, its answer still owed

    outcome = processor.process_change(inbound_text("wamid.D3"))  # the queue retries the record
    assert outcome == {"messages": 0, "statuses": 0}  # not stored twice
    assert [m.whatsapp_message_id for m in responders["flow-trigger"].offered] == ["wamid.D3"]
    assert automation_of("wamid.D3") == "flow-trigger"


def test_nobody_answering_is_recorded_too(shop: ApiClient) -> None:
    silent = Recorder(claims=False)
    dispatcher.register("silent", silent)
    try:
        processor.process_change(inbound_text("wamid.D4"))
        processor.process_change(inbound_text("wamid.D4"))
    finally:
        dispatcher.unregister("silent")
    assert len(silent.offered) == 1
    assert automation_of("wamid.D4") == dispatcher.NOBODY


def test_a_responder_name_is_registered_once() -> None:
    dispatcher.register("once", Recorder(claims=False))
    try:
        with pytest.raises(ValueError, match="registered already"):
            dispatcher.register("once", Recorder(claims=False))
    finally:
        dispatcher.unregister("once")
