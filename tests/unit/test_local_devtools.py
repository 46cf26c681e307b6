"""The developer commands behind `make say`, `make press`, `make template-event`, `make statuses` and `make flow`
(local/devtools.py): what they post, read as the service reads Meta's deliveries, and signed as Meta signs
them (`make statuses` asks the Graph simulator, which posts and signs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from local import devtools
from local.defaults import LOCAL_DEFAULTS
from local.graph_simulator import DEFAULT_WABA_ID, GraphSimulator
from mkt_whatsapp.whatsapp.inbound_content import content_of, readable_text, typed_text
from mkt_whatsapp.whatsapp.signature import is_valid
from mkt_whatsapp.whatsapp.webhook_models import WebhookDelivery
from tests.support import meta_example

API = "http://127.0.0.1:3999/api/v1/whatsapp"
WELCOME = Path(__file__).resolve().parents[2] / "docs" / "flows" / "welcome-menu.json"


class Posted:
    """httpx.post as the commands call it, recorded; answers with ``replies`` in turn."""

    def __init__(self, *replies: httpx.Response) -> None:
        self.calls: list[dict[str, Any]] = []
        self.replies = list(replies)

    def __call__(self, url: str, **kwargs: Any) -> httpx.Response:
        self.calls.append({"url": url, **kwargs})
        return self.replies.pop(0) if self.replies else httpx.Response(200, text='{"success":true}')


@pytest.fixture
def posted(monkeypatch: pytest.MonkeyPatch) -> Posted:
    recorder = Posted()
    monkeypatch.setattr(httpx, "post", recorder)
    monkeypatch.setenv("META_APP_SECRET", LOCAL_DEFAULTS["META_APP_SECRET"])
    monkeypatch.setenv("JWT_SECRET", LOCAL_DEFAULTS["JWT_SECRET"])
    return recorder


def the_message(body: bytes) -> tuple[str, Any]:
    """The one message of a delivery, parsed as the service parses Meta's (its number and the message)."""
    delivery = WebhookDelivery.model_validate_json(body)
    [entry] = delivery.entry
    [change] = entry.changes
    [message] = change.value.messages
    return change.value.metadata.phone_number_id, message


def test_say_posts_a_signed_text_message(posted: Posted, capsys: pytest.CaptureFixture[str]) -> None:
    assert devtools.main(["say", "Có giao hàng không?", "--api", API, "--customer", "84900000001"]) == 0
    assert capsys.readouterr().out == '{"success":true}\n'
    [call] = posted.calls
    assert call["url"] == f"{API}/webhooks"
    assert is_valid(call["content"], call["headers"]["X-Hub-Signature-256"], LOCAL_DEFAULTS["META_APP_SECRET"])
    phone_number_id, message = the_message(call["content"])
    assert phone_number_id == devtools.DEV_PHONE_NUMBER_ID
    assert message.sender_phone == "84900000001"
    assert content_of(message) == {"type": "text", "text": "Có giao hàng không?"}
    # The README's WhatsApp Business Account, as the simulator's statuses name it: a shop connected with it
    # (or that learnt it from the README's sample webhook) is told of no other.
    [entry] = WebhookDelivery.model_validate_json(call["content"]).entry
    assert entry.id == devtools.DEV_WABA_ID == DEFAULT_WABA_ID


