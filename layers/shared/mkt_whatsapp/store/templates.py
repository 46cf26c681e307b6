"""Message templates: one item per (shop, name, language) in the shop's partition
(``SHOP#<shopId>`` / ``TEMPLATE#<name>#<language>``), as Meta last told us — by a sync (GET
message_templates) or a webhook.

**Three aspects, each with the time Meta stated it.** A template's status (with ``rejectedReason``), its
quality score and its category change independently, each through its own webhook, so each keeps the
time of what it holds: ``statusAt``, ``qualityAt``, ``categoryAt`` (epoch seconds), and the events applied
in that second (``statusEvents``…, a string set). An event is applied only when it is newer than what the
aspect holds, or of the same second and not applied yet (Meta's times are whole seconds; within one second
the last to arrive wins). So a redelivered webhook changes nothing, and a webhook delivered late (Meta
retries for days) cannot undo a newer one. A sync states every aspect as of the moment it began: a
webhook of an earlier second loses to it, a webhook of that second or later wins.

Everything is a conditional UpdateItem: no read before a write, and an event for a template not synced yet
creates what it names (name, language, status, Meta's id); its components come with the next sync.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from botocore.exceptions import ClientError

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import Item, Table

STATUS, QUALITY, CATEGORY = "status", "quality", "category"
# What each aspect holds, besides its time and events.
ASPECT_FIELDS: Mapping[str, tuple[str, ...]] = {
    STATUS: ("status", "rejectedReason"),
    QUALITY: ("qualityScore",),
    CATEGORY: ("category",),
}
# What a sync states beside the aspects (Meta's definition of the template).
DEFINITION_FIELDS = ("components", "parameterFormat", "metaTemplateId")
_INTERNAL = ("PK", "SK", "entity", "statusEvents", "qualityEvents", "categoryEvents")


def _at(aspect: str) -> str:
    return f"{aspect}At"


def _events(aspect: str) -> str:
    return f"{aspect}Events"


def _identity(shop_id: str, name: str, language: str) -> dict[str, Any]:
    return {"entity": "template", "shopId": shop_id, "name": name, "language": language}


def public(item: Item) -> Item:
    """A stored template without its keys and bookkeeping."""
    return {key: value for key, value in item.items() if key not in _INTERNAL}


def get(table: Table, shop_id: str, name: str, language: str, *, consistent: bool = True) -> Item | None:
    item = table.get(keys.shop_pk(shop_id), keys.template_sk(name, language), consistent=consistent)
    return public(item) if item else None


def list_for(
    table: Table, shop_id: str, *, status: str | None = None, category: str | None = None, consistent: bool = False
) -> list[Item]:
    """The shop's templates in name then language order (one Query of its partition's ``TEMPLATE#`` items;
    ``status`` and ``category`` filtered by DynamoDB)."""
    conditions, values, names = [], {}, {}
    if status:
        conditions.append("#status = :status")
        values[":status"], names["#status"] = status, "status"
    if category:
        conditions.append("#category = :category")
        values[":category"], names["#category"] = category, "category"
    items = table.query_prefix(
        keys.shop_pk(shop_id),
        keys.TEMPLATE_PREFIX,
        consistent=consistent,
        filter_expression=" AND ".join(conditions) or None,
        values=values,
        names=names,
    )
    return [public(item) for item in items]


class _Update:
    """One UpdateItem's expression, every attribute name and value by placeholder (``status``, ``name`` and
    ``language`` are DynamoDB reserved words)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}
        self.values: dict[str, Any] = {}
        self.sets: list[str] = []
        self.removes: list[str] = []
        self.adds: list[str] = []

    def name(self, attribute: str) -> str:
        placeholder = f"#a{len(self.names)}"
        self.names[placeholder] = attribute
        return placeholder

    def value(self, value: Any) -> str:
        placeholder = f":v{len(self.values)}"
        self.values[placeholder] = value
        return placeholder

    def set(self, attribute: str, value: Any, *, if_absent: bool = False) -> None:
        if value is None:
            if not if_absent:
                self.removes.append(self.name(attribute))
            return
        name, placeholder = self.name(attribute), self.value(value)
        self.sets.append(f"{name} = if_not_exists({name}, {placeholder})" if if_absent else f"{name} = {placeholder}")

    def remove(self, attribute: str) -> None:
        self.removes.append(self.name(attribute))

    def add(self, attribute: str, value: Any) -> None:
        self.adds.append(f"{self.name(attribute)} {self.value(value)}")

    @property
    def expression(self) -> str:
        parts = []
        if self.sets:
            parts.append("SET " + ", ".join(self.sets))
        if self.removes:
            parts.append("REMOVE " + ", ".join(self.removes))
        if self.adds:
            parts.append("ADD " + ", ".join(self.adds))
        return " ".join(parts)

    def apply(self, table: Table, shop_id: str, name: str, language: str, condition: str | None) -> bool:
        """Write it (under ``condition``, None: always); whether it was written."""
        pk, sk = keys.shop_pk(shop_id), keys.template_sk(name, language)
        if condition is None:
            table.update(pk, sk, self.expression, self.values, names=self.names)
            return True
        try:
            table.update(pk, sk, self.expression, self.values, names=self.names, condition=condition)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _not_newer_than(update: _Update, aspect: str, at: str) -> str:
    """The aspect holds nothing stated after ``at`` (a placeholder)."""
    name = update.name(_at(aspect))
    return f"(attribute_not_exists({name}) OR {name} <= {at})"


