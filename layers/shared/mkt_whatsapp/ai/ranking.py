"""The knowledge entries and products most relevant to what the customer just said: Okapi BM25 over an inverted
index of case- and diacritics-folded text (:func:`mkt_whatsapp.core.text.fold`), so "co giao hang khong" finds
"Có giao hàng không?".

What is indexed
    A FAQ entry's question and answer, a product's name, SKU and description, each split into folded words
    (letters and digits apart: "i5-1235U" → ``i 5 1235 u``) and the pairs of adjacent words. Vietnamese
    writes one syllable per word, so a pair ("giao hang", "bao hanh", "da nang") is often the real word, and
    it tells "giao hàng" (delivery) from "cửa hàng" (shop) where the single syllables cannot. Fields are
    weighted before BM25's saturation (a BM25F-style sum): a question or a product name counts twice, a SKU
    three times, an answer or a description once — a customer names what they ask about. FAQ entries and
    products are two indexes with their own statistics, since ``top`` asks for a number of each.

What is relevant
    BM25 (k1 = 1.2, b = 0.75, Lucene's non-negative IDF) with every posting's weight computed at build time,
    so a query only adds up the postings of its terms. The chat's function words (``khong``, ``co``, ``a``,
    ``minh``…, :data:`STOPWORDS`) are no terms on their own but stay inside pairs. An entry is returned
    only when it matches a pair or two words of the query that say something (a query of one such word:
    that word; when no product matches two, one: "laptop nào tốt?" brings the best laptops) — words of one
    or two letters and the base's everyday vocabulary (``hang`` in a shop's FAQ)
    say nothing on their own — and when its score reaches a floor (:data:`MIN_SCORE_SHARE` of what one
    word found in that entry alone scores) and a share of the best entry's (:data:`RELATIVE_CUT`). So a
    greeting, a thank-you or an unrelated message brings no entries, a broad one a part of the base, never
    all of it. Folding makes some words collide ("nâng cấp" and "Nẵng", "lâu" and "lau nhà"): pairs and the
    best-score share keep most such noise out, and what is left is bounded by ``top``'s limits.

Why in-house rather than a package (measured here on 2026-11-26, 500 FAQ + 2,000 generated products,
the same folded terms given to each, warm)
    ``rank-bm25`` 0.2.2 (last release 2022-02) scores every document for every query word with numpy: 25 ms
    per multi-turn query on the products alone (p50), over the 10 ms target. ``bm25s`` 0.3.16 is fast (0.1
    ms) on sparse matrices. Both need numpy, which the shared layer does not carry: importing it costs
    ~140 ms of cold start on this machine (the API functions' whole import floor is ~240 ms) and ~73 MB of
    layer, for every function of the layer, not only the responder. Neither gives the field weights, the
    word pairs of folded Vietnamese or the relevance cut, which would be written around it anyway. The index
    below is plain Python, scores only the postings of the query's terms, and answers the same query for
    FAQ and products in ~2 ms (p50, ``make bench`` has the figures); it is built once per agent version
    (~0.2 s for the largest agent) and kept in the warm container (:func:`index_for`).
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Generic, TypeVar

from mkt_whatsapp.ai.knowledge import Faq, Knowledge, Product
from mkt_whatsapp.core.cache import TimedCache
from mkt_whatsapp.core.text import fold

K1 = 1.2
B = 0.75
# An entry must score at least this share of what a word found in that entry alone would score (BM25's
# scores grow with the number of entries: ~2 for 2,000 products, ~0.1 for a base of one entry) …
MIN_SCORE_SHARE = 0.3
# … and at least this share of the best entry's score: the tail of entries matching only a common word goes.
RELATIVE_CUT = 0.3
# A query term found in more than a third of the entries, and in more than a handful (a small base has no
# everyday vocabulary), is no evidence of relevance: "hàng" in a shop's FAQ.
EVERYDAY_SHARE = 1 / 3
EVERYDAY_MINIMUM = 5

QUESTION_WEIGHT = 2
ANSWER_WEIGHT = 1
NAME_WEIGHT = 2
SKU_WEIGHT = 3
DESCRIPTION_WEIGHT = 1

# Folded function words of customers' messages and FAQ questions, the pronouns and the politeness of a chat.
# They are not terms on their own, but they stay in the pairs of words, where a folded word regains its
# meaning: "minh" (mình, me) is no term but "thong minh" (thông minh, smart) is; so are "ban phim" (bàn
# phím), "chong on" (chống ồn), "da nang" (Đà Nẵng), "hoi nuoc" (hơi nước), "chi nhanh" (chi nhánh).
STOPWORDS = frozenset(
    (
        "a", "ah", "ak", "ha", "ho", "nhe", "nha", "nhi", "oi", "ui", "vay", "the", "thi", "la", "va", "voi", "cho",
        "khong", "ko", "k", "co", "duoc", "dc", "nay", "xin", "chao", "cam", "on", "muon", "can", "biet", "gi", "nao",
        "sao", "shop", "ad", "admin", "vang", "da", "ban", "minh", "em", "anh", "chi", "toi", "hoi", "roi", "se",
        "dang", "nhung", "cac", "nhu", "i", "me", "my", "you", "your", "is", "are", "an", "and", "or", "of", "to",
        "for", "with", "have", "has", "what", "how", "please", "hi", "hello", "thanks", "thank", "ok", "okay", "yes",
    )
)  # fmt: skip

_WORD = re.compile(r"[a-z]+|\d+")

# How many agents' indexes a warm container keeps, and for how long after the last build. An agent's
# knowledge at one version never changes, so the time only frees the memory of agents no longer talking.
CACHED_INDEXES = 8
CACHE_SECONDS = 6 * 3600

Entry = TypeVar("Entry", Faq, Product)


@lru_cache(maxsize=65_536)
def _fold_word(raw: str) -> tuple[str, ...]:
    # Folding is per character, so folding each distinct word once (a shop's vocabulary is a few thousand
    # words) gives the same words as folding the whole text, several times faster on a large knowledge base.
    return tuple(_WORD.findall(fold(raw)))


def words(text: str) -> list[str]:
    """``"Có giao hàng không?"`` → ``["co", "giao", "hang", "khong"]``: folded, letters and digits apart."""
    return [word for raw in text.split() for word in _fold_word(raw)]


def terms(text: str) -> list[str]:
    """What the index holds of ``text``: its words but the stop words, and the pairs of adjacent words but
    those of two stop words (``"Có giao hàng không?"`` → ``giao``, ``hang``, ``co giao``, ``giao hang``,
    ``hang khong``)."""
    found = words(text)
    pairs = [
        f"{first} {second}" for first, second in pairwise(found) if first not in STOPWORDS or second not in STOPWORDS
    ]
    return [word for word in found if word not in STOPWORDS] + pairs


class _Bm25(Generic[Entry]):
    """One kind of entry's inverted index: for each term, the entries holding it and their BM25 weight."""

    def __init__(self, entries: Sequence[Entry], fields: Callable[[Entry], Iterable[tuple[str, int]]]) -> None:
        self.entries: tuple[Entry, ...] = tuple(entries)
        frequencies: list[dict[str, int]] = []
        for entry in self.entries:
            counts: dict[str, int] = {}
            for text, weight in fields(entry):
                for term in terms(text):
                    counts[term] = counts.get(term, 0) + weight
            frequencies.append(counts)
        lengths = [sum(counts.values()) for counts in frequencies]
        average = (sum(lengths) / len(lengths)) if lengths else 1.0
        holding: Counter[str] = Counter()
        for counts in frequencies:
            holding.update(counts.keys())
        total = len(self.entries)
        self._idf = {term: math.log(1 + (total - n + 0.5) / (n + 0.5)) for term, n in holding.items()}
        self._min_score = MIN_SCORE_SHARE * math.log(1 + (total - 0.5) / 1.5)
        everyday = max(EVERYDAY_SHARE * total, EVERYDAY_MINIMUM)
        self._everyday = frozenset(term for term, n in holding.items() if n > everyday)
        postings: dict[str, list[tuple[int, float]]] = {term: [] for term in holding}
        for number, (counts, length) in enumerate(zip(frequencies, lengths, strict=True)):
            norm = K1 * (1 - B + B * length / (average or 1.0))
            for term, frequency in counts.items():
                postings[term].append((number, self._idf[term] * frequency * (K1 + 1) / (frequency + norm)))
        self._postings = {term: tuple(held) for term, held in postings.items()}

    def _evidence(self, term: str) -> int:
        """What a matched query term says about an entry: a pair of words twice what one word says; a term
        of the shop's everyday vocabulary nothing, nor a word of one or two characters on its own ("on" is ơn
        of "cảm ơn" and ồn of "chống ồn"; "5" of "i5"), though a pair holding it does ("i 5", "laptop hp")."""
        if term in self._everyday:
            return 0
        if " " in term:
            return 2
        return 1 if len(term) > 2 else 0

    def top(self, query_terms: set[str], limit: int, *, by_one_word: bool = False) -> list[Entry]:
        if limit <= 0:
            return []
        evidence = {term: self._evidence(term) for term in query_terms if term in self._postings}
        # An entry must match a pair or two informative words of the query (one, for a one-word query).
        needed = min(2, sum(evidence.values()))
        if needed == 0:
            return []
        scores: dict[int, float] = {}
        support: dict[int, int] = {}
        for term, says in evidence.items():
            for number, weight in self._postings[term]:
                scores[number] = scores.get(number, 0.0) + weight
                if says:
                    support[number] = support.get(number, 0) + says
        candidates = [(number, score) for number, score in scores.items() if support.get(number, 0) >= needed]
        if not candidates and needed == 2 and by_one_word:
            # No product matches two of the query's words: a category and a quality ("laptop nào tốt?")
            # still deserves the category's best products, by one informative word, under the same cuts.
            candidates = [(number, score) for number, score in scores.items() if support.get(number, 0) >= 1]
        if not candidates:
            return []
        best = heapq.nlargest(limit, candidates, key=lambda item: (item[1], -item[0]))
        floor = max(self._min_score, RELATIVE_CUT * best[0][1])
        return [self.entries[number] for number, score in best if score >= floor]


