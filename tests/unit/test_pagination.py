"""skip/take pagination: defaults, bounds (validated as a query, through the same mapping as bodies) and
the pagination block."""

from __future__ import annotations

import pytest

from mkt_whatsapp.core.errors import BadRequest
from mkt_whatsapp.http.pagination import page_of
from mkt_whatsapp.http.validation import query_of
from mkt_whatsapp.models import PageQuery


def parse(skip: str | None, take: str | None) -> PageQuery:
    query = {name: value for name, value in (("skip", skip), ("take", take)) if value is not None}
    return query_of(query, PageQuery)


def test_defaults_are_skip_0_take_20() -> None:
    assert (parse(None, None).skip, parse(None, None).take) == (0, 20)
    assert (parse("", "").skip, parse("", "").take) == (0, 20)


@pytest.mark.parametrize(
    ("skip", "take", "total", "expected"),
    [
        (0, 20, 42, {"page": 1, "limit": 20, "total": 42, "totalPages": 3}),
        (20, 20, 150, {"page": 2, "limit": 20, "total": 150, "totalPages": 8}),
        (40, 20, 41, {"page": 3, "limit": 20, "total": 41, "totalPages": 3}),
        (0, 100, 0, {"page": 1, "limit": 100, "total": 0, "totalPages": 0}),
        (5, 10, 100, {"page": 1, "limit": 10, "total": 100, "totalPages": 10}),
    ],
)
def test_the_pagination_block(skip: int, take: int, total: int, expected: dict) -> None:
    assert page_of(parse(str(skip), str(take)), total).to_wire() == expected


@pytest.mark.parametrize(
    ("skip", "take", "field", "code"),
    [
        ("0", "101", "take", "OUT_OF_RANGE"),
        ("0", "0", "take", "OUT_OF_RANGE"),
        ("-1", "20", "skip", "OUT_OF_RANGE"),
        ("a", "20", "skip", "INVALID_TYPE"),
        ("0", "1.5", "take", "INVALID_TYPE"),
        ("0", "１０", "take", "INVALID_TYPE"),
        ("0", "+10", "take", "INVALID_TYPE"),
        ("0", "1_0", "take", "INVALID_TYPE"),
        ("0", "10.0", "take", "INVALID_TYPE"),
        ("0", "10 ", "take", "INVALID_TYPE"),
        ("٣", "20", "skip", "INVALID_TYPE"),
        ("1000001", "20", "skip", "OUT_OF_RANGE"),
        ("99999999999999999999999", "20", "skip", "INVALID_TYPE"),
    ],
)
def test_bad_values_are_400_naming_the_parameter(skip: str, take: str, field: str, code: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse(skip, take)
    assert (raised.value.field, raised.value.code, raised.value.status) == (field, code, 400)


def test_take_100_is_allowed() -> None:
    assert parse("0", "100").take == 100


def test_the_largest_skip_is_a_million() -> None:
    assert parse("1000000", "100").skip == 1_000_000
