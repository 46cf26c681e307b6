"""The api-v1 envelope on every answer: unknown routes, wrong methods, malformed JSON, schema errors."""

from __future__ import annotations

import re
import uuid

import pytest

from mkt_whatsapp.http.routes import ROUTES, ShopSource
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
        ("PATCH", "/accounts/shop-1", "DELETE, GET, HEAD"),
        ("PUT", "/accounts", "POST"),
        ("DELETE", "/webhooks", "GET, HEAD, POST"),
        ("POST", "/health", "GET, HEAD"),
        ("PATCH", "/flows/f1", "DELETE, GET, HEAD, PUT"),
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


# --- limits, media types, repeated parameters, methods --------------------------------------------------


def test_a_body_over_the_documented_size_is_413_before_it_is_read(client: ApiClient) -> None:
    from mkt_whatsapp.core.settings import MAX_BODY_BYTES

    at_limit = b'{"shopId": "shop-1", "pad": "' + b"x" * (MAX_BODY_BYTES - 31) + b'"}'
    assert len(at_limit) == MAX_BODY_BYTES
    reply = client.post("/accounts", data=at_limit, headers={"Content-Type": "application/json"})
    assert (reply.status, reply.code) == (400, "REQUIRED_FIELD"), reply.text[:300]  # read, then validated
    over = at_limit[:-2] + b'x"}'
    reply = client.post("/accounts", data=over, headers={"Content-Type": "application/json"})
    assert_error_envelope(reply, 413, "PAYLOAD_TOO_LARGE")
    assert reply.field == "body"
    assert f"limit is {MAX_BODY_BYTES} bytes" in reply.json["error"]
    assert len(reply.text) < 500


def test_an_oversized_body_that_is_not_utf8_is_413_too(client: ApiClient) -> None:
    """It reaches the function base64-encoded; its size is the decoded bytes'."""
    from mkt_whatsapp.core.settings import MAX_BODY_BYTES

    reply = client.post("/accounts", data=b"\xff" * (MAX_BODY_BYTES + 10), headers={"Content-Type": "application/json"})
    assert_error_envelope(reply, 413, "PAYLOAD_TOO_LARGE")


def test_an_oversized_body_without_a_token_is_401_first(client: ApiClient) -> None:
    reply = client.post("/accounts", data=b"x" * 2_000_000, headers={"Content-Type": "application/json"}, token="")
    assert_error_envelope(reply, 401, "MISSING_TOKEN")


def test_json_nested_past_the_parsers_limit_is_400_nesting_too_deep(client: ApiClient) -> None:
    from mkt_whatsapp.core.settings import MAX_JSON_DEPTH

    within = b'{"shopId": "shop-1", "x": ' + b"[" * (MAX_JSON_DEPTH - 1) + b"]" * (MAX_JSON_DEPTH - 1) + b"}"
    reply = client.post("/accounts", data=within, headers={"Content-Type": "application/json"})
    assert reply.code == "REQUIRED_FIELD", reply.text  # parsed: the body lacks its other fields
    for depth in (250, 1000, 100_000):
        deep = b"[" * depth + b"]" * depth
        reply = client.post("/accounts", data=deep, headers={"Content-Type": "application/json"})
        assert_error_envelope(reply, 400, "NESTING_TOO_DEEP")
        assert reply.field == "body"


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/json; charset=utf-16", "multipart/form-data"],
)
def test_a_body_declared_as_anything_but_utf8_json_is_415(client: ApiClient, content_type: str) -> None:
    reply = client.post("/accounts", data=b'{"shopId": "shop-1"}', headers={"Content-Type": content_type})
    assert_error_envelope(reply, 415, "UNSUPPORTED_MEDIA_TYPE")
    assert reply.field == "Content-Type"


