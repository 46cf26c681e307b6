"""Which active flow a stored inbound message starts: the automation guide's order, over the shop's
automation index (one item: every active flow's trigger, kept by activation; store/flows.py).

Order: ``button_reply`` (the message is a button or list reply, or a template quick reply, carrying one of
the flow's ids or payloads), then ``keyword`` (``exact``, ``contains`` or ``starts_with`` on the folded text:
case, Vietnamese diacritics and punctuation aside), then ``ad_referral`` (ours: a reply to a click-to-WhatsApp ad,
optionally from the flow's ``sourceIds``), then ``new_customer`` (the customer's first message ever), then
``any_message``. Claims make keywords and button ids unique among active flows; for the kinds without
claims (two ``new_customer`` flows, say) the flow with the lowest id wins, so the choice is deterministic.
A waiting flow and a human-assigned conversation are checked before this (the dispatcher's order); the
AI agent after it.

Pure: it reads nothing, so the dispatcher's cost is the index's one GetItem per message."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mkt_whatsapp.core.text import words
from mkt_whatsapp.whatsapp.inbound_content import typed_text

ORDER = ("button_reply", "keyword", "ad_referral", "new_customer", "any_message")


@dataclass(frozen=True, slots=True)
class Match:
    flow_id: str
    version: int
    trigger_type: str
    once_per_customer: bool


def reply_id(content: Mapping[str, Any]) -> str | None:
    """The id a button or list reply carries, or a template quick reply's payload (or its text)."""
    kind = content.get("type")
    if kind == "interactive":
        interactive = content.get("interactive") or {}
        reply = interactive.get("buttonReply") or interactive.get("listReply") or {}
        return str(reply["id"]) if reply.get("id") is not None else None
    if kind == "button":
        button = content.get("button") or {}
        value = button.get("payload") or button.get("text")
        return str(value) if value is not None else None
    return None


def _keyword_matches(trigger: Mapping[str, Any], folded_text: str) -> bool:
    mode = trigger.get("match") or "exact"
    for keyword in trigger.get("keywords") or []:
        needle = words(str(keyword))
        if not needle:
            continue
        if mode == "exact" and folded_text == needle:
            return True
        if mode == "starts_with" and (folded_text == needle or folded_text.startswith(needle + " ")):
            return True
        if mode == "contains" and f" {needle} " in f" {folded_text} ":
            return True
    return False


def _fires(trigger: Mapping[str, Any], content: Mapping[str, Any], new_customer: bool, referral: Any) -> bool:
    kind = trigger.get("type")
    if kind == "button_reply":
        carried = reply_id(content)
        return carried is not None and carried in (trigger.get("buttonIds") or [])
    if kind == "keyword":
        text = typed_text(content)
        return text is not None and _keyword_matches(trigger, words(text))
    if kind == "ad_referral":
        if not isinstance(referral, Mapping):
            return False
        sources = trigger.get("sourceIds")
        return not sources or referral.get("sourceId") in sources
    if kind == "new_customer":
        return new_customer
    return kind == "any_message"


def match(
    index: Mapping[str, Mapping[str, Any]],
    content: Mapping[str, Any],
    *,
    new_customer: bool,
    referral: Mapping[str, Any] | None = None,
) -> Match | None:
    """The flow the message starts, from the shop's automation index (flow id → its entry), or None."""
    for kind in ORDER:
        for flow_id in sorted(index):
            entry = index[flow_id]
            trigger = entry.get("trigger") or {}
            if trigger.get("type") == kind and _fires(trigger, content, new_customer, referral):
                return Match(
                    flow_id=flow_id,
                    version=int(entry.get("version", 1)),
                    trigger_type=kind,
                    once_per_customer=bool(entry.get("oncePerCustomer")),
                )
    return None
