"""Automation flows in the single table (docs/data-model.md).

- The flow: ``FLOW#<id>`` / ``FLOW`` — name, whether active, its current ``version``, its stats counters;
  listed per shop through GSI1 (``SHOP#<shop>#FLOWS``).
- Its versions: ``FLOW#<id>`` / ``VERSION#<n>`` — the definition (trigger, steps, settings), zlib-compressed
  JSON, written once and never changed: an execution runs on the version it started with while a
  ``PUT`` makes the next one.
- Unique names: ``SHOP#<shop>`` / ``FLOWNAME#<folded name>`` (``flowId``), put in the create (or rename)
  transaction: a second flow of the same name cancels it (409).
- Trigger claims of the active flows: ``SHOP#<shop>`` / ``TRIGGER#kw:<folded keyword>`` or ``TRIGGER#btn:<id>``
  (``flowId``), put on activation conditioned on no other flow holding them: two active flows never claim
  the same keyword or button id (409 naming the other).
- The shop's automation index: ``SHOP#<shop>`` / ``AUTOMATION#INDEX``, one attribute per active flow
  (``F#<flowId>``: its trigger, version and settings), written in the activation's transaction: matching an
  inbound message reads this one item, however many flows the shop has.
"""

from __future__ import annotations

import json
import zlib
from typing import Any

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write

GSI1 = "GSI1"


class FlowNameTaken(ConditionFailed):
    """Another flow of the shop has this name."""


class FlowChanged(ConditionFailed):
    """The flow changed (or went) since it was read."""


class TriggerClaimed(ConditionFailed):
    """Another active flow claims one of this flow's keywords or button ids."""


class FlowIsActive(ConditionFailed):
    """Only an inactive flow may be deleted."""


def encode(definition: dict[str, Any]) -> bytes:
    return zlib.compress(json.dumps(definition, ensure_ascii=False, separators=(",", ":")).encode(), 6)


def decode(data: bytes) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(zlib.decompress(bytes(data)))
    return document


def index_attribute(flow_id: str) -> str:
    return f"F#{flow_id}"


def get_flow(table: Table, flow_id: str, *, consistent: bool = False) -> Item | None:
    return table.get(keys.flow_pk(flow_id), keys.FLOW_SK, consistent=consistent)


def get_version(table: Table, flow_id: str, version: int) -> dict[str, Any] | None:
    item = table.get(keys.flow_pk(flow_id), keys.flow_version_sk(version))
    return decode(item["definition"]) if item else None


def list_flows(table: Table, shop_id: str) -> list[Item]:
    return table.query_index(GSI1, "GSI1PK", keys.shop_flows_gsi1pk(shop_id))


def claim_holder(table: Table, shop_id: str, claim: str) -> str | None:
    item = table.get(keys.shop_pk(shop_id), keys.trigger_claim_sk(claim), consistent=True)
    return str(item["flowId"]) if item else None


def automation_index(table: Table, shop_id: str) -> dict[str, Any]:
    """The shop's active flows' triggers, by flow id (one GetItem)."""
    item = table.get(keys.shop_pk(shop_id), keys.AUTOMATION_INDEX_SK) or {}
    return {name.removeprefix("F#"): value for name, value in item.items() if name.startswith("F#")}


def _name_put(table: Table, shop_id: str, folded: str, flow_id: str) -> Write:
    return table.put_op(
        {"PK": keys.shop_pk(shop_id), "SK": keys.flow_name_sk(folded), "flowId": flow_id},
        condition="attribute_not_exists(PK) OR flowId = :me",
        values={":me": flow_id},
        fails_with=FlowNameTaken,
    )


def _version_put(table: Table, flow_id: str, version: int, definition: dict[str, Any], at: str) -> Write:
    return table.put_op(
        {
            "PK": keys.flow_pk(flow_id),
            "SK": keys.flow_version_sk(version),
            "version": version,
            "definition": encode(definition),
            "createdAt": at,
        },
        condition="attribute_not_exists(PK)",
        fails_with=FlowChanged,
    )


def create(table: Table, flow: Item, folded_name: str, definition: dict[str, Any]) -> None:
    flow_id, shop_id = str(flow["flowId"]), str(flow["shopId"])
    item = {
        **flow,
        "PK": keys.flow_pk(flow_id),
        "SK": keys.FLOW_SK,
        "entity": "flow",
        "version": 1,
        "GSI1PK": keys.shop_flows_gsi1pk(shop_id),
        "GSI1SK": keys.flow_gsi1sk(str(flow["createdAt"]), flow_id),
    }
    table.transact_write(
        [
            table.put_op(item, condition="attribute_not_exists(PK)", fails_with=FlowChanged),
            _version_put(table, flow_id, 1, definition, str(flow["createdAt"])),
            _name_put(table, shop_id, folded_name, flow_id),
        ]
    )


