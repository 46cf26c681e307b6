"""An inbound Meta message as the API's ``content`` object (camelCase, one ``type`` per message kind).

| Meta type | content |
|---|---|
| ``text`` | ``{type: text, text}`` |
| ``image``/``video``/``audio``/``document``/``sticker`` | ``{type, mediaId, mimeType, sha256, caption?, filename?, voice?, animated?}`` (media are kept by id; not downloaded) |
| ``location`` | ``{type, latitude, longitude, name?, address?, url?}`` |
| ``contacts`` | ``{type, contacts: [...]}`` (Meta's contact cards, as sent) |
| ``interactive`` | ``{type: interactive, interactive: {type: button_reply, buttonReply: {id, title}}}`` or ``list_reply``/``listReply`` with ``description``; other interactive replies (e.g. ``nfm_reply``) kept as sent |
| ``button`` (template quick reply) | ``{type: button, button: {text, payload}}`` |
| ``reaction`` | ``{type: reaction, reaction: {messageId, emoji}}`` (no ``emoji``: the reaction was removed) |
| ``order`` | ``{type: order, order: {catalogId, text, productItems: [{productRetailerId, quantity, itemPrice, currency}]}}`` |
| ``system`` | ``{type: system, system: {type, body, waId?}}`` |
| ``unsupported`` or anything unknown | ``{type: unsupported, originalType, errors: [{code, title, message, details}]}`` |

A content larger than MAX_STORED_CONTENT_BYTES (never one WhatsApp sends: its longest text is 4,096
characters) is stored with each string cut to MAX_TEXT_CHARACTERS and ``truncated: {originalBytes}``
(:func:`bounded`): a message item must fit DynamoDB's 400 KB, and a signed event is stored, not dropped.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from mkt_whatsapp.whatsapp.webhook_models import InboundMessage, MetaError

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")


def _clean(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}


def meta_errors(errors: list[MetaError]) -> list[dict[str, Any]]:
    return [
        _clean(
            {
                "code": error.code,
                "title": error.title,
                "message": error.message,
                "details": (error.error_data or {}).get("details"),
            }
        )
        for error in errors
    ]


MAX_TEXT_CHARACTERS = 4096  # Meta's longest text field (a text message's body)
MAX_STORED_CONTENT_BYTES = 100_000


def bounded(content: dict[str, Any]) -> dict[str, Any]:
    """``content`` as stored: itself, or — when larger than MAX_STORED_CONTENT_BYTES — with every string cut
    to MAX_TEXT_CHARACTERS and the original size in ``truncated``."""
    size = len(json.dumps(content, ensure_ascii=False).encode())
    if size <= MAX_STORED_CONTENT_BYTES:
        return content
    cut = _cut_strings(content)
    return {**cut, "truncated": {"originalBytes": size}}


def _cut_strings(value: Any) -> Any:
    if isinstance(value, str):
        return value[:MAX_TEXT_CHARACTERS]
    if isinstance(value, dict):
        return {key: _cut_strings(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_cut_strings(item) for item in value]
    return value


def content_of(message: InboundMessage) -> dict[str, Any]:
    kind = message.type
    body = message.type_object()
    if kind == "text":
        return {"type": "text", "text": str(body.get("body", ""))}
    if kind in MEDIA_TYPES:
        return _clean(
            {
                "type": kind,
                "mediaId": body.get("id"),
                "mimeType": body.get("mime_type"),
                "sha256": body.get("sha256"),
                "caption": body.get("caption"),
                "filename": body.get("filename"),
                "voice": body.get("voice"),
                "animated": body.get("animated"),
            }
        )
    if kind == "location":
        return _clean(
            {
                "type": "location",
                "latitude": body.get("latitude"),
                "longitude": body.get("longitude"),
                "name": body.get("name"),
                "address": body.get("address"),
                "url": body.get("url"),
            }
        )
    if kind == "contacts":
        cards = (message.model_extra or {}).get("contacts")
        return {"type": "contacts", "contacts": cards if isinstance(cards, list) else []}
    if kind == "interactive":
        return {"type": "interactive", "interactive": _interactive(body)}
    if kind == "button":
        return {"type": "button", "button": _clean({"text": body.get("text"), "payload": body.get("payload")})}
    if kind == "reaction":
        return {
            "type": "reaction",
            "reaction": _clean({"messageId": body.get("message_id"), "emoji": body.get("emoji")}),
        }
    if kind == "order":
        return {"type": "order", "order": _order(body)}
    if kind == "system":
        return {
            "type": "system",
            "system": _clean(
                {"type": body.get("type"), "body": body.get("body"), "waId": body.get("wa_id") or body.get("new_wa_id")}
            ),
        }
    return {"type": "unsupported", "originalType": kind, "errors": meta_errors(message.errors)}


def _interactive(body: dict[str, Any]) -> dict[str, Any]:
    kind = body.get("type")
    if kind == "button_reply":
        reply = body.get("button_reply") or {}
        return {"type": "button_reply", "buttonReply": _clean({"id": reply.get("id"), "title": reply.get("title")})}
    if kind == "list_reply":
        reply = body.get("list_reply") or {}
        return {
            "type": "list_reply",
            "listReply": _clean(
                {"id": reply.get("id"), "title": reply.get("title"), "description": reply.get("description")}
            ),
        }
    return dict(body)


def _order(body: dict[str, Any]) -> dict[str, Any]:
    items = [
        _clean(
            {
                "productRetailerId": item.get("product_retailer_id"),
                "quantity": item.get("quantity"),
                "itemPrice": item.get("item_price"),
                "currency": item.get("currency"),
            }
        )
        for item in body.get("product_items") or []
        if isinstance(item, dict)
    ]
    return _clean({"catalogId": body.get("catalog_id"), "text": body.get("text"), "productItems": items})


def reply_context(message: InboundMessage) -> dict[str, Any] | None:
    """``context`` of a reply: the quoted message's wamid, its sender, and a referred product."""
    if not message.context:
        return None
    product = message.context.get("referred_product") or {}
    return _clean(
        {
            "whatsAppMessageId": message.context.get("id"),
            "from": message.context.get("from"),
            "forwarded": message.context.get("forwarded"),
            "frequentlyForwarded": message.context.get("frequently_forwarded"),
            "referredProduct": _clean(
                {"catalogId": product.get("catalog_id"), "productRetailerId": product.get("product_retailer_id")}
            )
            or None,
        }
    )