@pytest.mark.parametrize("content_type", ["application/json", "Application/JSON; charset=UTF-8", None])
def test_json_bodies_are_read_with_or_without_their_charset_or_type(client: ApiClient, content_type) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    reply = client.post("/accounts", data=b'{"shopId": "shop-1"}', headers=headers)
    assert (reply.status, reply.code, reply.field) == (400, "REQUIRED_FIELD", "phoneNumberId"), reply.text


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/conversations", "shopId=shop-1&take=5&take=10"),
        ("/customers", "shopId=shop-1&shopId=shop-1"),
        ("/webhooks", "hub.mode=subscribe&hub.challenge=1&hub.challenge=2&hub.verify_token=x"),
    ],
)
def test_a_query_parameter_given_twice_is_400_naming_it(client: ApiClient, path: str, query: str) -> None:
    reply = client.get(f"{path}?{query}")
    assert_error_envelope(reply, 400, "DUPLICATE_PARAMETER")
    assert reply.field in ("take", "shopId", "hub.challenge")


@pytest.mark.parametrize(
    "path", ["/health", "/conversations?shopId=shop-1", "/accounts/shop-1", "/customers/849?shopId=shop-1"]
)
def test_head_answers_like_get_without_the_body(client: ApiClient, path: str) -> None:
    get = client.get(path)
    head = client.request("HEAD", path)
    assert head.status == get.status
    assert head.text == ""
    assert head.headers["Content-Type"] == get.headers["Content-Type"]
    assert head.headers.get("X-RateLimit-Limit") == get.headers.get("X-RateLimit-Limit")


def test_head_needs_the_token_where_get_does(client: ApiClient) -> None:
    reply = client.request("HEAD", "/conversations?shopId=shop-1", token="")
    assert reply.status == 401
    assert reply.text == ""
    assert reply.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("method", ["FOO", "TRACE", "PROPFIND"])
def test_a_method_no_route_knows_is_405_in_the_envelope_from_the_http_front(client: ApiClient, method: str) -> None:
    reply = client.request(method, "/conversations")
    assert_error_envelope(reply, 405, "METHOD_NOT_ALLOWED")
    assert reply.headers["Allow"] == "GET, HEAD"
    unknown = client.request(method, "/nothing-here")
    assert_error_envelope(unknown, 404, "ROUTE_NOT_FOUND")
    assert "message" not in unknown.json


def test_a_function_failure_is_answered_in_the_envelope_by_the_http_front(client: ApiClient, monkeypatch) -> None:
    """A handler that raises past its resolver is a bug; the local front still answers in the envelope."""
    import local.lambdas

    def crash(self, name: str, event: dict) -> None:
        try:
            raise RuntimeError("boom")
        except RuntimeError as error:
            raise local.lambdas.FunctionError(name, error) from error

    monkeypatch.setattr(local.lambdas.LocalLambdas, "invoke", crash)
    reply = client.get("/health")
    assert_error_envelope(reply, 502, "FUNCTION_FAILED")
    assert "boom" not in reply.text


ODD_IDS = ["x😀y", "nul%00byte", "quote%22d", "back%5Cslash"]
ROUTES_WITH_IDS = [r for r in ROUTES if "{" in r.path and r.requires_auth]


@pytest.mark.parametrize("route", ROUTES_WITH_IDS, ids=lambda r: r.route_key)
@pytest.mark.parametrize("odd", ODD_IDS)
def test_an_id_with_characters_no_id_has_is_404_for_that_resource(module_api: ApiClient, route, odd: str) -> None:
    """API Gateway routes such a path; Powertools' resolver matches letters, digits and URI punctuation
    only. The answer is the resource's own 404, never a 405 or a 5xx."""
    from urllib.parse import unquote

    shop = unquote(odd) if route.shop_source is ShopSource.PATH else "shop-1"
    path = re.sub(r"\{[^}]+\}", odd, route.path)
    body = b'{"shopId": "shop-1"}' if route.method in ("POST", "PUT") else None
    reply = module_api.request(
        route.method,
        f"{path}?shopId=shop-1" if route.shop_source is ShopSource.QUERY else path,
        data=body,
        headers={"Content-Type": "application/json"},
        token=make_token([shop], sub=f"prober-{uuid.uuid4().hex[:12]}"),  # its own caller's rate window
    )
    assert reply.status == 404, reply.text
    assert reply.field == re.findall(r"\{([^}]+)\}", route.path)[-1]
    assert reply.code.endswith("NOT_FOUND")
