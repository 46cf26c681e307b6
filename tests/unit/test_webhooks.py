"""Meta's webhook endpoint: the verification handshake and signature checks on the raw bytes."""

from __future__ import annotations

import json

import pytest

from local.make_events import http_event, webhook_body
from mkt_whatsapp.whatsapp.signature import sign
from tests.support import META_APP_SECRET, META_EXAMPLES, ApiClient, lambdas, meta_example, meta_examples

CONFORMANCE = META_EXAMPLES
# Meta's webhook examples in ../shared/conformance/meta, every one of which must be there.
WEBHOOK_EXAMPLES = [
    "webhook__button_message.json",
    "webhook__contact_sharing_message.json",
    "webhook__group_create_message.json",
    "webhook__group_remove_participants.json",
    "webhook__group_settings_update.json",
    "webhook__image_message.json",
    "webhook__interactive_button_reply_message.json",
    "webhook__interactive_list_reply_message.json",
    "webhook__location_message.json",
    "webhook__order_message.json",
    "webhook__reaction_message.json",
    "webhook__system_message.json",
    "webhook__text_message.json",
    "webhook__text_message_from_click_to_whatsapp_ad.json",
    "webhook__text_message_with_context_product_inquiry.json",
    "webhook__unsupported_message.json",
]
VERIFY_TOKEN = "unit-test-verify-token"


def meta_body(name: str = "webhook__text_message.json") -> bytes:
    """Meta's own example body, as Meta sends it: non-ASCII escaped as \\uXXXX, '/' as '\\/'."""
    payload = json.loads(meta_example(name).read_text())
    return json.dumps(payload, ensure_ascii=True).replace("/", "\\/").encode()


def post(api: ApiClient, body: bytes, signature: str | None):
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers["X-Hub-Signature-256"] = signature
    return api.post("/webhooks", data=body, headers=headers, token="")


# --- GET /webhooks ---------------------------------------------------------------------------------


def test_verification_echoes_the_challenge_as_text(module_api: ApiClient) -> None:
    reply = module_api.get(
        "/webhooks",
        token="",
        query={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"},
    )
    assert reply.status == 200
    assert reply.text == "1158201444"
    assert reply.headers["Content-Type"].startswith("text/plain")


@pytest.mark.parametrize(
    "query",
    [
        {"hub.mode": "subscribe", "hub.verify_token": "wrong", "hub.challenge": "1"},
        {"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"},
    ],
)
def test_verification_with_the_wrong_token_or_mode_is_403(module_api: ApiClient, query: dict) -> None:
    reply = module_api.get("/webhooks", token="", query=query)
    assert reply.status == 403
    assert reply.code == "VERIFICATION_FAILED"


@pytest.mark.parametrize("missing", ["hub.mode", "hub.verify_token", "hub.challenge"])
def test_verification_without_a_parameter_is_400(module_api: ApiClient, missing: str) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1"}
    del query[missing]
    reply = module_api.get("/webhooks", token="", query=query)
    assert reply.status == 400
    assert (reply.field, reply.code) == (missing, "REQUIRED_FIELD")


# --- POST /webhooks: signatures ----------------------------------------------------------------------


def test_a_correctly_signed_delivery_is_acknowledged(module_api: ApiClient) -> None:
    body = meta_body()
    reply = post(module_api, body, sign(body, META_APP_SECRET))
    assert reply.status == 200
    assert reply.json == {"success": True}


@pytest.mark.parametrize(
    ("case", "signature"),
    [
        ("wrong secret", lambda body: sign(body, "another-app-secret")),
        ("missing header", lambda body: None),
        ("empty header", lambda body: ""),
        ("sha1 instead of sha256", lambda body: "sha1=" + sign(body, META_APP_SECRET)[7:47]),
        ("no prefix", lambda body: sign(body, META_APP_SECRET)[7:]),
        ("tampered body", lambda body: sign(body.replace(b"another", b"a-third"), META_APP_SECRET)),
    ],
)
def test_bad_signatures_are_401(module_api: ApiClient, case: str, signature) -> None:
    body = meta_body()
    reply = post(module_api, body, signature(body))
    assert reply.status == 401, case
    assert reply.code == "INVALID_SIGNATURE"


def test_the_signature_covers_the_raw_bytes_not_a_reserialisation(module_api: ApiClient) -> None:
    body = webhook_body()  # Vietnamese text, escaped as Meta escapes it
    assert b"\\u1ec5" in body
    reserialised = json.dumps(json.loads(body)).encode()
    assert reserialised != body  # Meta's escaping does not survive a parse and dump
    assert post(module_api, body, sign(body, META_APP_SECRET)).status == 200
    assert post(module_api, body, sign(reserialised, META_APP_SECRET)).status == 401


def test_non_ascii_bytes_signed_as_sent_verify(module_api: ApiClient) -> None:
    body = json.dumps(
        {
            "object": "whatsapp_business_account",
            "entry": [
                {
                    "id": "1",
                    "changes": [
                        {
                            "value": {
                                "messaging_product": "whatsapp",
                                "metadata": {"phone_number_id": "1"},
                                "messages": [
                                    {
                                        "from": "84901234567",
                                        "id": "wamid.X",
                                        "timestamp": "1",
                                        "type": "text",
                                        "text": {"body": "Xin chào, tôi muốn mua điện thoại"},
                                    }
                                ],
                            },
                            "field": "messages",
                        }
                    ],
                }
            ],
        },
        ensure_ascii=False,
    ).encode()
    assert post(module_api, body, sign(body, META_APP_SECRET)).status == 200


def test_a_base64_encoded_body_from_api_gateway_is_decoded_before_verifying(module_aws) -> None:
    body = meta_body()
    event = http_event(
        "POST",
        "/webhooks",
        "/webhooks",
        body=body,
        base64_body=True,
        headers={"content-type": "application/json", "x-hub-signature-256": sign(body, META_APP_SECRET)},
    )
    assert lambdas().invoke("WebhooksFunction", event)["statusCode"] == 200
    event["headers"]["x-hub-signature-256"] = sign(event["body"].encode(), META_APP_SECRET)
    assert lambdas().invoke("WebhooksFunction", event)["statusCode"] == 401


# --- POST /webhooks: what is signed but not ours -----------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"object": "page", "entry": []}',
        b'{"object": "whatsapp_business_account", "entry": "nope"}',
        b'{"object": "whatsapp_business_account", "entry": [{"changes": [null, 3, {"value": []}]}]}',
        b"{" + b'"a": "' + b"x" * 3_000_000 + b'"}',
        b"[" * 1000 + b"]" * 1000,
        b"\xff\xfe{\x00",
    ],
    ids=[
        "empty",
        "not-json",
        "array",
        "page-object",
        "entry-not-list",
        "wrong-shapes",
        "3MB",
        "nested-1000",
        "not-utf8",
    ],
)
def test_signed_bodies_that_are_not_whatsapp_deliveries_are_acknowledged(module_api: ApiClient, body: bytes) -> None:
    reply = post(module_api, body, sign(body, META_APP_SECRET))
    assert reply.status == 200
    assert reply.json == {"success": True}


def test_metas_webhook_examples_are_all_there() -> None:
    assert CONFORMANCE.is_dir(), f"{CONFORMANCE} is missing"
    assert set(WEBHOOK_EXAMPLES) <= set(meta_examples("webhook__*.json"))


@pytest.mark.parametrize("name", meta_examples("webhook__*.json"))
def test_every_meta_example_is_acknowledged(module_api: ApiClient, name: str) -> None:
    body = meta_body(name)
    assert post(module_api, body, sign(body, META_APP_SECRET)).status == 200
