"""Per-shop rate limits counted in DynamoDB: 60/min on the public API, 10/min on analytics."""

from __future__ import annotations

import pytest

from mkt_whatsapp.http import ratelimit
from tests.support import ApiClient, AwsStack, make_token, reset_caches

WINDOW_START = 1_800_000_000 - (1_800_000_000 % 60)


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The limiter's clock, 15 s into a window; tests move it by assigning now[0]."""
    now = [WINDOW_START + 15.0]
    monkeypatch.setattr(ratelimit, "_now", lambda: now[0])
    return now


@pytest.fixture
def client(api: ApiClient) -> ApiClient:
    api.token = make_token(["shop-1", "shop-2"])
    return api


def test_the_61st_public_call_in_a_minute_is_429_with_retry_after(client: ApiClient, frozen_clock) -> None:
    for number in range(1, 61):
        reply = client.get("/accounts/shop-1")
        assert reply.status == 404, reply.text  # under the limit: the request runs (no account yet)
        assert reply.headers["X-RateLimit-Limit"] == "60"
        assert reply.headers["X-RateLimit-Remaining"] == str(60 - number)

    limited = client.get("/accounts/shop-1")

    assert limited.status == 429
    assert limited.json == {
        "success": False,
        "data": None,
        "error": "Rate limit exceeded: 60 requests per minute for this shop",
        "details": {"field": None, "code": "RATE_LIMIT_EXCEEDED"},
        "pagination": None,
    }
    assert limited.headers["Retry-After"] == "45"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["X-RateLimit-Limit"] == "60"


def test_another_shop_is_unaffected_and_the_next_window_starts_afresh(client: ApiClient, frozen_clock) -> None:
    for _ in range(61):
        client.get("/accounts/shop-1")
    assert client.get("/accounts/shop-1").status == 429
    assert client.get("/accounts/shop-2").status == 404
    frozen_clock[0] = WINDOW_START + 60.0
    assert client.get("/accounts/shop-1").status == 404


def test_limits_count_every_route_of_the_public_api_together(client: ApiClient, frozen_clock) -> None:
    for _ in range(30):
        client.get("/accounts/shop-1")
    for _ in range(30):
        client.get("/conversations", query={"shopId": "shop-1"})
    assert client.get("/customers", query={"shopId": "shop-1"}).status == 429


def test_the_11th_analytics_call_is_429_and_analytics_do_not_use_the_public_quota(
    client: ApiClient, frozen_clock
) -> None:
    for _ in range(10):
        reply = client.get("/analytics/messages", query={"shopId": "shop-1"})
        assert reply.status != 429
        assert reply.headers["X-RateLimit-Limit"] == "10"
    limited = client.get("/analytics/conversations", query={"shopId": "shop-1"})
    assert limited.status == 429
    assert limited.headers["Retry-After"] == "45"
    assert client.get("/accounts/shop-1").headers["X-RateLimit-Remaining"] == "59"


def test_rejected_callers_do_not_spend_the_shops_quota(client: ApiClient, frozen_clock) -> None:
    outsider = make_token(["shop-9"], sub="outsider")
    for number in range(1, 61):
        refused = client.get("/accounts/shop-1", token=outsider)
        assert refused.status == 403, refused.text
        # Counted against the outsider itself: probing other shops is rate limited too.
        assert refused.headers["X-RateLimit-Remaining"] == str(60 - number)
        assert client.get("/accounts/shop-1", token="garbage").status == 401
    assert client.get("/accounts/shop-1", token=outsider).status == 429
    assert client.get("/accounts/shop-1").headers["X-RateLimit-Remaining"] == "59"


def test_webhooks_and_health_are_never_rate_limited(client: ApiClient, frozen_clock) -> None:
    for _ in range(70):
        assert client.get("/health", token="").status == 200
    reply = client.get("/health", token="")
    assert "X-RateLimit-Limit" not in reply.headers


def test_the_limits_are_settings(client: ApiClient, frozen_clock, monkeypatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_PER_MINUTE", "3")
    reset_caches()
    try:
        assert [client.get("/accounts/shop-1").status for _ in range(4)] == [404, 404, 404, 429]
    finally:
        monkeypatch.delenv("RATE_LIMIT_PER_MINUTE")
        reset_caches()


def test_windows_are_shared_through_the_table_with_a_ttl(client: ApiClient, aws: AwsStack, frozen_clock) -> None:
    client.get("/accounts/shop-1")
    item = aws.client("dynamodb").get_item(
        TableName=aws.table_name, Key={"PK": {"S": "RATE#shop-1#public"}, "SK": {"S": str(WINDOW_START)}}
    )["Item"]
    assert item["requests"] == {"N": "1"}
    assert int(item["expiresAt"]["N"]) == WINDOW_START + 120


@pytest.mark.parametrize(
    ("method", "path", "body", "answer"),
    [
        ("GET", "/conversations/no-such-conversation", None, 404),  # a resource that is not there
        ("POST", "/accounts", {"shopId": "shop-1"}, 400),  # a body that does not validate
        ("POST", "/flows", {"shop_id": "shop-1"}, 422),  # a flow whose shop is misspelled (flows answer 422)
        ("GET", "/conversations?shopId=shop-9", None, 403),  # a shop the token does not hold
        ("GET", "/conversations?shopId=shop-1&shopId=shop-1", None, 400),  # a parameter given twice
    ],
)
def test_requests_that_act_on_no_shop_count_against_the_caller(
    client: ApiClient, frozen_clock, method: str, path: str, body: dict | None, answer: int
) -> None:
    """Probing for ids or schemas is rate limited too: a request that names no shop it may act on counts
    against its caller (the JWT's subject), after it has been answered."""
    for number in range(1, 61):
        reply = client.request(method, path, json_body=body)
        assert reply.status == answer, reply.text
        assert reply.headers["X-RateLimit-Remaining"] == str(60 - number)
    limited = client.request(method, path, json_body=body)
    assert limited.status == 429, limited.text
    assert limited.json["error"] == "Rate limit exceeded: 60 requests per minute for this caller"
    assert limited.headers["Retry-After"] == "45"
    # The caller's own window is apart from its shops': shop-1's requests are still admitted.
    assert client.get("/accounts/shop-1").status == 404
    another_caller = client.request(method, path, json_body=body, token=make_token(["shop-1"], sub="agent-2"))
    assert another_caller.status == answer
