"""Meta's webhook endpoint: the verification handshake and signature checks on the raw bytes, for both
event sources the webhooks function has: the HTTP API route and the function URL Meta is given (output
WebhookUrl). Every test through ``module_api`` runs once with each."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from local.function_urls import function_url_event
from local.make_events import http_event, webhook_body
from mkt_whatsapp.core.settings import API_BASE_PATH
from mkt_whatsapp.inbound import processor
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store import messages as message_store
from mkt_whatsapp.whatsapp.signature import sign
from tests.support import (
    META_APP_SECRET,
    META_EXAMPLES,
    ApiClient,
    AwsStack,
    ShopIds,
    connect_shop,
    drain_inbound,
    lambdas,
    local_api,
    meta_example,
    meta_examples,
    queue_depth,
    whatsapp_delivery,
)

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
EVENT_SOURCES = ["http-api", "function-url"]


@pytest.fixture(scope="session")
def function_url_app() -> object:
    """SAM's local API with the function URL's path served as the local stack serves it."""
    return local_api(with_function_urls=True)


@pytest.fixture(scope="module", params=EVENT_SOURCES)
def module_api(request: pytest.FixtureRequest, module_aws: AwsStack, _sam_api: object) -> ApiClient:
    """The webhook path over HTTP, as an HTTP API route (HTTP API events) or as the function URL
    (function-URL events); the same handler answers both."""
    return ApiClient(_sam_api if request.param == "http-api" else request.getfixturevalue("function_url_app"))


def webhook_event(
    source: str,
    method: str,
    *,
    query: dict[str, str] | None = None,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """A request to the webhook path as the webhooks function receives it from ``source``."""
    if source == "http-api":
        return http_event(
            method, "/webhooks", "/webhooks", query=query, body=body, headers=headers, base64_body=base64_body
        )
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    all_headers = dict(headers or {})
    if base64_body:  # Lambda base64-encodes a body whose type is not text
        all_headers["content-type"] = "application/octet-stream"
    event = function_url_event(
        "WebhooksFunction",
        method,
        API_BASE_PATH + "/webhooks",
        raw_query=raw_query,
        headers=all_headers,
        body=body or b"",
    )
    assert event["isBase64Encoded"] is base64_body
    return event


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


@pytest.mark.parametrize("source", EVENT_SOURCES)
def test_a_base64_encoded_body_is_decoded_before_verifying(module_aws, source: str) -> None:
    body = meta_body()
    event = webhook_event(
        source,
        "POST",
        body=body,
        base64_body=True,
        headers={"content-type": "application/json", "x-hub-signature-256": sign(body, META_APP_SECRET)},
    )
    assert base64.b64decode(event["body"]) == body
    assert lambdas().invoke("WebhooksFunction", event)["statusCode"] == 200
    event["headers"]["x-hub-signature-256"] = sign(event["body"].encode(), META_APP_SECRET)
    assert lambdas().invoke("WebhooksFunction", event)["statusCode"] == 401


# --- both event sources, invoked directly: the handshake, a delivery stored once, a forgery refused ------


def invoke(event: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = lambdas().invoke("WebhooksFunction", event)
    return result


@pytest.mark.parametrize("source", EVENT_SOURCES)
def test_the_verification_handshake_from_either_source(module_aws, source: str) -> None:
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "987654321"}
    result = invoke(webhook_event(source, "GET", query=query))
    assert (result["statusCode"], result["body"]) == (200, "987654321")
    assert result["headers"]["Content-Type"].startswith("text/plain")
    result = invoke(webhook_event(source, "GET", query={**query, "hub.verify_token": "wrong"}))
    assert result["statusCode"] == 403
    assert json.loads(result["body"])["details"]["code"] == "VERIFICATION_FAILED"


def customer_text(ids: ShopIds, wamid: str) -> bytes:
    message = {
        "from": "84901234567",
        "id": wamid,
        "timestamp": "1767225600",
        "type": "text",
        "text": {"body": "Xin chào"},
    }
    value = {"contacts": [{"profile": {"name": "Nguyễn Văn A"}, "wa_id": "84901234567"}], "messages": [message]}
    return json.dumps(whatsapp_delivery(ids.phone_number_id, value), ensure_ascii=True).encode()


def signed_post(source: str, body: bytes, signature: str | None, *, base64_body: bool = False) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-hub-signature-256"] = signature
    return webhook_event(source, "POST", body=body, headers=headers, base64_body=base64_body)


@pytest.mark.parametrize("base64_body", [False, True], ids=["text-body", "base64-body"])
@pytest.mark.parametrize("source", EVENT_SOURCES)
def test_a_signed_delivery_from_either_source_is_stored_exactly_once(
    api: ApiClient, aws: AwsStack, shop_ids: ShopIds, source: str, base64_body: bool
) -> None:
    connect_shop(api)
    wamid = f"wamid.{source}.{base64_body}"
    body = customer_text(shop_ids, wamid)
    event = signed_post(source, body, sign(body, META_APP_SECRET), base64_body=base64_body)

    assert invoke(event)["statusCode"] == 200
    assert invoke(event)["statusCode"] == 200  # Meta delivers at least once
    assert drain_inbound(aws) == 2

    stored = message_store.get(get_table(), processor.inbound_message_id(shop_ids.shop_id, wamid))
    assert stored is not None
    listing = api.get("/conversations", query={"shopId": shop_ids.shop_id}).data
    assert [c["messageCount"] for c in listing["conversations"]] == [1]


@pytest.mark.parametrize(
    "signature",
    [lambda body: sign(body, "another-app-secret"), lambda body: None, lambda body: "sha256=00"],
    ids=["wrong-secret", "missing", "garbage"],
)
@pytest.mark.parametrize("source", EVENT_SOURCES)
def test_a_badly_signed_delivery_from_either_source_is_401_and_stores_nothing(
    api: ApiClient, aws: AwsStack, shop_ids: ShopIds, source: str, signature: Callable[[bytes], str | None]
) -> None:
    connect_shop(api)
    body = customer_text(shop_ids, f"wamid.forged.{source}")
    result = invoke(signed_post(source, body, signature(body)))
    assert result["statusCode"] == 401
    assert json.loads(result["body"])["details"]["code"] == "INVALID_SIGNATURE"
    assert queue_depth(aws, "InboundQueue") == 0
    assert drain_inbound(aws) == 0
    assert api.get("/conversations", query={"shopId": shop_ids.shop_id}).data["totalCount"] == 0


def test_other_methods_on_the_function_url_are_405_with_allow(module_aws) -> None:
    result = invoke(webhook_event("function-url", "PUT", body=b"{}", headers={"content-type": "application/json"}))
    assert result["statusCode"] == 405
    assert result["headers"]["Allow"] == "GET, HEAD, POST"


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


def test_the_webhook_path_gets_function_url_events_where_the_function_url_is_served(
    module_aws, function_url_app: object, request: pytest.FixtureRequest, monkeypatch
) -> None:
    http_api_app = request.getfixturevalue("_sam_api")
    seen: list[tuple[str, str, str]] = []
    invoke_function = lambdas().invoke

    def spy(name: str, event: dict[str, Any]) -> Any:
        seen.append((name, event["routeKey"], event["requestContext"]["domainName"]))
        return invoke_function(name, event)

    monkeypatch.setattr(lambdas(), "invoke", spy)
    query = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "5"}
    for app in (function_url_app, http_api_app):
        assert ApiClient(app).get("/webhooks", token="", query=query).text == "5"
    assert seen[0] == ("WebhooksFunction", "$default", "webhooksfunction0000000000000000.lambda-url.us-east-1.on.aws")
    assert seen[1][:2] == ("WebhooksFunction", "GET /api/v1/whatsapp/webhooks")
    # Every other path of the function-URL app is still SAM's HTTP API.
    seen.clear()
    assert ApiClient(function_url_app).get("/health", token="").status == 200
    assert seen[0][:2] == ("SystemFunction", "GET /api/v1/whatsapp/health")