def test_press_posts_a_signed_reply_button_press(posted: Posted, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["press", "--id", "menu_buy", "--title", "Mua hàng", "--api", API, "--phone-number-id", "106540352242924"]
    assert devtools.main(argv) == 0
    assert capsys.readouterr().out == '{"success":true}\n'
    [call] = posted.calls
    assert call["url"] == f"{API}/webhooks"
    assert is_valid(call["content"], call["headers"]["X-Hub-Signature-256"], LOCAL_DEFAULTS["META_APP_SECRET"])
    phone_number_id, message = the_message(call["content"])
    assert phone_number_id == "106540352242924"
    assert message.sender_phone == "84901234567"
    content = content_of(message)
    assert content == {
        "type": "interactive",
        "interactive": {"type": "button_reply", "buttonReply": {"id": "menu_buy", "title": "Mua hàng"}},
    }
    # A press is no typed text (no keyword matches it); its title is what a reader sees.
    assert typed_text(content) is None
    assert readable_text(content) == "Mua hàng"


def test_a_press_without_a_title_shows_the_id(posted: Posted) -> None:
    assert devtools.main(["press", "--id", "menu_human", "--api", API]) == 0
    _, message = the_message(posted.calls[0]["content"])
    assert content_of(message)["interactive"]["buttonReply"] == {"id": "menu_human", "title": "menu_human"}


def test_every_message_is_new(posted: Posted) -> None:
    devtools.main(["press", "--id", "menu_buy", "--api", API])
    devtools.main(["press", "--id", "menu_buy", "--api", API])
    ids = [the_message(call["content"])[1].id for call in posted.calls]
    assert len(set(ids)) == 2


def test_flow_creates_the_file_for_the_shop_and_activates_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    activated = '{"success":true,"data":{"flowId":"f-1","isActive":true}}'
    posted = Posted(
        httpx.Response(201, json={"success": True, "data": {"flowId": "f-1"}}), httpx.Response(200, text=activated)
    )
    monkeypatch.setattr(httpx, "post", posted)
    monkeypatch.setenv("JWT_SECRET", LOCAL_DEFAULTS["JWT_SECRET"])
    assert devtools.main(["flow", str(WELCOME), "--shop", "shop-3", "--api", API]) == 0
    assert capsys.readouterr().out == activated + "\n"
    create, activate = posted.calls
    assert create["url"] == f"{API}/flows"
    assert create["json"] == {**json.loads(WELCOME.read_text()), "shopId": "shop-3"}
    assert activate["url"] == f"{API}/flows/f-1/activate"
    for call in (create, activate):
        token = call["headers"]["Authorization"].removeprefix("Bearer ")
        claims = jwt.decode(token, LOCAL_DEFAULTS["JWT_SECRET"], algorithms=["HS256"])
        assert claims["shop_ids"] == ["shop-3"]


def test_flow_is_for_the_readme_shop_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    posted = Posted(httpx.Response(201, json={"data": {"flowId": "f-2"}}), httpx.Response(200, text="{}"))
    monkeypatch.setattr(httpx, "post", posted)
    assert devtools.main(["flow", str(WELCOME), "--api", API]) == 0
    assert posted.calls[0]["json"]["shopId"] == devtools.DEV_SHOP == "shop-1"


def test_a_flow_the_api_refuses_is_a_failed_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = '{"success":false,"error":"invalid","details":{"code":"VALIDATION_ERROR"}}'
    posted = Posted(httpx.Response(422, text=refused))
    monkeypatch.setattr(httpx, "post", posted)
    assert devtools.main(["flow", str(WELCOME), "--api", API]) == 1
    assert capsys.readouterr().out == refused + "\n"
    assert len(posted.calls) == 1  # nothing to activate


AD_OFFER = Path(__file__).resolve().parents[2] / "docs" / "flows" / "ad-offer.json"


def test_say_with_a_referral_writes_from_the_ad(posted: Posted) -> None:
    argv = ["say", "Hello! Can I get more info on this?", "--referral", "120226305854810726", "--api", API]
    assert devtools.main(argv) == 0
    [call] = posted.calls
    assert is_valid(call["content"], call["headers"]["X-Hub-Signature-256"], LOCAL_DEFAULTS["META_APP_SECRET"])
    _, message = the_message(call["content"])
    assert content_of(message) == {"type": "text", "text": "Hello! Can I get more info on this?"}
    referral = message.referral
    assert referral is not None
    assert (referral["source_id"], referral["source_type"]) == ("120226305854810726", "ad")
    # Meta's click-to-WhatsApp example's fields (its media ones and welcome message aside), no others.
    example = json.loads(meta_example("webhook__text_message_from_click_to_whatsapp_ad.json").read_text())
    meta_referral = example["entry"][0]["changes"][0]["value"]["messages"][0]["referral"]
    assert set(referral) == set(meta_referral) - {"media_type", "image_url", "welcome_message"}
    assert set(referral) == {"source_url", "source_id", "source_type", "headline", "body", "ctwa_clid"}
    assert all(isinstance(referral[key], str) and referral[key] for key in referral)


def test_say_without_a_referral_has_none(posted: Posted) -> None:
    assert devtools.main(["say", "hi", "--referral", "", "--api", API]) == 0  # what make say passes by default
    _, message = the_message(posted.calls[0]["content"])
    assert message.referral is None
    assert b"referral" not in posted.calls[0]["content"]


def test_flow_set_replaces_a_placeholder(monkeypatch: pytest.MonkeyPatch) -> None:
    posted = Posted(httpx.Response(201, json={"data": {"flowId": "f-3"}}), httpx.Response(200, text="{}"))
    monkeypatch.setattr(httpx, "post", posted)
    assert devtools.main(["flow", str(AD_OFFER), "--set", "AI_AGENT_ID=agent-42", "--api", API]) == 0
    created = posted.calls[0]["json"]
    [assistant] = [step for step in created["steps"] if step["id"] == "assistant"]
    assert assistant["aiAgentId"] == "agent-42"
    expected = json.loads(AD_OFFER.read_text().replace("AI_AGENT_ID", "agent-42"))
    assert created == {**expected, "shopId": "shop-1"}


def test_flow_set_is_repeatable_and_values_stay_json(monkeypatch: pytest.MonkeyPatch) -> None:
    posted = Posted(httpx.Response(201, json={"data": {"flowId": "f-4"}}), httpx.Response(200, text="{}"))
    monkeypatch.setattr(httpx, "post", posted)
    argv = ["flow", str(AD_OFFER), "--set", "AI_AGENT_ID=a=1", "--set", 'HE20=MÃ "20"', "--api", API]
    assert devtools.main(argv) == 0
    created = posted.calls[0]["json"]
    assert next(s for s in created["steps"] if s["id"] == "assistant")["aiAgentId"] == "a=1"  # first = splits
    assert 'MÃ "20"' in next(s for s in created["steps"] if s["id"] == "offer")["content"]["text"]


@pytest.mark.parametrize("pair", ["NOT_IN_THE_FILE=x", "no-equals-sign", "=x"])
def test_flow_set_refuses_a_placeholder_it_cannot_apply(
    pair: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    posted = Posted()
    monkeypatch.setattr(httpx, "post", posted)
    assert devtools.main(["flow", str(AD_OFFER), "--set", pair, "--api", API]) == 2
    assert capsys.readouterr().err.strip()
    assert posted.calls == []  # nothing created


def test_template_event_posts_metas_signed_webhooks_for_each_change(
    posted: Posted, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["template-event", "--name", "order_update", "--status", "paused", "--quality", "RED", "--api", API]
    assert devtools.main(argv) == 0
    assert capsys.readouterr().out == '{"success":true}\n{"success":true}\n'
    status, quality = posted.calls
    for call in posted.calls:
        assert call["url"] == f"{API}/webhooks"
        assert is_valid(call["content"], call["headers"]["X-Hub-Signature-256"], LOCAL_DEFAULTS["META_APP_SECRET"])
    [entry] = WebhookDelivery.model_validate_json(status["content"]).entry
    assert entry.id == devtools.DEV_WABA_ID
    [change] = entry.changes
    assert change.field == "message_template_status_update"
    assert (change.value.message_template_name, change.value.message_template_language, change.value.event) == (
        "order_update",
        "vi",
        "PAUSED",
    )
    [change] = WebhookDelivery.model_validate_json(quality["content"]).entry[0].changes
    assert (change.field, change.value.new_quality_score) == ("message_template_quality_update", "RED")


def test_template_event_needs_a_change(posted: Posted) -> None:
    assert devtools.main(["template-event", "--name", "order_update", "--api", API]) == 2
    assert posted.calls == []


def test_statuses_has_the_simulator_post_them_and_says_to_whom(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``make statuses``: one control request to the Graph simulator (through the local stack's port); it
    prints how many statuses the simulator posted, and to whom."""
    simulator = GraphSimulator().start()
    try:
        for to in ("84907000002", "84907000001"):
            reply = httpx.post(
                f"{simulator.url}/v23.0/{devtools.DEV_PHONE_NUMBER_ID}/messages",
                headers={"Authorization": "Bearer EAAlocal"},
                json={"messaging_product": "whatsapp", "to": to, "type": "template", "template": {"name": "promo"}},
            )
            assert reply.status_code == 200
        posted = Posted(httpx.Response(200, json={"webhooks": simulator.status_webhooks("failed"), "postedTo": API}))
        monkeypatch.setattr(httpx, "post", posted)
        argv = ["statuses", "--status", "failed", "--to", "84907000001,84907000002", "--graph", simulator.url]
        assert devtools.main([*argv, "--phone-number-id", "106540352242926", "--error-code", "131049"]) == 0
    finally:
        simulator.stop()
    assert capsys.readouterr().out == "posted 2 failed statuses: 84907000001, 84907000002\n"
    [call] = posted.calls
    assert call["url"] == f"{simulator.url}/_simulator/statuses"
    assert call["json"] == {
        "status": "failed",
        "to": ["84907000001", "84907000002"],
        "phoneNumberId": "106540352242926",
        "errorCode": 131049,
    }


def test_statuses_for_every_message_by_default(posted: Posted) -> None:
    posted.replies.append(httpx.Response(200, json={"webhooks": [], "postedTo": API}))
    assert devtools.main(["statuses", "--status", "read", "--to", "", "--phone-number-id", "", "--waba", ""]) == 1
    [call] = posted.calls
    assert call["url"] == f"{devtools.DEFAULT_GRAPH}/_simulator/statuses"
    assert call["json"] == {"status": "read"}  # every message the simulator accepted, the README's account


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (httpx.Response(200, json={"webhooks": [], "postedTo": API}), "accepted no message to 84907000009"),
        (httpx.Response(400, json={"error": "status is one of"}), "answered 400"),
        (httpx.Response(200, json={"webhooks": [{"entry": []}], "postedTo": None}), "no webhook target"),
    ],
)
def test_statuses_that_posted_nothing_is_a_failed_command(
    posted: Posted, capsys: pytest.CaptureFixture[str], answer: httpx.Response, says: str
) -> None:
    posted.replies.append(answer)
    assert devtools.main(["statuses", "--status", "delivered", "--to", "84907000009"]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert says in captured.err
