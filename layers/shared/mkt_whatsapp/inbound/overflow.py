"""Signed events too large for a queue message, kept in S3 instead of dropped.

The receiver cuts a change down to single events to fit SQS's 1 MiB (:mod:`mkt_whatsapp.inbound.packing`);
an event larger than that on its own (a message with a megabyte of text: not what WhatsApp sends, but
signed by Meta, so ours to keep) is put in the inbound overflow bucket and a small pointer unit is queued in
its place. The processor reads the unit back from S3 and applies it like any other.

- The object's key is the SHA-256 of the unit's JSON, so Meta's redeliveries of the event write the same
  object again (no duplicates) and a pointer never names another event.
- The bucket (template.yaml, ``InboundOverflowBucket``) is private, encrypted (SSE-S3), TLS only, and
  expires objects after 30 days: SQS keeps a message 14 days in the queue and the dead-letter queue's clock
  keeps its first enqueue time, so a pointer outlives its message in either, and a unit queued again by the
  processor after a partial failure still finds its object.
- Objects are not deleted once applied: a redelivery of the same event may still be queued with the same
  pointer, and the lifecycle rule removes them at no request cost.
- The webhook function may only put objects under ``inbound/``, the inbound processor only read them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from mkt_whatsapp.core import aws
from mkt_whatsapp.core.errors import ConfigurationError
from mkt_whatsapp.core.settings import get_settings

KEY_PREFIX = "inbound/"
POINTER = "overflowKey"


def _bucket() -> str:
    bucket = get_settings().inbound_overflow_bucket
    if not bucket:
        raise ConfigurationError("INBOUND_OVERFLOW_BUCKET is not configured")
    return bucket


def keep(unit: Mapping[str, Any], body: str) -> dict[str, Any]:
    """Put the unit's JSON (``body``) in the overflow bucket; returns the pointer unit to queue instead."""
    key = f"{KEY_PREFIX}{hashlib.sha256(body.encode()).hexdigest()}.json"
    aws.s3().put_object(Bucket=_bucket(), Key=key, Body=body.encode(), ContentType="application/json")
    return {"entryId": unit.get("entryId"), "field": unit.get("field"), POINTER: key, "bytes": len(body)}


def is_pointer(unit: Mapping[str, Any]) -> bool:
    return isinstance(unit.get(POINTER), str)


def load(unit: Mapping[str, Any]) -> Mapping[str, Any]:
    """The unit itself: read from the overflow bucket when ``unit`` points there."""
    if not is_pointer(unit):
        return unit
    stored = aws.s3().get_object(Bucket=_bucket(), Key=str(unit[POINTER]))["Body"].read()
    loaded = json.loads(stored)
    if not isinstance(loaded, dict):
        raise ValueError(f"overflow object {unit[POINTER]} is not a change")
    return loaded
