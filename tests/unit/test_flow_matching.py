"""Which active flow a message starts (issue 12, item 2): the guide's order, folded keywords in every mode,
button and list replies and template quick replies, ad referrals, new customers, the fallback."""

from __future__ import annotations

from typing import Any

import pytest

from mkt_whatsapp.flows.matching import match


def text(body: str) -> dict[str, Any]:
    return {"type": "text", "text": body}


def button(reply_id: str) -> dict[str, Any]:
    return {
        "type": "interactive",
        "interactive": {"type": "button_reply", "buttonReply": {"id": reply_id, "title": "x"}},
    }


def entry(trigger: dict[str, Any], version: int = 1, once: bool = False) -> dict[str, Any]:
    return {"trigger": trigger, "version": version, "oncePerCustomer": once}


INDEX = {
    "f-keyword": entry({"type": "keyword", "keywords": ["xin chào", "hi"], "match": "exact"}, version=3),
    "f-contains": entry({"type": "keyword", "keywords": ["giá"], "match": "contains"}),
    "f-starts": entry({"type": "keyword", "keywords": ["menu"], "match": "starts_with"}),
    "f-button": entry({"type": "button_reply", "buttonIds": ["buy", "promo_2026"]}, once=True),
    "f-ad": entry({"type": "ad_referral", "sourceIds": ["120200001"]}),
    "f-new": entry({"type": "new_customer"}),
    "f-any": entry({"type": "any_message"}),
}


@pytest.mark.parametrize(
    ("content", "new_customer", "referral", "expected"),
    [
        (text("Xin Chao"), False, None, "f-keyword"),  # folded: case and diacritics aside
        (text("  xin   chào "), False, None, "f-keyword"),  # spaces folded too
        (text("xin chào shop"), False, None, "f-any"),  # exact means the whole message
        (text("cho hỏi GIA bao nhiêu"), False, None, "f-contains"),  # a whole word inside
        (text("giam gia"), False, None, "f-contains"),
        (text("giày"), False, None, "f-any"),  # "giay" is not the word "gia"
        (text("Menu hôm nay"), False, None, "f-starts"),
        (text("menus"), False, None, "f-any"),
        (button("buy"), False, None, "f-button"),
        ({"type": "button", "button": {"text": "Xem ưu đãi", "payload": "promo_2026"}}, False, None, "f-button"),
        (button("other"), False, None, "f-any"),
        (text("hi"), True, None, "f-keyword"),  # a keyword before new_customer
        (text("alo"), True, None, "f-new"),
        (text("alo"), False, {"sourceId": "120200001"}, "f-ad"),
        (text("alo"), False, {"sourceId": "999"}, "f-any"),
        ({"type": "image", "caption": "hi"}, False, None, "f-keyword"),
    ],
)
def test_the_guides_order(content: dict, new_customer: bool, referral: dict | None, expected: str) -> None:
    found = match(INDEX, content, new_customer=new_customer, referral=referral)
    assert found is not None
    assert found.flow_id == expected


def test_a_match_carries_the_version_and_once_per_customer() -> None:
    keyword = match(INDEX, text("hi"), new_customer=False)
    assert keyword is not None
    assert (keyword.version, keyword.trigger_type, keyword.once_per_customer) == (3, "keyword", False)
    pressed = match(INDEX, button("buy"), new_customer=False)
    assert pressed is not None
    assert (pressed.trigger_type, pressed.once_per_customer) == ("button_reply", True)


def test_nothing_matches_without_a_fallback_flow() -> None:
    index = {k: v for k, v in INDEX.items() if k != "f-any"}
    assert match(index, text("alo"), new_customer=False) is None
    assert match({}, text("hi"), new_customer=True) is None


def test_an_ad_referral_without_source_ids_takes_any_ad() -> None:
    index = {"f-ad": entry({"type": "ad_referral"})}
    found = match(index, text("alo"), new_customer=False, referral={"sourceId": "anything"})
    assert found is not None
    assert found.flow_id == "f-ad"
    assert match(index, text("alo"), new_customer=False) is None
