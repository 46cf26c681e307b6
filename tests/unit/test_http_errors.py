"""The api-v1 envelope on every answer: unknown routes, wrong methods, malformed JSON, schema errors."""

from __future__ import annotations

import pytest

from mkt_whatsapp.http.validation import field_path, validation_error
from tests.support import ApiClient, make_token


@pytest.fixture
def client(module_api: ApiClient) -> ApiClient:
    module_api.token = make_token(["shop-1"])
    return module_api


def assert_error_envelope(reply, status: int, code: str) -> None:
    assert reply.status == status, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    body = reply.json
    assert body["success"] is False
    assert body["data"] is None
    assert isinstance(body["error"], str)
    assert body["error"]
    assert body["details"]["code"] == code
    assert "Traceback" not in reply.text


@pytest.mark.parametrize("path", ["/nope", "/accounts/shop-1/extra", "/conversations/c1/archive", "/", ""])
def test_unknown_routes_are_404(client: ApiClient, path: str) -> None:
    reply = client.get(path)
    assert_error_envelope(reply, 404, "ROUTE_NOT_FOUND")


def test_paths_outside_the_api_are_404_too(client: ApiClient) -> None:
    assert_error_envelope(client.get("/favicon.ico"), 404, "ROUTE_NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PATCH", "/accounts/shop-1", "DELETE, GET"),
        ("PUT", "/accounts", "POST"),
        ("DELETE", "/webhooks", "GET, POST"),
        ("POST", "/health", "GET"),
        ("DELETE", "/flows/f1", "PUT"),
    ],
)
def test_wrong_methods_are_405_with_allow(client: ApiClient, method: str, path: str, allow: str) -> None:
    reply = client.request(method, path)
    assert_error_envelope(reply, 405, "METHOD_NOT_ALLOWED")
    assert reply.headers["Allow"] == allow


@pytest.mark.parametrize("body", [b"{", b"not json", b'{"shopId": "shop-1",}'])
def test_malformed_json_is_400(client: ApiClient, body: bytes) -> None:
    reply = client.post("/accounts", data=body, headers={"Content-Type": "application/json"})
    assert reply.status == 400, reply.text
    assert reply.json["success"] is False
    assert reply.code == "INVALID_JSON"


def test_malformed_json_names_the_body(client: ApiClient) -> None:
    reply = client.post("/accounts", data=b'{"shopId": ', headers={"Content-Type": "application/json"})
    assert_error_envelope(reply, 400, "INVALID_JSON")
    assert reply.field == "body"


@pytest.mark.parametrize("body", [b"[]", b'"text"', b"42", b"null"])
def test_a_body_of_the_wrong_shape_is_400(client: ApiClient, body: bytes) -> None:
    reply = client.post("/accounts", data=body, headers={"Content-Type": "application/json"})
    assert reply.status == 400, reply.text
    assert reply.json["success"] is False


def test_validation_names_the_first_bad_field_in_camel_case(client: ApiClient) -> None:
    reply = client.post("/accounts", json_body={"shopId": "shop-1", "phoneNumberId": "x1", "accessToken": ""})
    assert_error_envelope(reply, 400, "INVALID_FORMAT")
    assert reply.field == "phoneNumberId"
    assert reply.json["error"].startswith("Validation failed: phoneNumberId")


def test_a_huge_body_is_refused_cleanly(client: ApiClient) -> None:
    reply = client.post("/accounts", json_body={"shopId": "shop-1", "phoneNumberId": "1", "accessToken": "E" * 10000})
    assert_error_envelope(reply, 400, "TOO_LONG")
    assert reply.field == "accessToken"


@pytest.mark.parametrize(
    ("location", "name"),
    [
        (("body", "shopId"), "shopId"),
        (("body", "content", "interactive", "action", "buttons", 3), "content.interactive.action.buttons[3]"),
        (("body", "content", "buttons", 0, "title"), "content.buttons[0].title"),
        (("query", "take"), "take"),
        (("body",), "body"),
        (("body", 17), "body"),
    ],
)
def test_field_paths_read_like_the_request(location: tuple, name: str) -> None:
    assert field_path(location) == name


