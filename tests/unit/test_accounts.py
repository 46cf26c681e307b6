"""Accounts: connect (Graph check, KMS, tiers, conflicts), get, disconnect."""

from __future__ import annotations

import json

import pytest

from tests.support import ApiClient, AwsStack, make_token

SHOP = "shop-1"
OTHER = "shop-2"


def connect_body(shop: str = SHOP, number: str = "106540352242922", token: str = "EAAsecret-token-1") -> dict:
    return {
        "shopId": shop,
        "phoneNumberId": number,
        "accessToken": token,
        "webhookUrl": "https://shop.example/api/v1/whatsapp/webhooks",
    }


@pytest.fixture
def client(api: ApiClient) -> ApiClient:
    api.token = make_token([SHOP, OTHER])
    return api


def test_connect_answers_201_with_the_account_and_never_the_token(client: ApiClient, graph) -> None:
    graph.state.requests.clear()
    reply = client.post("/accounts", json_body=connect_body())

    assert reply.status == 201, reply.text
    body = reply.json
    assert body["success"] is True
    assert body["error"] is None
    assert body["pagination"] is None
    data = body["data"]
    assert data["shopId"] == SHOP
    assert data["phoneNumberId"] == "106540352242922"
    assert data["status"] == "active"
    assert data["messageTier"] == "tier_1"
    assert data["dailyLimit"] == 2000
    assert data["connectedAt"].endswith("Z")
    assert len(data["accountId"]) == 36
    assert "EAAsecret-token-1" not in reply.text
    assert "accessToken" not in data
    # The Graph API was asked about this number with this token.
    [call] = graph.state.requests
    assert call["method"] == "GET"
    assert call["path"] == "/v23.0/106540352242922"
    assert call["authorization"] == "Bearer EAAsecret-token-1"
    assert "whatsapp_business_manager_messaging_limit" in call["query"]["fields"]


def test_the_token_is_stored_encrypted_with_kms_and_decrypts_only_in_its_context(
    client: ApiClient, aws: AwsStack
) -> None:
    client.post("/accounts", json_body=connect_body())
    item = aws.client("dynamodb").get_item(
        TableName=aws.table_name, Key={"PK": {"S": f"SHOP#{SHOP}"}, "SK": {"S": "ACCOUNT"}}
    )["Item"]
    assert "EAAsecret-token-1" not in json.dumps(item, default=str)
    ciphertext = item["encryptedAccessToken"]["B"]
    kms = aws.client("kms")
    plain = kms.decrypt(
        CiphertextBlob=ciphertext, EncryptionContext={"shopId": SHOP, "phoneNumberId": "106540352242922"}
    )["Plaintext"]
    assert plain == b"EAAsecret-token-1"
    with pytest.raises(kms.exceptions.InvalidCiphertextException):
        kms.decrypt(CiphertextBlob=ciphertext, EncryptionContext={"shopId": OTHER, "phoneNumberId": "106540352242922"})


def test_get_shows_the_account_with_usage_and_no_token(client: ApiClient, aws: AwsStack) -> None:
    client.post("/accounts", json_body=connect_body())
    aws.client("dynamodb").put_item(
        TableName=aws.table_name,
        Item={"PK": {"S": f"SHOP#{SHOP}"}, "SK": {"S": f"ACCOUNT#USAGE#{_this_hour()}"}, "count": {"N": "17"}},
    )
    aws.client("dynamodb").put_item(  # a bucket older than the moving 24 hours does not count
        TableName=aws.table_name,
        Item={"PK": {"S": f"SHOP#{SHOP}"}, "SK": {"S": f"ACCOUNT#USAGE#{_this_hour(-25)}"}, "count": {"N": "5"}},
    )

    reply = client.get(f"/accounts/{SHOP}")

    assert reply.status == 200, reply.text
    data = reply.data
    assert data["messagesUsedToday"] == 17
    assert data["webhookUrl"] == "https://shop.example/api/v1/whatsapp/webhooks"
    assert data["status"] == "active"
    assert data["dailyLimit"] == 2000
    assert data["messageTier"] == "tier_1"
    assert set(data) >= {
        "accountId",
        "shopId",
        "phoneNumberId",
        "webhookUrl",
        "status",
        "messageTier",
        "dailyLimit",
        "messagesUsedToday",
        "connectedAt",
    }
    assert "EAAsecret" not in reply.text
    assert "encrypted" not in reply.text.lower()


