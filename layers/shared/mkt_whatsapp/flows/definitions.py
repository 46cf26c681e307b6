"""A shop's automation flows: create, list, read, change, activate, deactivate, delete.

Domain functions take the shop, the flow as read and the actor; the HTTP handler authorises the shop
first, and a flow of another shop is ``FLOW_NOT_FOUND`` here too. A ``PUT`` makes a new immutable version
(executions finish on the version they started with). Activation claims the trigger's keywords and button
ids for this flow in the same transaction that marks it active and writes its entry in the shop's
automation index (store/flows.py): two active flows never claim the same one — the second answers 409
naming the first. Stats (``executionCount``, ``completionRate``, ``averageSteps``, ``fallbackRate``) are
counters on the flow item, kept as executions start and end, so listing reads no executions."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.errors import Conflict, NotFound
from mkt_whatsapp.core.retry import optimistically
from mkt_whatsapp.core.text import fold
from mkt_whatsapp.store import flows as flow_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import Item, TransactionConflict

if TYPE_CHECKING:
    from pydantic import BaseModel

T = TypeVar("T")

MAX_FLOWS_PER_SHOP = 100
_DEFINITION = ("trigger", "steps", "settings")


def not_found() -> NotFound:
    return NotFound("Flow not found", code="FLOW_NOT_FOUND", field="flowId")


def load(flow_id: str) -> Item | None:
    return flow_store.get_flow(get_table(), flow_id, consistent=True)


def _require_shop(shop_id: str, flow: Item) -> None:
    if flow.get("shopId") != shop_id:
        raise not_found()


def claims_of(trigger: dict[str, Any]) -> set[str]:
    """What two active flows may not share, for a trigger as stored (its wire form)."""
    from pydantic import TypeAdapter

    from mkt_whatsapp.whatsapp.flow_models import Trigger, triggers_claimed

    return triggers_claimed(TypeAdapter(Trigger).validate_python(trigger, by_alias=True)) if trigger else set()


def _stats(flow: Item) -> dict[str, Any]:
    from mkt_whatsapp.flows import stats

    return stats.of_flow(flow)


def _summary(flow: Item) -> dict[str, Any]:
    return {
        "flowId": flow["flowId"],
        "shopId": flow["shopId"],
        "flowName": flow["flowName"],
        "description": flow.get("description"),
        "trigger": flow.get("trigger"),
        "stepCount": int(flow.get("stepCount", 0)),
        "isActive": bool(flow.get("isActive")),
        "version": int(flow["version"]),
        "stats": _stats(flow),
        "createdAt": flow["createdAt"],
        "createdBy": flow.get("createdBy"),
        "updatedAt": flow.get("updatedAt"),
        "updatedBy": flow.get("updatedBy"),
    }


def _index_entry(flow: Item, definition: dict[str, Any]) -> dict[str, Any]:
    settings = definition.get("settings") or {}
    return {
        "trigger": definition["trigger"],
        "version": int(flow["version"]),
        "flowName": flow["flowName"],
        "oncePerCustomer": bool(settings.get("oncePerCustomer", False)),
    }


def _name_taken(name: str) -> Conflict:
    return Conflict(f"Another flow of the shop is named {name!r}", code="FLOW_NAME_TAKEN", field="flowName")


def create(shop_id: str, request: BaseModel, *, actor: str) -> dict[str, Any]:
    wire = request.model_dump(mode="json", by_alias=True)
    if wire.get("shopId") != shop_id:
        raise not_found()
    if len(flow_store.list_flows(get_table(), shop_id)) >= MAX_FLOWS_PER_SHOP:
        from mkt_whatsapp.core.errors import BusinessRuleViolation

        raise BusinessRuleViolation(
            f"A shop may have at most {MAX_FLOWS_PER_SHOP} flows; delete one first",
            code="FLOW_LIMIT_REACHED",
            field="shopId",
        )
    at = now_iso()
    flow_id = str(uuid.uuid4())
    definition = {name: wire.get(name) for name in _DEFINITION}
    flow: Item = {
        "flowId": flow_id,
        "shopId": shop_id,
        "flowName": wire["flowName"],
        "description": wire.get("description"),
        "trigger": wire["trigger"],
        "stepCount": len(wire["steps"]),
        "isActive": False,
        "createdAt": at,
        "createdBy": actor,
        "revision": 0,
    }
    try:
        flow_store.create(get_table(), flow, fold(wire["flowName"]), definition)
    except flow_store.FlowNameTaken as taken:
        raise _name_taken(wire["flowName"]) from taken
    return {"flowId": flow_id, "flowName": wire["flowName"], "isActive": False, "version": 1, "createdAt": at}


def list_for(shop_id: str, is_active: bool | None) -> list[dict[str, Any]]:
    flows = flow_store.list_flows(get_table(), shop_id)
    return [_summary(f) for f in flows if is_active is None or bool(f.get("isActive")) is is_active]


def detail(shop_id: str, flow: Item) -> dict[str, Any]:
    """The flow and its current version's definition."""
    _require_shop(shop_id, flow)
    definition = flow_store.get_version(get_table(), str(flow["flowId"]), int(flow["version"])) or {}
    return {**_summary(flow), "steps": definition.get("steps", []), "settings": definition.get("settings")}


