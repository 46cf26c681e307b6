"""Meta's free-form objects as a request carries them (a template's ``components``, contact cards): any JSON
the table can keep, with errors on the right field. Shared by the Send Message content
(whatsapp/outbound_content.py) and the campaigns' templates (models/campaigns.py)."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError
from typing_extensions import TypeAliasType

COMPONENT_TYPES = frozenset({"header", "body", "footer", "button"})


def error_at(loc: tuple[int | str, ...], error_type: str, message: str, value: Any) -> ValidationError:
    """An error for a field below the one being validated (pydantic prefixes the validator's own place)."""
    detail = InitErrorDetails(type=PydanticCustomError(error_type, message), loc=loc, input=value)
    return ValidationError.from_exception_data("content", [detail])


# Meta's free-form objects (template components, contact cards) are stored with the message before it is
# sent. DynamoDB keeps numbers of at most 38 digits between 1e-130 and 1e126 in size; under 1e38 every integer
# has at most 38 digits and every float 17, so "0, or between 1e-130 and 1e38 in size" is one rule that the
# table can always keep and that JSON Schema can say (MetaNumber). A key is a DynamoDB attribute name: never
# empty (moto stored one and every later read of the conversation failed; DynamoDB refuses the write).
SMALLEST_META_NUMBER, LARGEST_META_NUMBER = 1e-130, 10**38


# 0, or at least 1e-130 in size (what storable says of a small number), in JSON Schema.
NOT_TOO_SMALL: dict[str, Any] = {
    "not": {"exclusiveMinimum": -SMALLEST_META_NUMBER, "exclusiveMaximum": SMALLEST_META_NUMBER, "not": {"const": 0}}
}


def storable(number: int | float) -> bool:
    if isinstance(number, int):
        return abs(number) < LARGEST_META_NUMBER
    return number == 0 or (math.isfinite(number) and SMALLEST_META_NUMBER <= abs(number) < LARGEST_META_NUMBER)


def check_storable(value: Any, loc: tuple[int | str, ...]) -> None:
    """Every key and number in ``value`` is one the table keeps; otherwise 400 on its field, never a 500."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "":
                raise error_at(loc, "empty_key", "a key here is empty", value)
            check_storable(item, (*loc, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_storable(item, (*loc, index))
    elif isinstance(value, int | float) and not isinstance(value, bool) and not storable(value):
        raise error_at(loc, "less_than", "a number here is 0 or between 1e-130 and 1e38 in size", value)


MetaNumber = Annotated[
    float,
    Field(
        gt=-LARGEST_META_NUMBER,
        lt=LARGEST_META_NUMBER,
        json_schema_extra=NOT_TOO_SMALL,
    ),
]
MetaKey = Annotated[str, Field(min_length=1)]
# Any JSON value whose keys and numbers the table keeps: what Meta's free-form objects may hold.
MetaValue = TypeAliasType("MetaValue", "str | bool | MetaNumber | list[MetaValue] | dict[MetaKey, MetaValue] | None")


def _as_given(value: Any) -> Any:
    return value


# A list of Meta's free-form objects, as the JSON schema shows it (validation is check_storable's).
META_OBJECTS = BeforeValidator(_as_given, json_schema_input_type=list[dict[MetaKey, MetaValue]])


def component_items(schema: dict[str, Any]) -> None:
    """Each component has a known type (check_components)."""
    schema["items"].update(required=["type"], properties={"type": {"enum": sorted(COMPONENT_TYPES)}})


def check_components(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A template's ``components`` in Meta's shape: each of a known type, every key and number storable."""
    for index, component in enumerate(components):
        kind = component.get("type")
        if not isinstance(kind, str) or kind not in COMPONENT_TYPES:
            message = "a component's type is header, body, footer or button"
            raise error_at((index, "type"), "invalid_component", message, kind)
    check_storable(components, ())
    return components