def _faq_fields(faq: Faq) -> Iterable[tuple[str, int]]:
    return ((faq.question, QUESTION_WEIGHT), (faq.answer, ANSWER_WEIGHT))


def _product_fields(product: Product) -> Iterable[tuple[str, int]]:
    return ((product.name, NAME_WEIGHT), (product.sku, SKU_WEIGHT), (product.description, DESCRIPTION_WEIGHT))


@dataclass(frozen=True, slots=True)
class KnowledgeIndex:
    """An agent's knowledge at one version, ready to rank; immutable, shared by a warm container's calls."""

    _faqs: _Bm25[Faq]
    _products: _Bm25[Product]

    @classmethod
    def build(cls, knowledge: Knowledge) -> KnowledgeIndex:
        return cls(_Bm25(knowledge.faqs, _faq_fields), _Bm25(knowledge.products, _product_fields))

    def top(self, query: str, *, faqs: int, products: int) -> tuple[list[Faq], list[Product]]:
        """The at most ``faqs`` FAQ entries and ``products`` products most relevant to ``query``, best first;
        fewer (or none) when fewer are relevant."""
        query_terms = set(terms(query))
        return self._faqs.top(query_terms, faqs), self._products.top(query_terms, products, by_one_word=True)


_indexes: TimedCache[tuple[str, str], KnowledgeIndex] = TimedCache(seconds=CACHE_SECONDS, maxsize=CACHED_INDEXES)


def index_for(agent_id: str, version: int | str, load: Callable[[], Knowledge]) -> KnowledgeIndex:
    """The agent's index at ``version``, built from ``load()`` on the container's first need of it and kept
    (at most :data:`CACHED_INDEXES` agents). A new version is a new key: a reply never ranks an old index
    against a new knowledge base, and the old one ages out."""
    return _indexes.get((agent_id, str(version)), lambda: KnowledgeIndex.build(load()))
