"""Fixed one-minute windows per (shop, bucket), counted with one atomic UpdateItem so every Lambda
instance shares the count."""

from __future__ import annotations

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import Table


def count_request(table: Table, shop_id: str, bucket: str, window_start: int, expires_at: int) -> int:
    """Add one request to the window starting at ``window_start`` (epoch seconds); returns the new count."""
    attributes = table.update(
        keys.rate_window_pk(shop_id, bucket),
        str(window_start),
        "ADD requests :one SET expiresAt = if_not_exists(expiresAt, :expires)",
        {":one": 1, ":expires": expires_at},
        return_values="UPDATED_NEW",
    )
    return int(attributes["requests"])
