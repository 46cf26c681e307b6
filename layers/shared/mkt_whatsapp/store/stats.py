"""Analytics counters in the single table (docs/analytics.md, "Counters").

- ``STATS#<shop>`` / ``H#<yyyy-mm-ddTHH>``: one UTC hour's counts (``inbound``, ``outbound``, ``failed``…).
- ``STATS#<shop>`` / ``D#<yyyy-mm-dd>``: the same counts for one UTC day (the hours' roll-up), so a
  range of days in UTC reads one item a day; and the message counters' share of each hour of it
  (``i@HH``, ``o@HH``, ``f@HH``: inbound, outbound, failed in UTC hour HH), so a day in any time zone a
  whole number of hours from UTC is made of two UTC day items (90 local days: 91 items, not 2,160 hours).
  Short names because the item's size is what a write of it costs (72 hour counters ≈ 600 bytes: the
  day item stays within the 1 KB of one write unit).
- ``STATSBATCH#<id>`` / ``BATCH``: a counted batch of table changes (kept two days, longer than the
  table's stream keeps a change): put in the same transaction as the batch's counts, on the condition
  that it is not there, so a batch delivered again is not counted again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write

BATCH_SK = "BATCH"
MARKER_SECONDS = 2 * 86400


# The counters whose hours are kept on the day item too, and the short name of each.
HOURLY_IN_DAY = {"inbound": "i", "outbound": "o", "failed": "f"}


def hour_counter(counter: str, hour: str) -> str:
    """The day item's attribute for ``counter`` in UTC hour ``hour`` (``"07"``): ``inbound`` → ``i@07``."""
    return f"{HOURLY_IN_DAY[counter]}@{hour}"


class AlreadyCounted(ConditionFailed):
    """This batch (or this part of it) was counted before."""


def add_op(table: Table, pk: str, sk: str, counts: Mapping[str, int]) -> Write:
    """Add ``counts`` to the counter item ``pk``/``sk`` (a shop's ``STATS#``, a campaign's funnel)."""
    names = {f"#c{index}": name for index, name in enumerate(counts)}
    values = {f":c{index}": int(value) for index, value in enumerate(counts.values())}
    return table.update_op(
        pk,
        sk,
        "ADD " + ", ".join(f"#c{index} :c{index}" for index in range(len(counts))),
        values,
        names=names,
    )


def marker_op(table: Table, batch: str, expires_at: int, size: int) -> Write:
    return table.put_op(
        {"PK": keys.stats_batch_pk(batch), "SK": BATCH_SK, "records": size, "expiresAt": expires_at},
        condition="attribute_not_exists(PK)",
        fails_with=AlreadyCounted,
    )


def read(table: Table, shop_id: str, sort_keys: Iterable[str]) -> dict[str, Item]:
    """The counter items of ``sort_keys`` (absent ones are missing), by sort key."""
    items = table.batch_get([(keys.stats_pk(shop_id), sk) for sk in sort_keys])
    return {str(item["SK"]): item for item in items}
