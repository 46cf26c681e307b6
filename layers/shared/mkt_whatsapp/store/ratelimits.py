"""Fixed one-minute windows per (shop or caller, bucket), counted with one atomic UpdateItem so every Lambda
instance shares the count."""

from __future__ import annotations

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import Table


def shop_window(shop_id: str, bucket: str) -> str:
    """The windows of a shop's requests in ``bucket``."""
    return keys.rate_window_pk(shop_id, bucket)


def caller_window(subject: str, bucket: str) -> str:
    """The windows of a caller's requests that acted on no shop."""
    return keys.principal_rate_window_pk(subject, bucket)


def count_request(table: Table, window_pk: str, window_start: int, expires_at: int) -> int:
    """Add one request to the window of ``window_pk`` (:func:`shop_window`, :func:`caller_window`) starting
    at ``window_start`` (epoch seconds); returns the new count."""
    attributes = table.update(
        window_pk,
        str(window_start),
        "ADD requests :one SET expiresAt = if_not_exists(expiresAt, :expires)",
        {":one": 1, ":expires": expires_at},
        return_values="UPDATED_NEW",
    )
    return int(attributes["requests"])
