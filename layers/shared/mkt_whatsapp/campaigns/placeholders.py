"""A campaign's per-customer parameters: placeholders in the texts of its template's ``components``.

Syntax: ``{{customer.name}}``, ``{{customer.waId}}``, ``{{customer.fields.<name>}}`` (a custom field), each
with an optional fallback after a bar: ``{{customer.name|bạn}}`` (spaces around the name and the bar are
allowed; the fallback is the text up to ``}}``, trimmed, and may not be empty). Any string of the
components may hold them (a body's text parameters, a button's payload, a URL's suffix).

A customer with no value (absent or empty) for a placeholder without a fallback is skipped
(``invalid_parameters``): Meta refuses an empty parameter, and a message with a hole in it is worse than
none. A value is sent on one line (newlines and tabs become spaces, runs of spaces one): Meta refuses
body parameters with either (error 132018).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mkt_whatsapp.customers.placeholders import customer_value

_TOKEN = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
_REFERENCE = re.compile(r"^\s*customer\.(name|waId|fields\.[A-Za-z0-9_.\-]+)\s*(?:\|(.*))?$", re.DOTALL)
_SPACES = re.compile(r"\s+")


class InvalidPlaceholder(ValueError):
    """A ``{{…}}`` that names nothing a customer has, or a fallback that is empty; ``field`` is where (the
    request's own path below ``template``)."""

    def __init__(self, field: str, token: str) -> None:
        super().__init__(
            f"{field}: {{{{{token}}}}} is not a placeholder: use {{{{customer.name}}}}, {{{{customer.waId}}}} or "
            "{{customer.fields.<name>}}, with a fallback after | if you like ({{customer.name|bạn}})"
        )
        self.field = field


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}")


def _parse(token: str) -> tuple[list[str], str | None] | None:
    """``(path after customer., fallback)`` of a placeholder's inside, or None if it is not one."""
    found = _REFERENCE.match(token)
    if found is None:
        return None
    fallback = found.group(2)
    if fallback is not None:
        fallback = fallback.strip()
        if not fallback or "{" in fallback or "}" in fallback:
            return None
    return found.group(1).split("."), fallback


def check(components: list[dict[str, Any]], field: str = "template.components") -> None:
    """Every placeholder of ``components`` is one (:class:`InvalidPlaceholder` naming the first that is not)."""
    for path, text in _strings(components, field):
        for token in _TOKEN.findall(text):
            if _parse(token) is None:
                raise InvalidPlaceholder(path, token)


def render(components: list[dict[str, Any]], customer: Mapping[str, Any]) -> list[dict[str, Any]] | None:
    """``components`` for this customer; None if a placeholder has no value for them and no fallback."""
    missing = False

    def value_of(found: re.Match[str]) -> str:
        nonlocal missing
        parsed = _parse(found.group(1))
        if parsed is None:  # checked when the campaign was stored: left as written
            return found.group(0)
        path, fallback = parsed
        value = _SPACES.sub(" ", customer_value(customer, path) or "").strip()
        if value:
            return value
        if fallback is not None:
            return fallback
        missing = True
        return ""

    def walk(value: Any) -> Any:
        if isinstance(value, str):
            return _TOKEN.sub(value_of, value)
        if isinstance(value, list):
            return [walk(item) for item in value]
        if isinstance(value, dict):
            return {key: walk(item) for key, item in value.items()}
        return value

    rendered: list[dict[str, Any]] = walk(components)
    return None if missing else rendered
