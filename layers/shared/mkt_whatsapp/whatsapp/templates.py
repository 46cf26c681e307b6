"""Meta's message templates: a template as ``GET /{waba-id}/message_templates`` describes it, the webhooks
that change it, and what a send of it must carry. Pure: it reads and writes nothing.

**A template's definition** (Meta's ``components``): ``HEADER`` (``format`` ``TEXT`` with ``text``, or
``IMAGE``/``VIDEO``/``DOCUMENT``/``LOCATION``), ``BODY`` (``text``), ``FOOTER`` and ``BUTTONS`` (``buttons``:
``QUICK_REPLY``, ``URL`` with a ``url`` that may hold a variable, ``PHONE_NUMBER``, ``COPY_CODE``, ``OTP``,
``FLOW``). Variables are ``{{1}}``, ``{{2}}``… (``parameter_format`` ``POSITIONAL``) or ``{{first_name}}``
(``NAMED``); a variable written twice is one parameter.

**What a send must carry** (:func:`check_parameters`): a send's ``components`` (Meta's send shape:
``{"type": "body", "parameters": [...]}``, ``{"type": "button", "sub_type": "url", "index": "0",
"parameters": [...]}``) give each component of the template exactly as many parameters as it has variables:

| component | parameters |
|---|---|
| text header | one per distinct variable of its ``text`` (none: the component may be left out) |
| media or location header | exactly one (the image, video, document or location) |
| body | one per distinct variable of its ``text`` |
| ``URL`` button with a variable | exactly one, at the button's ``index`` |
| ``COPY_CODE`` / ``OTP`` button | exactly one (the code) |
| ``QUICK_REPLY``, ``FLOW``, ``CATALOG``, ``MPM`` button | optional; if given, exactly one (payload, action) |
| footer, ``PHONE_NUMBER``, ``URL`` without a variable | none |

With ``NAMED`` variables the parameters' ``parameter_name`` must be the variables' names. A component the
template does not have (a header for a template without one, a button index past its buttons), a component
given twice, or a count that differs is a :class:`ParameterMismatch` naming the component: Meta would
refuse the send (its error 132000) after the message was stored and counted; refused here, nothing is
stored and nothing is sent. A template whose components are not known yet (created by a status webhook,
never synced) is not checked: Meta checks it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Meta's template statuses (GET message_templates' ``status``; models/templates.TemplateStatus, which the
# receiver's cold start cannot load, says the same) and the statuses a status webhook's ``event`` leaves a
# template in. Events that name no status (FLAGGED, LOCKED, UNLOCKED, UNARCHIVED, LIMIT_EXCEEDED…)
# change none: the next sync reads it.
STATUSES = (
    "APPROVED",
    "PENDING",
    "REJECTED",
    "PAUSED",
    "DISABLED",
    "IN_APPEAL",
    "PENDING_DELETION",
    "DELETED",
    "ARCHIVED",
    "LIMIT_EXCEEDED",
)
APPROVED = "APPROVED"
DELETED = "DELETED"
_STATUS_OF_EVENT = {
    **{status: status for status in STATUSES if status != "LIMIT_EXCEEDED"},
    "REINSTATED": APPROVED,
}

STATUS_UPDATE = "message_template_status_update"
QUALITY_UPDATE = "message_template_quality_update"
CATEGORY_UPDATE = "template_category_update"
# The webhook fields (``entry[].changes[].field``) that change a template: queued and applied like messages.
TEMPLATE_FIELDS = frozenset({STATUS_UPDATE, QUALITY_UPDATE, CATEGORY_UPDATE})

_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
_MEDIA_FORMATS = frozenset({"IMAGE", "VIDEO", "DOCUMENT", "LOCATION", "GIF"})
# Buttons whose one parameter a send must give, and buttons whose one parameter it may give.
_REQUIRED_BUTTONS = frozenset({"COPY_CODE", "OTP"})
_OPTIONAL_BUTTONS = frozenset({"QUICK_REPLY", "FLOW", "CATALOG", "MPM"})


def status_of_event(event: object) -> str | None:
    """The status a ``message_template_status_update`` event leaves the template in (None: it names none)."""
    return _STATUS_OF_EVENT.get(str(event).upper()) if event is not None else None


def upper_or_none(value: object) -> str | None:
    return str(value).upper() if isinstance(value, str) and value else None


def quality_of(value: object) -> str | None:
    """Meta's ``quality_score``: ``{"score": "GREEN", …}`` in GET message_templates, a plain string in the
    quality webhook."""
    if isinstance(value, Mapping):
        value = value.get("score")
    return upper_or_none(value)


def definition_of(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    """What is kept of one entry of GET message_templates' ``data`` (None: no name or language, not a
    template): name, language, status, category, quality, components and Meta's id, as Meta writes them."""
    name, language = entry.get("name"), entry.get("language")
    if not isinstance(name, str) or not name or not isinstance(language, str) or not language:
        return None
    components = entry.get("components")
    return {
        "name": name,
        "language": language,
        "status": upper_or_none(entry.get("status")),
        "category": upper_or_none(entry.get("category")),
        "qualityScore": quality_of(entry.get("quality_score")),
        "components": [c for c in components if isinstance(c, Mapping)] if isinstance(components, list) else [],
        "parameterFormat": upper_or_none(entry.get("parameter_format")) or "POSITIONAL",
        "metaTemplateId": str(entry["id"]) if entry.get("id") is not None else None,
        "rejectedReason": entry.get("rejected_reason") if isinstance(entry.get("rejected_reason"), str) else None,
    }


