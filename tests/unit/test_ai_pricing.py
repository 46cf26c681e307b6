"""The AI price table: per-model USD per million tokens, dated snapshots priced as their family, unknown models
without an estimate."""

from __future__ import annotations

import pytest

from mkt_whatsapp.ai.pricing import PRICES, estimate, price_of


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-4.1-nano"])
def test_the_guide_families_are_priced(model: str) -> None:
    assert model in PRICES
    assert estimate(model, 1_000_000, 0) == PRICES[model].input
    assert estimate(model, 0, 1_000_000) == PRICES[model].output


def test_a_reply_costs_input_plus_output() -> None:
    # gpt-4o-mini: $0.15 in, $0.60 out per 1M tokens.
    assert estimate("gpt-4o-mini", 1200, 150) == pytest.approx(0.00027)
    assert estimate("gpt-4.1", 1000, 100) == pytest.approx(0.0028)


def test_a_dated_snapshot_is_priced_as_its_family_unless_listed() -> None:
    assert price_of("gpt-4o-mini-2024-07-18") == PRICES["gpt-4o-mini"]
    assert price_of("gpt-4.1-nano-2025-04-14") == PRICES["gpt-4.1-nano"]
    assert price_of("gpt-4o-2024-08-06") == PRICES["gpt-4o"]
    assert price_of("gpt-4o-2024-05-13") == PRICES["gpt-4o-2024-05-13"] != PRICES["gpt-4o"]
    assert price_of("GPT-4o-Mini") == PRICES["gpt-4o-mini"]


@pytest.mark.parametrize(
    "model", ["llama3", "gpt-4o-audio-preview", "gpt-4o-mini-tts", "openai/gpt-4o-mini", "gpt-4", "", "gpt-4o-mini-x"]
)
def test_an_unknown_model_has_no_estimate(model: str) -> None:
    assert estimate(model, 1000, 100) is None


def test_cached_prompt_tokens_are_billed_at_the_cached_price() -> None:
    full = estimate("gpt-4.1", 10_000, 0)
    cached = estimate("gpt-4.1", 10_000, 0, cached_prompt_tokens=8_000)
    assert full == pytest.approx(0.02)
    assert cached == pytest.approx((2_000 * 2.00 + 8_000 * 0.50) / 1_000_000)
    # More cached tokens than prompt tokens cannot make a call cheaper than all-cached.
    assert estimate("gpt-4.1", 100, 0, cached_prompt_tokens=10_000) == pytest.approx(100 * 0.50 / 1_000_000)


def test_estimates_are_rounded_to_the_micro_dollar() -> None:
    assert estimate("gpt-4.1-nano", 3, 1) == 0.000001  # 7e-7
    assert estimate("gpt-4.1-nano", 1, 0) == 0.0  # 1e-7
    assert estimate("gpt-4.1-nano", 0, 0) == 0.0
