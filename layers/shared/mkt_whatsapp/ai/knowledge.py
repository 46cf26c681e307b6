"""The plain types the AI feature's parts share: what an agent is configured with, what it knows, who the
customer is and what was said. Frozen dataclasses, free of pydantic and of the store, so the ranking and
the prompt can be built and tested on their own, and the responder's warm path allocates little."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

Language = Literal["vi", "en", "auto"]
Role = Literal["user", "assistant"]


@dataclass(frozen=True, slots=True)
class Faq:
    question: str
    answer: str


@dataclass(frozen=True, slots=True)
class Product:
    sku: str
    name: str
    price: float | None = None
    currency: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Knowledge:
    """An agent's knowledge at one version: up to 500 FAQ entries and 2,000 products."""

    faqs: tuple[Faq, ...] = ()
    products: tuple[Product, ...] = ()


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """What shapes an agent's answers, apart from its knowledge."""

    agent_id: str
    name: str
    model: str
    personality: str = ""
    instructions: str = ""
    language: Language = "auto"
    temperature: float = 0.3
    max_tokens: int = 300
    business: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CustomerContext:
    name: str | None = None
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Turn:
    """One message of the conversation as the model sees it."""

    role: Role
    content: str
