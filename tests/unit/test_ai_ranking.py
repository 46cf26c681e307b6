"""The AI agent's knowledge ranking: BM25 over folded text finds accented entries for a query without
diacritics, leaves unrelated entries out, returns nothing for a message that names nothing, and an agent
version's index is built once per warm container."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mkt_whatsapp.ai import ranking
from mkt_whatsapp.ai.knowledge import Faq, Knowledge, Product
from mkt_whatsapp.ai.ranking import KnowledgeIndex, index_for, terms
from mkt_whatsapp.core import cache
from tests.fixtures.ai_knowledge import large_knowledge, small_knowledge


@pytest.fixture(scope="module")
def large() -> KnowledgeIndex:
    return KnowledgeIndex.build(large_knowledge())


@pytest.fixture(scope="module")
def small() -> KnowledgeIndex:
    return KnowledgeIndex.build(small_knowledge())


@pytest.fixture
def empty_cache() -> Iterator[None]:
    cache.forget_all()
    yield
    cache.forget_all()


def test_terms_are_folded_words_and_pairs_without_stop_words() -> None:
    assert terms("Có giao hàng KHÔNG?") == ["giao", "hang", "co giao", "giao hang", "hang khong"]
    assert terms("i5-1235U") == ["5", "1235", "u", "i 5", "5 1235", "1235 u"]


@pytest.mark.parametrize("index_name", ["small", "large"])
def test_a_query_without_diacritics_finds_the_accented_entry(index_name: str, request: pytest.FixtureRequest) -> None:
    index: KnowledgeIndex = request.getfixturevalue(index_name)
    faqs, _ = index.top("co giao hang khong", faqs=3, products=3)
    assert faqs[0] == Faq("Có giao hàng không?", faqs[0].answer)


def test_case_and_diacritics_are_ignored_both_ways(large: KnowledgeIndex) -> None:
    _, upper = large.top("TAI NGHE CHỐNG ỒN", faqs=0, products=5)
    _, bare = large.top("tai nghe chong on", faqs=0, products=5)
    assert upper == bare
    assert upper
    assert all(product.name.startswith("Tai nghe") and "chống ồn" in product.name for product in upper)


def test_the_province_asked_about_comes_first_and_unrelated_topics_stay_out(large: KnowledgeIndex) -> None:
    faqs, _ = large.top("ship ve da nang bao lau, phi bao nhieu", faqs=5, products=5)
    assert faqs[0].question == "Phí ship về Đà Nẵng bao nhiêu?"
    for faq in faqs:
        assert faq.question.startswith(("Phí ship", "Shop có giao hàng")), faq


def test_an_instalment_question_gets_the_bank_asked_about(large: KnowledgeIndex) -> None:
    faqs, _ = large.top("tra gop qua the vietcombank duoc khong", faqs=3, products=3)
    assert faqs[0].question == "Có trả góp qua thẻ Vietcombank không?"
    assert all("trả góp" in faq.question.lower() for faq in faqs)


def test_products_are_found_by_name_and_by_sku(large: KnowledgeIndex) -> None:
    _, by_name = large.top("iphone 15 pro max", faqs=0, products=5)
    assert by_name
    assert all("iPhone 15 Pro Max" in product.name for product in by_name)
    _, by_sku = large.top("lp01", faqs=0, products=5)
    assert [product.sku for product in by_sku] == ["LP-01"]


def test_a_base_of_one_entry_answers_with_it() -> None:
    index = KnowledgeIndex.build(Knowledge(faqs=(Faq("Có giao hàng không?", "Có."),)))
    assert index.top("shop co giao hang khong", faqs=3, products=3) == ([Faq("Có giao hàng không?", "Có.")], [])
    assert index.top("laptop gia bao nhieu", faqs=3, products=3) == ([], [])


def test_a_product_name_weighs_more_than_a_description() -> None:
    named = Product(sku="A-1", name="Loa JBL Flip 6", description="Loa bluetooth chống nước.")
    mentioned = Product(sku="B-2", name="Tai nghe Sony", description="Nghe hay như loa JBL Flip 6 ngoài trời.")
    index = KnowledgeIndex.build(Knowledge(products=(mentioned, named)))
    assert index.top("jbl flip 6", faqs=0, products=2)[1] == [named, mentioned]


@pytest.mark.parametrize("message", ["", "   ", "ok", "xin chào shop", "cảm ơn shop nhé", "thời tiết hôm nay thế nào"])
def test_a_message_that_names_nothing_brings_no_entries(large: KnowledgeIndex, message: str) -> None:
    assert large.top(message, faqs=5, products=5) == ([], [])


def test_a_broad_query_brings_a_part_of_the_base_never_all_of_it(large: KnowledgeIndex) -> None:
    faqs, products = large.top("giao hàng", faqs=500, products=2000)
    assert 0 < len(faqs) < 250
    assert len(products) < 100
    assert large.top("hàng", faqs=500, products=2000) == ([], [])  # in most entries: says nothing


def test_limits_are_respected(large: KnowledgeIndex) -> None:
    assert large.top("laptop dell", faqs=0, products=0) == ([], [])
    faqs, products = large.top("laptop dell", faqs=2, products=4)
    assert len(faqs) <= 2
    assert len(products) == 4


def test_an_agent_version_is_indexed_once_and_a_new_version_again(empty_cache: None) -> None:
    loads: list[str] = []

    def load(label: str) -> Knowledge:
        loads.append(label)
        return small_knowledge()

    first = index_for("agent-1", 1, lambda: load("v1"))
    assert index_for("agent-1", 1, lambda: load("again")) is first
    assert index_for("agent-1", "1", lambda: load("again")) is first
    second = index_for("agent-1", 2, lambda: load("v2"))
    assert second is not first
    assert loads == ["v1", "v2"]


def test_the_container_keeps_a_bounded_number_of_indexes(empty_cache: None) -> None:
    loads: list[str] = []

    def loader(agent: str) -> Knowledge:
        loads.append(agent)
        return Knowledge(faqs=(Faq(f"{agent}?", "yes"),))

    for number in range(ranking.CACHED_INDEXES + 1):
        index_for(f"agent-{number}", 1, lambda number=number: loader(f"agent-{number}"))
    index_for("agent-0", 1, lambda: loader("agent-0 again"))
    assert loads[-1] == "agent-0 again"  # the oldest was let go to keep the bound
    assert len(loads) == ranking.CACHED_INDEXES + 2


def test_a_category_and_a_quality_bring_the_categorys_products() -> None:
    """api-v1's own example: "Bạn có laptop nào tốt?" names one informative word that products hold."""
    from mkt_whatsapp.ai.knowledge import Faq, Knowledge, Product
    from mkt_whatsapp.ai.ranking import KnowledgeIndex

    index = KnowledgeIndex.build(
        Knowledge(
            faqs=(Faq("Có giao hàng không?", "Giao toàn quốc."),),
            products=(
                Product("LP-01", "Laptop X1 Carbon", 15990000, "VND", "Mỏng nhẹ"),
                Product("PH-02", "Điện thoại Galaxy A55", 8990000, "VND", "Pin trâu"),
                Product("TV-03", "Tivi OLED 55 inch", 20990000, "VND", "Hình ảnh đẹp"),
            ),
        )
    )
    faqs, products = index.top("Bạn có laptop nào tốt?", faqs=3, products=3)
    assert [p.sku for p in products] == ["LP-01"]
    assert faqs == []