# --- what a send must carry ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Slot:
    """One component of a template, as a send sees it: how many parameters it takes and their names."""

    label: str  # "header", "body", "button 0 (URL)": how errors name it
    count: int
    names: tuple[str, ...] = ()  # the variables' names, for NAMED templates
    optional: bool = False  # a send may leave the component out although it takes a parameter


class ParameterMismatch(Exception):
    """A send's components do not fit the template's: ``position`` is the send's component to blame
    (None: one the send leaves out)."""

    def __init__(self, message: str, position: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.position = position


def variables(text: object) -> tuple[str, ...]:
    """The distinct variables of a text, in order of first appearance (``{{1}}`` → ``"1"``)."""
    if not isinstance(text, str):
        return ()
    return tuple(dict.fromkeys(_VARIABLE.findall(text)))


def slots(components: Sequence[Mapping[str, Any]]) -> dict[tuple[str, int | None], Slot]:
    """The template's components by what a send names them by: ``("header", None)``, ``("body", None)``,
    ``("footer", None)``, ``("button", index)``."""
    found: dict[tuple[str, int | None], Slot] = {}
    for component in components:
        kind = str(component.get("type", "")).upper()
        if kind == "HEADER":
            media = str(component.get("format", "TEXT")).upper() in _MEDIA_FORMATS
            names = () if media else variables(component.get("text"))
            found["header", None] = Slot("header", 1 if media else len(names), names)
        elif kind == "BODY":
            names = variables(component.get("text"))
            found["body", None] = Slot("body", len(names), names)
        elif kind == "FOOTER":
            found["footer", None] = Slot("footer", 0)
        elif kind == "BUTTONS":
            for index, button in enumerate(component.get("buttons") or []):
                if isinstance(button, Mapping):
                    found["button", index] = _button_slot(index, button)
    return found


def _button_slot(index: int, button: Mapping[str, Any]) -> Slot:
    kind = str(button.get("type", "")).upper()
    label = f"button {index} ({kind.replace('_', ' ').lower() if kind != 'URL' else 'URL'})"
    if kind == "URL":
        names = variables(button.get("url"))
        return Slot(label, min(len(names), 1), names[:1])
    if kind in _REQUIRED_BUTTONS:
        return Slot(label, 1)
    if kind in _OPTIONAL_BUTTONS:
        return Slot(label, 1, optional=True)
    return Slot(label, 0)


def _plural(count: int) -> str:
    return f"{count} parameter" + ("" if count == 1 else "s")


def _key(component: Mapping[str, Any], position: int) -> tuple[str, int | None]:
    kind = str(component.get("type", "")).lower()
    if kind != "button":
        return kind, None
    index = component.get("index")
    if isinstance(index, bool) or not (
        (isinstance(index, int) and 0 <= index <= 9) or (isinstance(index, str) and re.fullmatch(r"[0-9]", index))
    ):
        raise ParameterMismatch("a button component names its button's index (0 to 9)", position)
    return "button", int(index)


def check_parameters(
    given: Sequence[Mapping[str, Any]], components: Sequence[Mapping[str, Any]], parameter_format: str | None
) -> None:
    """Raise :class:`ParameterMismatch` unless the send's ``given`` components fit the template's
    ``components`` (see the module's table)."""
    expected = slots(components)
    named = (parameter_format or "").upper() == "NAMED"
    seen: set[tuple[str, int | None]] = set()
    for position, component in enumerate(given):
        key = _key(component, position)
        slot = expected.get(key)
        if slot is None:
            what = f"button {key[1]}" if key[0] == "button" else key[0]
            raise ParameterMismatch(f"the template has no {what}", position)
        if key in seen:
            raise ParameterMismatch(f"{slot.label} is given twice", position)
        seen.add(key)
        parameters = component.get("parameters", [])
        if not isinstance(parameters, list):
            raise ParameterMismatch(f"{slot.label}'s parameters are a list", position)
        if len(parameters) != slot.count:
            raise ParameterMismatch(f"{slot.label} expects {_plural(slot.count)}, got {len(parameters)}", position)
        if named and slot.names and key[0] != "button":
            names = {p.get("parameter_name") for p in parameters if isinstance(p, Mapping)}
            if names != set(slot.names):
                raise ParameterMismatch(
                    f"{slot.label} expects the parameters {', '.join(slot.names)} (by parameter_name)", position
                )
    for key, slot in expected.items():
        if key not in seen and slot.count and not slot.optional:
            raise ParameterMismatch(f"{slot.label} expects {_plural(slot.count)}, got 0", None)
