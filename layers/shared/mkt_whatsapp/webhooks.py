"""Meta's webhook endpoint: the verification handshake and signed deliveries."""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger

from mkt_whatsapp import secrets
from mkt_whatsapp.errors import BadRequest, Forbidden, Unauthorized
from mkt_whatsapp.store import get_table, phone_numbers
from mkt_whatsapp.whatsapp import signature

logger = Logger(child=True)


def verify_subscription(query: Mapping[str, str]) -> str:
    """``GET /webhooks``: echo ``hub.challenge`` when Meta presents our verify token."""
    mode, token, challenge = (query.get(name) for name in ("hub.mode", "hub.verify_token", "hub.challenge"))
    for name, value in (("hub.mode", mode), ("hub.verify_token", token), ("hub.challenge", challenge)):
        if not value:
            raise BadRequest(f"Validation failed: {name} is required", code="REQUIRED_FIELD", field=name)
    expected = secrets.webhook_verify_token()
    if mode != "subscribe" or not hmac.compare_digest(str(token).encode(), expected.encode()):
        raise Forbidden("Webhook verification failed", code="VERIFICATION_FAILED", field="hub.verify_token")
    return str(challenge)


def raw_body(event: Mapping[str, Any]) -> bytes:
    """The bytes Meta sent: API Gateway may hand them over base64-encoded."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return str(body).encode()


def authenticate_delivery(body: bytes, signature_header: str | None) -> None:
    if not signature.is_valid(body, signature_header, secrets.meta_app_secret()):
        raise Unauthorized("Invalid or missing X-Hub-Signature-256", code="INVALID_SIGNATURE")


def phone_number_ids(payload: Any) -> list[str]:
    """Every ``metadata.phone_number_id`` in a WhatsApp delivery (empty for anything else)."""
    if not isinstance(payload, dict) or payload.get("object") != "whatsapp_business_account":
        return []
    found: list[str] = []
    for entry in payload.get("entry") or []:
        for change in (entry or {}).get("changes") or [] if isinstance(entry, dict) else []:
            value = change.get("value") if isinstance(change, dict) else None
            metadata = value.get("metadata") if isinstance(value, dict) else None
            number = metadata.get("phone_number_id") if isinstance(metadata, dict) else None
            if isinstance(number, str) and number not in found:
                found.append(number)
    return found


def receive(body: bytes) -> int:
    """Acknowledge a signed delivery. Deliveries that are not WhatsApp payloads, or that name a number no
    connected account owns, are acknowledged and logged so Meta does not retry them forever.
    Returns how many of the delivery's phone numbers belong to connected accounts."""
    try:
        payload = json.loads(body)
    except ValueError:
        logger.warning("signed webhook body is not JSON; acknowledged", extra={"bytes": len(body)})
        return 0
    numbers = phone_number_ids(payload)
    if not numbers:
        logger.warning("signed webhook is not a WhatsApp delivery; acknowledged")
        return 0
    table = get_table()
    owned = [number for number in numbers if phone_numbers.phone_claim(table, number) is not None]
    if len(owned) < len(numbers):
        logger.info(
            "webhook for unconnected phone numbers acknowledged",
            extra={"phoneNumberIds": sorted(set(numbers) - set(owned))},
        )
    # Processing of messages and statuses is the inbound feature's (issue 3); this acknowledges them.
    return len(owned)