def _claim_writes(table: Table, shop_id: str, flow_id: str, add: set[str], drop: set[str]) -> list[Write]:
    writes = [
        table.put_op(
            {"PK": keys.shop_pk(shop_id), "SK": keys.trigger_claim_sk(claim), "flowId": flow_id},
            condition="attribute_not_exists(PK) OR flowId = :me",
            values={":me": flow_id},
            fails_with=TriggerClaimed,
        )
        for claim in sorted(add)
    ]
    writes += [
        table.delete_op(
            keys.shop_pk(shop_id),
            keys.trigger_claim_sk(claim),
            condition="attribute_not_exists(PK) OR flowId = :me",
            values={":me": flow_id},
            fails_with=FlowChanged,
        )
        for claim in sorted(drop)
    ]
    return writes


def _index_write(table: Table, shop_id: str, flow_id: str, entry: dict[str, Any] | None) -> Write:
    names = {"#f": index_attribute(flow_id)}
    if entry is None:
        return table.update_op(keys.shop_pk(shop_id), keys.AUTOMATION_INDEX_SK, "REMOVE #f", {}, names=names)
    return table.update_op(
        keys.shop_pk(shop_id), keys.AUTOMATION_INDEX_SK, "SET #f = :entry", {":entry": entry}, names=names
    )


def update(
    table: Table,
    current: Item,
    changes: Item,
    definition: dict[str, Any] | None,
    names: tuple[str, str] | None,
    claims: tuple[set[str], set[str]] | None,
    index_entry: dict[str, Any] | None,
    at: str,
) -> Item:
    """A new version (``definition``) and/or changed settings of the flow read as ``current``, in one
    transaction: its name moved (``names``: old and new folded), its trigger claims swapped (``claims``: to
    add, to drop) and its index entry rewritten while active. Raises FlowChanged if it changed meanwhile."""
    flow_id, shop_id = str(current["flowId"]), str(current["shopId"])
    read_version = int(current["version"])
    new_version = read_version + 1 if definition is not None else read_version
    sets = ["#version = :next", "updatedAt = :at"]
    values: dict[str, Any] = {
        ":read": read_version,
        ":next": new_version,
        ":at": at,
        ":revision": int(current.get("revision", 0)),
    }
    attribute_names = {"#version": "version", "#revision": "revision"}
    sets.append("#revision = :revision_next")
    values[":revision_next"] = int(current.get("revision", 0)) + 1
    for index, (name, value) in enumerate(changes.items()):
        attribute_names[f"#c{index}"] = name
        values[f":c{index}"] = value
        sets.append(f"#c{index} = :c{index}")
    writes = [
        table.update_op(
            keys.flow_pk(flow_id),
            keys.FLOW_SK,
            "SET " + ", ".join(sets),
            values,
            names=attribute_names,
            condition="#version = :read AND (attribute_not_exists(#revision) OR #revision = :revision)",
            fails_with=FlowChanged,
        )
    ]
    if definition is not None:
        writes.append(_version_put(table, flow_id, new_version, definition, at))
    if names is not None and names[0] != names[1]:
        writes.append(_name_put(table, shop_id, names[1], flow_id))
        writes.append(
            table.delete_op(
                keys.shop_pk(shop_id),
                keys.flow_name_sk(names[0]),
                condition="flowId = :me",
                values={":me": flow_id},
                fails_with=FlowChanged,
            )
        )
    if claims is not None:
        writes += _claim_writes(table, shop_id, flow_id, *claims)
    if index_entry is not None:
        writes.append(_index_write(table, shop_id, flow_id, index_entry))
    table.transact_write(writes)
    return {**current, **changes, "version": new_version, "updatedAt": at, "revision": values[":revision_next"]}


def set_active(
    table: Table, current: Item, active: bool, claims: set[str], index_entry: dict[str, Any] | None, at: str
) -> None:
    """Activate (claims put, index entry set) or deactivate (claims dropped, entry removed) the flow read
    as ``current``, in one transaction."""
    flow_id, shop_id = str(current["flowId"]), str(current["shopId"])
    revision = int(current.get("revision", 0))
    writes = [
        table.update_op(
            keys.flow_pk(flow_id),
            keys.FLOW_SK,
            "SET isActive = :active, #changed = :at, #revision = :next",
            {":active": active, ":at": at, ":revision": revision, ":next": revision + 1},
            names={"#changed": "activatedAt" if active else "deactivatedAt", "#revision": "revision"},
            condition="attribute_exists(PK) AND (attribute_not_exists(#revision) OR #revision = :revision)",
            fails_with=FlowChanged,
        ),
        *_claim_writes(table, shop_id, flow_id, claims if active else set(), set() if active else claims),
        _index_write(table, shop_id, flow_id, index_entry if active else None),
    ]
    table.transact_write(writes)


def delete(table: Table, current: Item, folded_name: str) -> None:
    flow_id, shop_id = str(current["flowId"]), str(current["shopId"])
    table.transact_write(
        [
            table.delete_op(
                keys.flow_pk(flow_id),
                keys.FLOW_SK,
                condition="isActive = :no",
                values={":no": False},
                fails_with=FlowIsActive,
            ),
            table.delete_op(
                keys.shop_pk(shop_id),
                keys.flow_name_sk(folded_name),
                condition="attribute_not_exists(PK) OR flowId = :me",
                values={":me": flow_id},
                fails_with=FlowChanged,
            ),
        ]
    )
