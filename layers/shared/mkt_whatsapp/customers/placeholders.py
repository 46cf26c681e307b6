"""What a placeholder names of a customer: ``customer.name``, ``customer.waId``, ``customer.fields.<name>``
(a custom field). One reading for the flows' steps (flows/runner.py) and the campaigns' parameters
(campaigns/placeholders.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def customer_value(customer: Mapping[str, Any], path: Sequence[str]) -> str | None:
    """The customer's value at ``path`` (the placeholder's name after ``customer.``, split at the dots), as
    text; None when the customer has none, or the path names nothing a customer has."""
    path = list(path)
    if path == ["name"]:
        value = customer.get("name")
    elif path == ["waId"]:
        value = customer.get("waId")
    elif len(path) >= 2 and path[0] == "fields":
        value = (customer.get("customFields") or {}).get(".".join(path[1:]))
    else:
        return None
    return None if value is None else str(value)
