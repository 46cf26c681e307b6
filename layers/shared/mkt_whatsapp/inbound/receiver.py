"""Meta's webhook endpoint: the verification handshake and signed deliveries.

A signed delivery is split into its ``messages`` changes and its template changes (``message_template_
status_update``, ``message_template_quality_update``, ``template_category_update``: a template's status,
quality or category, whole, with the time Meta stated it, ``entry[].time``) and handed to the inbound
queue before the 200,
several changes a queue message and ten messages a SendMessageBatch call (:mod:`~mkt_whatsapp.inbound.packing`
says why and how; a delivery of 500 changes is two calls); the inbound processor (functions/inbound)
stores the messages exactly once. The receiver makes no other AWS call, except an S3 put for an event too
large for a queue message (:mod:`~mkt_whatsapp.inbound.overflow`), so it answers in milliseconds."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from mkt_whatsapp.core import queues, secrets
from mkt_whatsapp.core.errors import ConfigurationError, Forbidden, Unauthorized
from mkt_whatsapp.core.settings import get_settings
from mkt_whatsapp.inbound import overflow, packing
from mkt_whatsapp.whatsapp import signature
from mkt_whatsapp.whatsapp.templates import TEMPLATE_FIELDS

logger = Logger(child=True)


def verify_subscription(mode: str, verify_token: str, challenge: str) -> str:
    """``GET /webhooks``: the challenge to echo when Meta presents our verify token."""
    expected = secrets.webhook_verify_token()
    if mode != "subscribe" or not hmac.compare_digest(verify_token.encode(), expected.encode()):
        raise Forbidden("Webhook verification failed", code="VERIFICATION_FAILED", field="hub.verify_token")
    return challenge


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The bytes Meta sent: API Gateway may hand them over base64-encoded."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode()


def authenticate_delivery(body: bytes, signature_header: str | None) -> None:
    if not signature.is_valid(body, signature_header, secrets.meta_app_secret()):
        raise Unauthorized("Invalid or missing X-Hub-Signature-256", code="INVALID_SIGNATURE")


def change_units(payload: Any) -> list[dict[str, Any]]:
    """The WhatsApp ``messages`` and template changes of a delivery, one unit per ``entry[].changes[]``
    (anything else, such as group or account updates, is acknowledged and not processed). A template
    change keeps its entry's ``time``, which orders it among the template's others."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return []
    units: list[dict[str, Any]] = []
    for entry in payload.get("entry") or [] if isinstance(payload.get("entry"), list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("changes"), list):
            continue
        for change in entry["changes"]:
            if not isinstance(change, dict):
                continue
            field = change.get("field")
            if field in TEMPLATE_FIELDS and isinstance(change.get("value"), dict):
                value = change["value"]
                units.append({"entryId": entry.get("id"), "time": entry.get("time"), "field": field, "value": value})
                continue
            if field != "messages":
                continue
            value = change.get("value")
            metadata = value.get("metadata") if isinstance(value, dict) else None
            if not isinstance(metadata, dict):
                continue
            if isinstance(metadata.get("phone_number_id"), str):
                units.append({"entryId": entry.get("id"), "field": "messages", "value": value})
    return units


def queue_bodies(units: list[dict[str, Any]]) -> list[str]:
    """The inbound queue's messages for a delivery's units: cut into pieces that fit, any event too large
    for a queue message kept in S3 behind a pointer, then packed several units a message."""
    encoded: list[tuple[str, int]] = []
    for unit in units:
        for piece, body in packing.encoded_pieces(unit):
            if len(body) > packing.MAX_UNIT_BYTES:
                pointer = overflow.keep(piece, body)
                logger.info(
                    "WhatsApp event too large for the queue; kept in S3",
                    extra={"entryId": unit.get("entryId"), "bytes": len(body), "key": pointer[overflow.POINTER]},
                )
                encoded.append((packing.encode(pointer), 1))
            else:
                encoded.append((body, packing.event_count(piece)))
    return packing.pack(encoded)


def receive(body: bytes) -> int:
    """Hand a signed delivery on durably (the inbound queue) and return how many changes were queued.
    Deliveries that are not WhatsApp message payloads are acknowledged and logged, never retried forever."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested deeper than the parser goes:
        # acknowledged (Meta would retry a 5xx for days) and recorded by its size and digest
        logger.warning(
            "signed webhook body is not JSON; acknowledged",
            extra={"bytes": len(body), "sha256": hashlib.sha256(body).hexdigest()},
        )
        return 0
    units = change_units(payload)
    if not units:
        logger.info("signed webhook carries no WhatsApp messages or template change; acknowledged")
        return 0
    queue_url = get_settings().inbound_queue_url
    if not queue_url:
        raise ConfigurationError("INBOUND_QUEUE_URL is not configured")
    bodies = queue_bodies(units)
    queues.send_all(queue_url, bodies)
    return len(units)