def referral_of(message: InboundMessage) -> dict[str, Any] | None:
    """Click-to-WhatsApp ad context, as Meta sends it (camelCase)."""
    if not message.referral:
        return None
    r = message.referral
    return _clean(
        {
            "sourceUrl": r.get("source_url"),
            "sourceId": r.get("source_id"),
            "sourceType": r.get("source_type"),
            "headline": r.get("headline"),
            "body": r.get("body"),
            "mediaType": r.get("media_type"),
            "imageUrl": r.get("image_url"),
            "videoUrl": r.get("video_url"),
            "thumbnailUrl": r.get("thumbnail_url"),
            "ctwaClid": r.get("ctwa_clid"),
        }
    )


def typed_text(content: Mapping[str, Any]) -> str | None:
    """The words a customer typed in a stored message's ``content``: a text's, or a media caption."""
    kind = content.get("type")
    if kind == "text":
        text = content.get("text")
        return str(text.get("body", "")) if isinstance(text, dict) else str(text or "")
    if kind in ("image", "video", "document") and content.get("caption"):
        return str(content["caption"])
    return None


def readable_text(content: Mapping[str, Any]) -> str | None:
    """What a reader (an AI model) can read of a stored message: what was typed, or the title of the
    button or list row the customer chose."""
    typed = typed_text(content)
    if typed is not None:
        return typed
    kind = content.get("type")
    if kind == "button":
        return str((content.get("button") or {}).get("text") or "") or None
    if kind == "interactive":
        interactive = content.get("interactive") or {}
        reply = interactive.get("buttonReply") or interactive.get("listReply") or {}
        return str(reply.get("title") or "") or None
    return None
