"""AWS calls per request are the cost: counted with botocore's event hooks on the service's clients."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

from tests.support import ApiClient, counted_aws_calls, make_token


@pytest.fixture
def calls(api: ApiClient) -> Iterator[Counter[str]]:
    with counted_aws_calls() as counter:
        yield counter


def test_get_account_makes_two_calls_the_rate_limit_counter_and_one_query(api: ApiClient, calls) -> None:
    api.token = make_token(["shop-1"])
    assert (
        api.post("/accounts", json_body={"shopId": "shop-1", "phoneNumberId": "1", "accessToken": "EAA"}).status == 201
    )
    calls.clear()

    assert api.get("/accounts/shop-1").status == 200

    assert calls == Counter({"dynamodb:UpdateItem": 1, "dynamodb:Query": 1})


def test_health_makes_one_read_and_a_rejected_token_makes_none(api: ApiClient, calls) -> None:
    assert api.get("/health", token="").status == 200
    assert calls == Counter({"dynamodb:GetItem": 1})
    calls.clear()
    assert api.get("/accounts/shop-1", token="garbage").status == 401
    assert sum(calls.values()) == 0
    # A valid token refused the shop costs one write: its caller's rate window (probing is counted).
    assert api.get("/accounts/shop-1", token=make_token(["other"])).status == 403
    assert calls == Counter({"dynamodb:UpdateItem": 1})