def test_validation_codes_are_stable() -> None:
    assert validation_error([{"type": "missing", "loc": ("body", "a"), "msg": "Field required"}]).code == (
        "REQUIRED_FIELD"
    )
    assert validation_error([{"type": "int_parsing", "loc": ("query", "take"), "msg": "x"}]).code == "INVALID_TYPE"
    assert validation_error([{"type": "something_new", "loc": ("body", "a"), "msg": "x"}]).code == "INVALID_VALUE"
    assert validation_error([]).field == "body"


def test_a_body_that_is_not_utf8_is_400(module_aws) -> None:
    """API Gateway hands such a body over base64-encoded; the handler answers 400, never 500."""
    import base64
    import json

    from local.make_events import http_event
    from tests.support import lambdas

    event = http_event(
        "POST",
        "/accounts",
        "/accounts",
        body=b"\xff\xfe{",
        base64_body=True,
        headers={"authorization": f"Bearer {make_token(['shop-1'])}", "content-type": "application/json"},
    )
    assert base64.b64decode(event["body"]) == b"\xff\xfe{"
    result = lambdas().invoke("AccountsFunction", event)
    assert result["statusCode"] == 400
    assert json.loads(result["body"])["details"] == {"field": "body", "code": "INVALID_JSON"}


def test_a_transaction_another_request_collided_with_is_409_not_500(api: ApiClient, monkeypatch) -> None:
    """DynamoDB's TransactionConflict (another transaction on the same items at that moment): nothing was
    written, so the caller may retry; it is mapped once, for every route."""
    from mkt_whatsapp.store import accounts as account_store
    from mkt_whatsapp.store.table import TransactionConflict
    from tests.support import connect_shop

    connect_shop(api, "shop-conflict", "106540352240601")

    def collide(*_args: object, **_kwargs: object) -> None:
        raise TransactionConflict("transaction conflict: ['TransactionConflict', 'None']")

    monkeypatch.setattr(account_store, "disconnect", collide)
    reply = api.delete("/accounts/shop-conflict")
    assert reply.status == 409, reply.text
    assert reply.code == "CONCURRENT_UPDATE"
    assert reply.headers["X-RateLimit-Limit"]
    assert api.get("/accounts/shop-conflict").data["status"] == "active"


def test_a_validation_error_quotes_at_most_an_excerpt_of_the_input(api: ApiClient) -> None:
    """pydantic quotes a bad discriminator's value in its message: a 1 MB ``content.type`` must not come
    back as a 1 MB error."""
    from mkt_whatsapp.inbound import processor
    from tests.support import connect_shop, inbound_text_change

    connect_shop(api, "shop-excerpt", "106540352240701")
    processor.process_change(inbound_text_change("106540352240701", "84907770007", "wamid.EXCERPT-1"))
    [conversation] = api.get("/conversations", query={"shopId": "shop-excerpt"}).data["conversations"]
    huge = "x" * 1_000_000
    reply = api.post(f"/conversations/{conversation['id']}/messages", json_body={"content": {"type": huge}})
    assert (reply.status, reply.field, reply.code) == (400, "content.type", "INVALID_VALUE")
    assert len(reply.text) < 1_000
    assert reply.json["error"].startswith("Validation failed: content.type: ")


@pytest.mark.parametrize("body", [b"\xff\xfe{", '{"shopId": "shop-1"}'.encode("utf-16")], ids=["raw-ff", "utf-16"])
def test_a_body_that_is_not_utf8_is_400_through_the_http_front(client: ApiClient, body: bytes) -> None:
    """API Gateway hands it over base64-encoded (local.apigw_seams makes SAM's front do the same): a 400 in
    the envelope, never SAM's 502."""
    reply = client.post("/accounts", data=body, headers={"Content-Type": "application/json"})
    assert (reply.status, reply.field, reply.code) == (400, "body", "INVALID_JSON"), reply.text
