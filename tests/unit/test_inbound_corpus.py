"""The conformance corpus: complete Meta webhook bodies, one per message type and status, and a batched
delivery — each signed, POSTed, processed by the inbound processor and read back through the API,
field by field."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from mkt_whatsapp.core.clock import iso, meta_time
from tests.support import ApiClient, AwsStack, connect_shop, deliver

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
SHOP = "shop-1"
PHONE_NUMBER_ID = "106540352242922"
WA_ID = "84901234567"
BSUID = "VN.1349870655223189"

EXPECTED_CONTENT = {
    "text": {"type": "text", "text": "Xin chào, shop còn hàng không?"},
    "text_reply_with_context": {"type": "text", "text": "Cái này còn màu đỏ không?"},
    "text_from_click_to_whatsapp_ad": {"type": "text", "text": "Tôi muốn hỏi về khuyến mãi"},
    "image": {
        "type": "image",
        "mediaId": "1003383421387256",
        "mimeType": "image/jpeg",
        "sha256": "SfInY0gGKTsJlUWbwxC1k+FAD0FZHvzwfpvO0zX0GUI=",
        "caption": "Ảnh sản phẩm bị lỗi",
    },
    "video": {
        "type": "video",
        "mediaId": "1003383421387257",
        "mimeType": "video/mp4",
        "sha256": "c2hhMjU2dmlkZW8=",
        "caption": "Video mở hộp",
    },
    "audio_voice_note": {
        "type": "audio",
        "mediaId": "1003383421387258",
        "mimeType": "audio/ogg; codecs=opus",
        "sha256": "c2hhMjU2YXVkaW8=",
        "voice": True,
    },
    "document": {
        "type": "document",
        "mediaId": "1003383421387259",
        "mimeType": "application/pdf",
        "sha256": "c2hhMjU2ZG9j",
        "caption": "Hóa đơn",
        "filename": "hoa-don-0042.pdf",
    },
    "sticker": {
        "type": "sticker",
        "mediaId": "1003383421387260",
        "mimeType": "image/webp",
        "sha256": "c2hhMjU2c3RpY2tlcg==",
        "animated": False,
    },
    "location": {
        "type": "location",
        "latitude": 21.028511,
        "longitude": 105.804817,
        "name": "Cửa hàng Hà Nội",
        "address": "1 Tràng Tiền, Hoàn Kiếm, Hà Nội",
        "url": "https://maps.example/hn",
    },
    "contacts": {
        "type": "contacts",
        "contacts": [
            {
                "name": {"first_name": "Lan", "last_name": "Trần", "formatted_name": "Trần Lan"},
                "phones": [{"phone": "+84 90 555 2319", "wa_id": "84905552319", "type": "MOBILE"}],
            }
        ],
    },
    "interactive_button_reply": {
        "type": "interactive",
        "interactive": {"type": "button_reply", "buttonReply": {"id": "buy", "title": "Mua hàng"}},
    },
    "interactive_list_reply": {
        "type": "interactive",
        "interactive": {
            "type": "list_reply",
            "listReply": {"id": "express", "title": "Giao nhanh", "description": "Trong 2 giờ"},
        },
    },
    "button_template_quick_reply": {
        "type": "button",
        "button": {"text": "Dừng khuyến mãi", "payload": "STOP_PROMOTIONS"},
    },
    "reaction": {"type": "reaction", "reaction": {"messageId": "wamid.OUTBOUND0005", "emoji": "\U0001f44d"}},
    "reaction_removed": {"type": "reaction", "reaction": {"messageId": "wamid.OUTBOUND0005"}},
    "order": {
        "type": "order",
        "order": {
            "catalogId": "194836987003835",
            "text": "Giao trước 5 giờ",
            "productItems": [
                {"productRetailerId": "di9ozbzfi4", "quantity": 2, "itemPrice": 30.5, "currency": "USD"},
                {"productRetailerId": "nqryix03ez", "quantity": 1, "itemPrice": 25, "currency": "USD"},
            ],
        },
    },
    "system_user_changed_number": {
        "type": "system",
        "system": {
            "type": "user_changed_number",
            "body": "User Nguyễn Văn A changed from 84901234567 to 84907654321",
            "waId": "84907654321",
        },
    },
    "unsupported": {
        "type": "unsupported",
        "originalType": "unsupported",
        "errors": [
            {
                "code": 131051,
                "title": "Message type unknown",
                "message": "Message type unknown",
                "details": "Message type is currently not supported.",
            }
        ],
    },
    "unknown_type": {"type": "unsupported", "originalType": "hologram", "errors": []},
    "username_user_without_phone": {"type": "text", "text": "Chào shop"},
}


def corpus(name: str) -> dict:
    return json.loads((CORPUS / f"{name}.json").read_text())


@pytest.fixture
def shop(api: ApiClient) -> ApiClient:
    return connect_shop(api, SHOP)


def only_conversation(api: ApiClient) -> dict:
    listing = api.get("/conversations", query={"shopId": SHOP})
    assert listing.status == 200, listing.text
    [conversation] = listing.data["conversations"]
    detail = api.get(f"/conversations/{conversation['id']}")
    assert detail.status == 200, detail.text
    return detail.data


def test_every_message_type_of_the_corpus_is_listed() -> None:
    names = {path.stem for path in CORPUS.glob("*.json")}
    assert set(EXPECTED_CONTENT) <= names
    assert {
        "status_sent",
        "status_delivered",
        "status_read",
        "status_failed",
        "batch_entries_changes_messages",
    } <= names


@pytest.mark.parametrize("name", sorted(EXPECTED_CONTENT))
def test_each_message_type_is_stored_field_by_field(shop: ApiClient, aws: AwsStack, name: str) -> None:
    body = corpus(name)
    meta_message = body["entry"][0]["changes"][0]["value"]["messages"][0]

    assert deliver(shop, aws, body) == 1

    conversation = only_conversation(shop)
    [message] = conversation["messages"]
    assert message["content"] == EXPECTED_CONTENT[name]
    assert message["direction"] == "inbound"
    assert message["whatsAppMessageId"] == meta_message["id"]
    assert message["timestamp"] == iso(meta_time(meta_message["timestamp"]))
    assert message["status"] == "received"
    assert conversation["messageCount"] == 1
    # The corpus is Meta's examples with fixed timestamps: the 24-hour window decides the one status.
    within_window = time.time() - int(meta_message["timestamp"]) < 24 * 3600
    assert conversation["status"] == ("active" if within_window else "expired")
    assert conversation["shopId"] == SHOP


def test_reply_context_is_kept(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, corpus("text_reply_with_context"))
    [message] = only_conversation(shop)["messages"]
    assert message["context"] == {
        "whatsAppMessageId": "wamid.OUTBOUND0001",
        "from": "15550783881",
        "referredProduct": {"catalogId": "194836987003835", "productRetailerId": "di9ozbzfi4"},
    }


def test_click_to_whatsapp_referral_is_kept(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, corpus("text_from_click_to_whatsapp_ad"))
    [message] = only_conversation(shop)["messages"]
    assert message["referral"] == {
        "sourceUrl": "https://fb.me/3cr4Wqqkv",
        "sourceId": "120226305854810726",
        "sourceType": "ad",
        "headline": "Chat với chúng tôi",
        "body": "Giảm 50% hôm nay",
        "mediaType": "image",
        "imageUrl": "https://scontent.xx.fbcdn.net/v/t45.1/ad.jpg",
        "ctwaClid": "Aff-n8ZTODiE79d22KtAwQ",
    }


def test_the_customer_is_created_from_the_contact(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, corpus("text"))
    for identifier in (WA_ID, BSUID):
        reply = shop.get(f"/customers/{identifier}", query={"shopId": SHOP})
        assert reply.status == 200, reply.text
        customer = reply.data
        assert customer["waId"] == WA_ID
        assert customer["bsuid"] == BSUID
        assert customer["name"] == "Nguyễn Văn A"
        assert customer["createdAt"] == iso(meta_time("1767225601"))
        assert customer["lastContactedAt"] == customer["createdAt"]
        assert customer["stats"] == {"conversationCount": 1, "averageResponseTime": None, "lastPurchaseDate": None}
        assert customer["consent"] == {"status": "unknown", "timestamp": None, "source": None}


def test_an_order_sets_the_last_purchase_date(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, corpus("order"))
    stats = shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data["stats"]
    assert stats["lastPurchaseDate"] == iso(meta_time("1767225616"))[:10]


def test_a_username_user_without_a_phone_is_kept_by_bsuid(shop: ApiClient, aws: AwsStack) -> None:
    assert deliver(shop, aws, corpus("username_user_without_phone")) == 1
    customer = shop.get("/customers/VN.9988776655", query={"shopId": SHOP})
    assert customer.status == 200
    assert customer.data["waId"] is None
    assert customer.data["username"] == "@binh.shop"
    assert only_conversation(shop)["customer"]["bsuid"] == "VN.9988776655"


def test_a_batch_of_entries_changes_and_messages_is_processed_whole(shop: ApiClient, aws: AwsStack) -> None:
    deliver(shop, aws, corpus("batch_entries_changes_messages"))
    listing = shop.get("/conversations", query={"shopId": SHOP}).data
    assert listing["totalCount"] == 2
    by_customer = {c["customerWaId"]: c for c in listing["conversations"]}
    assert by_customer[WA_ID]["messageCount"] == 2
    assert by_customer["84909999999"]["messageCount"] == 1
    assert by_customer["84909999999"]["customerName"] == "Trần Thị B"
    texts = [m["content"]["text"] for m in shop.get(f"/conversations/{by_customer[WA_ID]['id']}").data["messages"]]
    assert texts == ["Tin nhắn 1", "Tin nhắn 2"]
    customers = shop.get("/customers", query={"shopId": SHOP}).data
    assert customers["totalCount"] == 2


def test_the_system_number_change_is_recorded_and_the_new_number_finds_the_customer(
    shop: ApiClient, aws: AwsStack
) -> None:
    deliver(shop, aws, corpus("text"))
    deliver(shop, aws, corpus("system_user_changed_number"))
    [conversation] = shop.get("/conversations", query={"shopId": SHOP}).data["conversations"]
    assert conversation["messageCount"] == 2
    old = shop.get(f"/customers/{WA_ID}", query={"shopId": SHOP}).data
    new = shop.get("/customers/84907654321", query={"shopId": SHOP}).data
    assert new["id"] == old["id"]
    assert new["waId"] == "84907654321"