def _conflict_with(shop_id: str, claims: set[str], flow_id: str) -> Conflict:
    """409 naming the active flow that holds one of ``claims``."""
    table = get_table()
    for claim in sorted(claims):
        holder = flow_store.claim_holder(table, shop_id, claim)
        if holder and holder != flow_id:
            other = flow_store.get_flow(table, holder) or {}
            kind, _, value = claim.partition(":")
            what = "keyword" if kind == "kw" else "button id"
            return Conflict(
                f"The active flow {other.get('flowName', holder)!r} ({holder}) already claims the {what} {value!r}",
                code="TRIGGER_CLAIMED",
                field="trigger",
            )
    return Conflict("Another active flow claims this flow's trigger", code="TRIGGER_CLAIMED", field="trigger")


def _retrying(shop_id: str, flow: Item, attempt: Callable[[Item], T]) -> T:
    """``attempt`` on the flow as the handler read it (consistently) and, after a concurrent change, on the
    flow read again — up to 4 times, then 409 CONCURRENT_UPDATE."""
    state = {"flow": flow}

    def once() -> T:
        try:
            return attempt(state["flow"])
        except (flow_store.FlowChanged, TransactionConflict):
            fresh = load(str(flow["flowId"]))
            if fresh is None or fresh.get("shopId") != shop_id:
                raise not_found() from None
            state["flow"] = fresh
            raise

    return optimistically(
        once,
        attempts=4,
        retry_on=(flow_store.FlowChanged, TransactionConflict),
        exhausted=lambda: Conflict("The flow is being changed; retry", code="CONCURRENT_UPDATE"),
    )


def update(shop_id: str, flow: Item, request: BaseModel, *, actor: str) -> dict[str, Any]:
    """A new version from the fields given (the rest as the current version has them)."""
    _require_shop(shop_id, flow)
    given = request.model_dump(mode="json", by_alias=True, exclude_unset=True)
    table = get_table()

    def attempt(current: Item) -> Item:
        old = flow_store.get_version(table, str(current["flowId"]), int(current["version"])) or {}
        definition = {name: given.get(name, old.get(name)) for name in _DEFINITION}
        changes: Item = {"updatedBy": actor}
        for name in ("flowName", "description"):
            if name in given:
                changes[name] = given[name]
        changes.update(trigger=definition["trigger"], stepCount=len(definition["steps"] or []))
        names = (fold(str(current["flowName"])), fold(str(given.get("flowName", current["flowName"]))))
        claims = None
        entry = None
        if current.get("isActive"):
            before, after = claims_of(current.get("trigger") or {}), claims_of(definition["trigger"] or {})
            claims = (after - before, before - after)
            entry = _index_entry({**current, "version": int(current["version"]) + 1}, definition)
        try:
            return flow_store.update(table, current, changes, definition, names, claims, entry, now_iso())
        except flow_store.FlowNameTaken as taken:
            raise _name_taken(str(given.get("flowName"))) from taken
        except flow_store.TriggerClaimed as claimed:
            raise _conflict_with(shop_id, claims[0] if claims else set(), str(current["flowId"])) from claimed

    return _summary(_retrying(shop_id, flow, attempt))


def activate(shop_id: str, flow: Item, *, actor: str) -> dict[str, Any]:
    _require_shop(shop_id, flow)
    return _set_active(shop_id, flow, True, actor)


def deactivate(shop_id: str, flow: Item, *, actor: str) -> dict[str, Any]:
    _require_shop(shop_id, flow)
    return _set_active(shop_id, flow, False, actor)


def _set_active(shop_id: str, flow: Item, active: bool, actor: str) -> dict[str, Any]:
    table = get_table()
    at = now_iso()

    def attempt(current: Item) -> None:
        if bool(current.get("isActive")) is active:
            return
        definition = flow_store.get_version(table, str(current["flowId"]), int(current["version"])) or {}
        claims = claims_of(definition.get("trigger") or {})
        try:
            flow_store.set_active(table, current, active, claims, _index_entry(current, definition), at)
        except flow_store.TriggerClaimed as claimed:
            raise _conflict_with(shop_id, claims, str(current["flowId"])) from claimed

    _retrying(shop_id, flow, attempt)
    state = "activated" if active else "deactivated"
    return {"flowId": flow["flowId"], "isActive": active, f"{state}At": at, f"{state}By": actor}


def delete(shop_id: str, flow: Item, *, actor: str) -> dict[str, Any]:
    _require_shop(shop_id, flow)
    if flow.get("isActive"):
        raise _still_active()
    from mkt_whatsapp.flows import runs

    runs.stop_flow(str(flow["flowId"]), reason="flow deleted")  # counted on the flow before it goes
    try:
        flow_store.delete(get_table(), flow, fold(str(flow["flowName"])))
    except flow_store.FlowIsActive as active:
        raise _still_active() from active
    return {"flowId": flow["flowId"], "deleted": True, "deletedBy": actor}


def _still_active() -> Conflict:
    return Conflict("Deactivate the flow before deleting it", code="FLOW_IS_ACTIVE", field="flowId")