def apply_event(
    table: Table,
    shop_id: str,
    name: str,
    language: str,
    *,
    aspect: str,
    at: int,
    event: str,
    fields: Mapping[str, Any],
    fill: Mapping[str, Any] | None = None,
    now: str,
) -> bool:
    """Apply one webhook's change of ``aspect`` (its ``fields``) stated by Meta at ``at`` (epoch seconds):
    written only if the aspect holds nothing newer and ``event`` (what the webhook says, e.g. the status)
    was not applied in that second already. ``fill`` sets attributes the template does not have yet (Meta's
    id, the category a status webhook names). Returns whether it was applied (False: a redelivery or a late
    event: nothing written)."""

    def attempt(same_second: bool) -> bool:
        update = _Update()
        for attribute, value in {**_identity(shop_id, name, language), "updatedAt": now}.items():
            update.set(attribute, value)
        for attribute, value in fields.items():
            update.set(attribute, value)
        for attribute, value in (fill or {}).items():
            update.set(attribute, value, if_absent=True)
        update.set(_at(aspect), at)
        at_name, when = update.name(_at(aspect)), update.value(at)
        if same_second:
            update.add(_events(aspect), {event})
            events_name = update.name(_events(aspect))
            condition = f"{at_name} = {when} AND NOT contains({events_name}, {update.value(event)})"
        else:
            update.set(_events(aspect), {event})
            condition = f"attribute_not_exists({at_name}) OR {at_name} < {when}"
        return update.apply(table, shop_id, name, language, condition)

    return attempt(same_second=False) or attempt(same_second=True)


def put_synced(table: Table, shop_id: str, definition: Mapping[str, Any], *, at: int, now: str) -> None:
    """Store a template as a sync read it from Meta, every aspect stated as of ``at`` (when the sync began,
    epoch seconds). An aspect a webhook changed since (of that second or later) keeps the webhook's word:
    the sync then writes the definition and the other aspects only."""
    name, language = str(definition["name"]), str(definition["language"])

    def write(aspects: Sequence[str], *, definition_too: bool) -> bool:
        update = _Update()
        for attribute, value in {**_identity(shop_id, name, language), "syncedAt": now, "updatedAt": now}.items():
            update.set(attribute, value)
        if definition_too:
            for attribute in DEFINITION_FIELDS:
                update.set(attribute, definition.get(attribute))
        when = update.value(at) if aspects else ""
        for aspect in aspects:
            for attribute in ASPECT_FIELDS[aspect]:
                update.set(attribute, definition.get(attribute))
            update.set(_at(aspect), at)
            update.remove(_events(aspect))
        condition = " AND ".join(_not_newer_than(update, aspect, when) for aspect in aspects) or None
        return update.apply(table, shop_id, name, language, condition)

    if write(tuple(ASPECT_FIELDS), definition_too=True):
        return
    # A webhook stated one aspect after the sync began: the others, one at a time.
    write((), definition_too=True)
    for aspect in ASPECT_FIELDS:
        write((aspect,), definition_too=False)


def mark_deleted(table: Table, shop_id: str, name: str, language: str, *, at: int, now: str) -> bool:
    """A template Meta no longer lists (the sync that began at ``at`` did not see it): ``DELETED``, unless a
    webhook stated its status since. Kept, not removed: sent messages name it, and a send of it is refused
    saying it was deleted."""
    update = _Update()
    update.set("status", "DELETED")
    update.remove("rejectedReason")
    update.set("updatedAt", now)
    update.set(_at(STATUS), at)
    update.remove(_events(STATUS))
    condition = "attribute_exists(PK) AND " + _not_newer_than(update, STATUS, update.value(at))
    return update.apply(table, shop_id, name, language, condition)
