"""Pydantic v2 models: API request/response bodies and query strings (camelCase on the wire) and stored
records."""

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

DEFAULT_TAKE = 20
MAX_TAKE = 100


class ApiModel(BaseModel):
    """A body on the wire: camelCase names, python names in code, unknown fields ignored.

    ``defer_build``: a model's validator is built the first time it is used, so a function only pays for
    the models its requests touch (see docs/cold-start.md)."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, frozen=True, defer_build=True)

    def to_wire(self) -> dict[str, object]:
        return self.model_dump(mode="json", by_alias=True)


class WireModel(ApiModel):
    """What a caller sends (a body, a query string): read by its wire (camelCase) names only. A field's
    Python name is not accepted as a second spelling: the shop a request is authorised for is the very
    value the handler then uses (``shop_id`` in a body or a query is just an unknown field)."""

    model_config = ConfigDict(validate_by_name=False, validate_by_alias=True)


# The ids api-v1's examples use: the OpenAPI document shows them, and the fuzzer's stack holds that shop
# and customer, so cases built from the document's examples reach the handlers.
EXAMPLE_SHOP_ID = "550e8400-e29b-41d4-a716-446655440000"
EXAMPLE_WA_ID = "84901234567"

# A shop a request names (the token's shop_ids decide whether it may): any non-empty string.
ShopIdField = Annotated[str, Field(min_length=1, examples=[EXAMPLE_SHOP_ID])]

MAX_SKIP = 1_000_000
_WHOLE_NUMBER = re.compile(r"-?[0-9]{1,9}", re.ASCII)


def _ascii_whole_number(value: object) -> object:
    """A query's number as people type it in ASCII digits: not ``１０``, ``+10``, ``1_0``, ``10.0`` or
    ``10 `` (which Python's ``int`` would all take), nor more digits than any bound needs."""
    if isinstance(value, str) and not _WHOLE_NUMBER.fullmatch(value):
        raise PydanticCustomError("int_parsing", "Input should be a whole number in ASCII digits")
    return value


# Bounds go before it (``Annotated[int, Field(ge=…), ASCII_DIGITS]``): bounds after a validator are checked
# by a function pydantic cannot describe, and the JSON schema (docs/openapi.json) would show ``ge``/``le``
# instead of JSON Schema's ``minimum``/``maximum``.
ASCII_DIGITS = BeforeValidator(_ascii_whole_number)


class PageQuery(WireModel):
    """skip/take pagination of a list (api-v1): ``take`` defaults to 20 and may not exceed 100; ``skip``
    is at most 1,000,000."""

    skip: Annotated[int, Field(ge=0, le=MAX_SKIP), ASCII_DIGITS] = 0
    take: Annotated[int, Field(ge=1, le=MAX_TAKE), ASCII_DIGITS] = DEFAULT_TAKE


class ShopBody(WireModel):
    """The part of a body that names its shop (``{"shopId": …}``): what a route not built yet reads, so its
    shop is authorised the way every body route's is."""

    shop_id: ShopIdField


class ShopQuery(WireModel):
    """The query of a route that names its shop there (``?shopId=``)."""

    shop_id: ShopIdField