def _this_hour(offset_hours: int = 0) -> str:
    from datetime import UTC, datetime, timedelta

    return (datetime.now(UTC) + timedelta(hours=offset_hours)).strftime("%Y-%m-%dT%H")


def test_get_unknown_shop_is_404(client: ApiClient) -> None:
    reply = client.get(f"/accounts/{SHOP}")
    assert reply.status == 404
    assert reply.code == "ACCOUNT_NOT_FOUND"
    assert reply.json["success"] is False


@pytest.mark.parametrize(
    ("meta_limit", "tier", "limit"),
    [
        ("TIER_250", "tier_0", 250),
        ("TIER_2K", "tier_1", 2000),
        ("TIER_10K", "tier_2", 10000),
        ("TIER_100K", "tier_3", 100000),
        ("TIER_UNLIMITED", "tier_unlimited", None),
        ("TIER_50", "tier_0", 50),
    ],
)
def test_meta_messaging_limit_maps_to_tier_and_daily_limit(client: ApiClient, graph, meta_limit, tier, limit) -> None:
    graph.state.numbers["555000111"] = {"messagingLimit": meta_limit}
    try:
        reply = client.post("/accounts", json_body=connect_body(number="555000111"))
    finally:
        graph.state.numbers.pop("555000111")
    assert reply.status == 201, reply.text
    assert (reply.data["messageTier"], reply.data["dailyLimit"]) == (tier, limit)


def test_connecting_again_is_409(client: ApiClient) -> None:
    assert client.post("/accounts", json_body=connect_body()).status == 201
    reply = client.post("/accounts", json_body=connect_body(number="999888777"))
    assert reply.status == 409
    assert reply.code == "ACCOUNT_ALREADY_CONNECTED"
    assert reply.field == "shopId"


def test_the_same_number_on_another_shop_is_409(client: ApiClient) -> None:
    assert client.post("/accounts", json_body=connect_body()).status == 201
    reply = client.post("/accounts", json_body=connect_body(shop=OTHER))
    assert reply.status == 409
    assert reply.code == "PHONE_NUMBER_IN_USE"
    assert reply.field == "phoneNumberId"


def test_an_invalid_token_is_422_with_metas_reason(client: ApiClient) -> None:
    reply = client.post("/accounts", json_body=connect_body(token="not-a-meta-token"))
    assert reply.status == 422
    assert reply.code == "INVALID_ACCESS_TOKEN"
    assert reply.field == "accessToken"
    assert "190" in reply.json["error"]
    assert client.get(f"/accounts/{SHOP}").status == 404  # nothing stored


def test_an_unknown_phone_number_is_422(client: ApiClient, graph) -> None:
    graph.state.faults.clear()
    from local.graph_simulator import Fault

    graph.state.faults.append(
        Fault(
            match="/123",
            status=400,
            count=1,
            body={
                "error": {
                    "message": "Unsupported get request.",
                    "type": "GraphMethodException",
                    "code": 100,
                    "error_subcode": 33,
                }
            },
        )
    )
    reply = client.post("/accounts", json_body=connect_body(number="123"))
    assert reply.status == 422
    assert reply.code == "PHONE_NUMBER_NOT_FOUND"
    assert reply.field == "phoneNumberId"


