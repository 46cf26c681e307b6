"""Customers as the API shows them."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from mkt_whatsapp.core import text
from mkt_whatsapp.models import EXAMPLE_WA_ID, ApiModel, PageQuery, ShopIdField, WireModel

# A tag is kept as lowercase ASCII kebab-case (customers.reading.normalise_tag: "Khách mới" → "khach-moi"),
# so one with no letter or digit left once folded (core.text.fold) is refused (400).
_FOLDS_TO_A_LETTER_OR_DIGIT = re.compile("[a-z0-9]")


@cache
def usable_tag_pattern() -> str:
    """The JSON Schema ``pattern`` of a usable tag: one of the characters that fold to an ASCII letter or digit
    (35 ranges, all in the BMP; tests/unit/test_openapi.py checks every code point against normalise_tag)."""
    ranges: list[list[int]] = []
    for point in range(0x10000):
        if 0xD800 <= point <= 0xDFFF or not _FOLDS_TO_A_LETTER_OR_DIGIT.search(text.fold(chr(point))):
            continue
        if ranges and ranges[-1][1] == point - 1:
            ranges[-1][1] = point
        else:
            ranges.append([point, point])
    return "[" + "".join(f"\\u{first:04x}-\\u{last:04x}" for first, last in ranges) + "]"


def _usable_tag(schema: dict[str, Any]) -> None:
    schema["pattern"] = usable_tag_pattern()


TagText = Annotated[str, Field(min_length=1, max_length=50, json_schema_extra=_usable_tag)]

# A customer is stored under the phone number's digits or the business-scoped user id WhatsApp gave
# (the patterns inbound.processor accepts a sender by; tests/unit/test_openapi.py holds the two together).
PHONE_NUMBER_PATTERN = r"[0-9]{5,20}"
BUSINESS_SCOPED_USER_ID_PATTERN = r"[A-Z]{2}\.(?:ENT\.)?[A-Za-z0-9]{1,128}"
WaId = Annotated[
    str, Field(pattern=rf"^(?:{PHONE_NUMBER_PATTERN}|{BUSINESS_SCOPED_USER_ID_PATTERN})$", examples=[EXAMPLE_WA_ID])
]


class Consent(ApiModel):
    status: str
    timestamp: str | None = None
    source: str | None = None


class CustomerSummary(ApiModel):
    id: str
    wa_id: str | None
    bsuid: str | None = None
    name: str | None
    tags: list[str]
    opt_in_status: str
    conversation_count: int
    last_contacted_at: str | None
    created_at: str


class CustomerStats(ApiModel):
    conversation_count: int
    average_response_time: str | None
    last_purchase_date: str | None


class CustomerProfile(ApiModel):
    id: str
    wa_id: str | None
    bsuid: str | None = None
    shop_id: str
    name: str | None
    username: str | None = None
    profile_picture_url: str | None = None
    consent: Consent
    tags: list[str]
    custom_fields: dict[str, Any]
    stats: CustomerStats
    created_at: str
    last_contacted_at: str | None
    consent_history: list[Consent] = Field(default_factory=list)


class CustomerPage(ApiModel):
    """``GET /customers`` answer's ``data``: a page of the shop's customers and how many match."""

    customers: list[CustomerSummary]
    total_count: int


class CustomerTags(ApiModel):
    """``PUT /customers/{waId}/tags`` answer: the customer's tags after the change."""

    wa_id: str
    tags: list[str]


class ConsentChange(ApiModel):
    """``PUT /customers/{waId}/opt-in`` answer: the consent now recorded."""

    wa_id: str
    consent: Consent


class UpdateTagsRequest(WireModel):
    # The JSON schema says what _something_to_do checks: at least one tag to add or to remove.
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["addTags"], "properties": {"addTags": {"minItems": 1}}},
                {"required": ["removeTags"], "properties": {"removeTags": {"minItems": 1}}},
            ]
        }
    )

    add_tags: Annotated[list[TagText], Field(max_length=50, default_factory=list)]
    remove_tags: Annotated[list[TagText], Field(max_length=50, default_factory=list)]

    @model_validator(mode="after")
    def _something_to_do(self) -> UpdateTagsRequest:
        if not self.add_tags and not self.remove_tags:
            raise ValueError("give addTags or removeTags")
        return self


class OptInRequest(WireModel):
    status: Literal["opted_in", "opted_out"]
    source: Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9_.:-]+$", examples=["web"])]


MAX_TAG_FILTERS = 10


# A tag filter as the split query has it (no comma; a blank one is dropped): what the document says of each.
TagFilter = Annotated[str, Field(json_schema_extra={"pattern": r"^[^,]*\S[^,]*$"})]


def _comma_separated(value: object) -> object:
    """``"vip, new,"`` → ``["vip", "new"]`` (API Gateway joins a repeated parameter with commas too)."""
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()]
    return value


class ListCustomersQuery(PageQuery):
    """``GET /customers``'s query: ``search`` (name or phone), ``tags`` (comma-separated, all required)."""

    shop_id: ShopIdField
    search: str | None = None
    tags: Annotated[list[TagFilter], BeforeValidator(_comma_separated), Field(max_length=MAX_TAG_FILTERS)] = Field(
        default_factory=list
    )
