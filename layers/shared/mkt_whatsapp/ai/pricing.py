"""What a reply cost: USD per million tokens per model, the one table of the service (docs/ai-agents.md).

Source: OpenAI's API pricing page (developers.openai.com/api/docs/pricing, formerly openai.com/api/pricing),
Standard tier (not Batch, Flex or Priority), text tokens, USD per 1M tokens. These prices have stood since
the models' releases (gpt-4o's current price since gpt-4o-2024-08-06; gpt-4.1 family 2025-04-14; gpt-5
family 2025-08-07). Written down on 2026-11-26 and checked that day against third-party tables that cite the
page (dated March–May 2026, and GitHub's Copilot price table for the cached-input prices); the page itself
could not be opened from where this was written. Check it again when adding a model.

- A dated snapshot (``gpt-4o-mini-2024-07-18``), which is what the API reports as ``model``, is priced as its
  family unless the table lists the snapshot itself (``gpt-4o-2024-05-13`` launched at a higher price).
- A model the table does not know has no estimate (``None``): never a guess from a similar name, since a
  compatible server's "gpt-4o" may cost anything.
- ``cached_prompt_tokens`` (the provider's ``usage.prompt_tokens_details.cached_tokens``, part of the prompt
  tokens) are billed at the cached-input price.
- Estimates are rounded to the micro-dollar (6 decimals): a short reply on gpt-4.1-nano costs ~$0.0001.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Price:
    """USD per 1M tokens."""

    input: float
    cached_input: float
    output: float


PRICES: dict[str, Price] = {
    "gpt-4o": Price(input=2.50, cached_input=1.25, output=10.00),
    "gpt-4o-2024-05-13": Price(input=5.00, cached_input=5.00, output=15.00),  # the first snapshot, no caching
    "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.60),
    "gpt-4.1": Price(input=2.00, cached_input=0.50, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, cached_input=0.10, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, cached_input=0.025, output=0.40),
    "gpt-5": Price(input=1.25, cached_input=0.125, output=10.00),
    "gpt-5-mini": Price(input=0.25, cached_input=0.025, output=2.00),
    "gpt-5-nano": Price(input=0.05, cached_input=0.005, output=0.40),
}

_SNAPSHOT = re.compile(r"^(?P<family>.+)-\d{4}-\d{2}-\d{2}$")


def price_of(model: str) -> Price | None:
    """The model's price: its own line, else its family's for a dated snapshot, else ``None``."""
    name = model.strip().lower()
    if name in PRICES:
        return PRICES[name]
    snapshot = _SNAPSHOT.match(name)
    return PRICES.get(snapshot.group("family")) if snapshot else None


def estimate(model: str, prompt_tokens: int, completion_tokens: int, *, cached_prompt_tokens: int = 0) -> float | None:
    """USD for one call, or ``None`` when the model's price is not known."""
    price = price_of(model)
    if price is None:
        return None
    cached = min(max(cached_prompt_tokens, 0), prompt_tokens)
    dollars = (
        (prompt_tokens - cached) * price.input + cached * price.cached_input + completion_tokens * price.output
    ) / 1_000_000
    return round(dollars, 6)