def test_graph_outage_is_502_and_nothing_is_stored(client: ApiClient, graph) -> None:
    from local.graph_simulator import Fault

    graph.state.faults.append(Fault(match="/4242", status=503, count=1, body={"error": {"message": "down"}}))
    reply = client.post("/accounts", json_body=connect_body(number="4242"))
    assert reply.status == 502
    assert reply.code == "GRAPH_API_UNAVAILABLE"
    assert client.get(f"/accounts/{SHOP}").status == 404


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"phoneNumberId": "1", "accessToken": "EAA"}, "shopId", "REQUIRED_FIELD"),
        ({"shopId": SHOP, "accessToken": "EAA"}, "phoneNumberId", "REQUIRED_FIELD"),
        ({"shopId": SHOP, "phoneNumberId": "1"}, "accessToken", "REQUIRED_FIELD"),
        ({"shopId": SHOP, "phoneNumberId": "12ab", "accessToken": "EAA"}, "phoneNumberId", "INVALID_FORMAT"),
        ({"shopId": SHOP, "phoneNumberId": 12, "accessToken": "EAA"}, "phoneNumberId", "INVALID_TYPE"),
        ({"shopId": SHOP, "phoneNumberId": "1", "accessToken": ""}, "accessToken", "TOO_SHORT"),
        (
            {"shopId": SHOP, "phoneNumberId": "1", "accessToken": "EAA", "webhookUrl": "http://plain.example"},
            "webhookUrl",
            "INVALID_FORMAT",
        ),
    ],
)
def test_invalid_connect_bodies_name_the_field(client: ApiClient, body: dict, field: str, code: str) -> None:
    reply = client.post("/accounts", json_body=body)
    assert reply.status == 400, reply.text
    assert (reply.field, reply.code) == (field, code)
    assert reply.json["success"] is False
    assert reply.json["data"] is None


@pytest.mark.parametrize("token", ["EAAé-token", "EAA\ntoken", "EAA token", "EAA\x7ftoken", "EAA\u2028"])
def test_an_access_token_that_is_not_visible_ascii_is_400_and_meta_is_not_called(
    client: ApiClient, graph, token: str
) -> None:
    """Found by the fuzzer: a non-ASCII token could not go into the Graph call's header (500), a line break
    failed the call as if Meta were down (502)."""
    graph.state.requests.clear()
    reply = client.post("/accounts", json_body=connect_body(token=token))
    assert reply.status == 400, reply.text
    assert (reply.field, reply.code) == ("accessToken", "INVALID_FORMAT")
    assert token not in reply.text
    assert graph.state.requests == []
    assert client.get(f"/accounts/{SHOP}").status == 404


def test_disconnect_keeps_the_account_visible_and_frees_the_number(client: ApiClient, aws: AwsStack) -> None:
    client.post("/accounts", json_body=connect_body())

    reply = client.delete(f"/accounts/{SHOP}")

    assert reply.status == 200
    assert reply.data == {"message": "Account disconnected successfully"}
    after = client.get(f"/accounts/{SHOP}")
    assert after.status == 200
    assert after.data["status"] == "disconnected"
    assert after.data["disconnectedAt"]
    item = aws.client("dynamodb").get_item(
        TableName=aws.table_name, Key={"PK": {"S": f"SHOP#{SHOP}"}, "SK": {"S": "ACCOUNT"}}
    )["Item"]
    assert "encryptedAccessToken" not in item  # the token is forgotten
    claim = aws.client("dynamodb").get_item(
        TableName=aws.table_name, Key={"PK": {"S": "PHONE#106540352242922"}, "SK": {"S": "PHONE"}}
    )
    assert "Item" not in claim  # webhooks for this number now find no shop
    # The number can be connected by another shop, and the shop can connect again.
    assert client.post("/accounts", json_body=connect_body(shop=OTHER)).status == 201
    assert client.post("/accounts", json_body=connect_body(number="777")).status == 201


def test_disconnecting_twice_is_404(client: ApiClient) -> None:
    client.post("/accounts", json_body=connect_body())
    assert client.delete(f"/accounts/{SHOP}").status == 200
    reply = client.delete(f"/accounts/{SHOP}")
    assert reply.status == 404
    assert reply.code == "ACCOUNT_NOT_FOUND"


def test_the_access_token_never_reaches_the_logs(client: ApiClient, capsys: pytest.CaptureFixture[str]) -> None:
    client.post("/accounts", json_body=connect_body(token="EAAtop-secret-in-logs"))
    client.get(f"/accounts/{SHOP}")
    client.post("/accounts", json_body=connect_body(token="EAAtop-secret-in-logs"))
    captured = capsys.readouterr()
    assert "EAAtop-secret-in-logs" not in captured.out + captured.err
