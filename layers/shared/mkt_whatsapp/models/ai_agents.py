"""AI agents on the wire (docs/ai-agents.md; the contract is ../shared/spec/ai-chatbot-guide.md).

The guide's limits — ``temperature`` 0–2, ``maxTokens`` 1–4096, ``knowledgeBase`` up to 500 entries,
``products`` up to 2,000 — are business rules: out of range is **422** with ``details.field`` the JSON
path (``knowledgeBase[3].answer``). A value of the wrong type or shape is 400, as everywhere else
(``LIMITS_ARE_RULES`` tells http.validation which is which). Every string has a bound, so an agent at the
maximum fits the 1 MiB request limit with room to spare."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, model_validator

from mkt_whatsapp.models import ApiModel, PageQuery, WireModel
from mkt_whatsapp.models.accounts import ShopId

MAX_FAQS = 500
MAX_PRODUCTS = 2000
MAX_AGENTS_PER_SHOP = 20
DEFAULT_HANDOFF_TEXT = "Mình chuyển bạn sang nhân viên hỗ trợ nhé, vui lòng chờ trong giây lát."

Language = Literal["vi", "en", "auto"]
Text = Annotated[str, Field(min_length=1)]


class FaqEntry(WireModel):
    question: Annotated[str, Field(min_length=1, max_length=500)]
    answer: Annotated[str, Field(min_length=1, max_length=2000)]


class ProductEntry(WireModel):
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    price: Annotated[float, Field(ge=0, le=1e12)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    description: Annotated[str, Field(max_length=1000)] = ""


class Business(WireModel):
    shop_name: Annotated[str, Field(max_length=200)] | None = None
    hours: Annotated[str, Field(max_length=200)] | None = None
    policies: Annotated[str, Field(max_length=4000)] | None = None
    address: Annotated[str, Field(max_length=500)] | None = None
    phone: Annotated[str, Field(max_length=50)] | None = None
    website: Annotated[str, Field(max_length=500)] | None = None


class HandoffMessage(WireModel):
    """What a handoff sends: a text (a handoff may happen at any time, and a text is what every window
    and every client shows)."""

    type: Literal["text"] = "text"
    text: Annotated[str, Field(min_length=1, max_length=4096)]


class Handoff(WireModel):
    keywords: Annotated[list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=50)] = Field(
        default_factory=list
    )
    max_turns: Annotated[int, Field(ge=1, le=100)] = 10
    message: HandoffMessage = Field(default_factory=lambda: HandoffMessage(text=DEFAULT_HANDOFF_TEXT))


ModelName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


class _AgentFields(WireModel):
    LIMITS_ARE_RULES: ClassVar[bool] = True

    personality: Annotated[str, Field(max_length=2000)] = ""
    instructions: Annotated[str, Field(max_length=8000)] = ""
    language: Language = "auto"
    temperature: Annotated[float, Field(ge=0, le=2)] = 0.3
    max_tokens: Annotated[int, Field(ge=1, le=4096)] = 300
    business: Business = Field(default_factory=Business)
    knowledge_base: Annotated[list[FaqEntry], Field(max_length=MAX_FAQS)] = Field(default_factory=list)
    products: Annotated[list[ProductEntry], Field(max_length=MAX_PRODUCTS)] = Field(default_factory=list)
    handoff: Handoff = Field(default_factory=Handoff)
    monthly_budget_usd: Annotated[float, Field(ge=0, le=1_000_000)] | None = None


class CreateAgentRequest(_AgentFields):
    shop_id: ShopId
    name: Annotated[str, Field(min_length=1, max_length=100)]
    model: ModelName


class UpdateAgentRequest(WireModel):
    """Any subset of the agent's fields; ``null`` is no change (nothing is cleared by omission)."""

    LIMITS_ARE_RULES: ClassVar[bool] = True

    name: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    model: ModelName | None = None
    personality: Annotated[str, Field(max_length=2000)] | None = None
    instructions: Annotated[str, Field(max_length=8000)] | None = None
    language: Language | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=4096)] | None = None
    business: Business | None = None
    knowledge_base: Annotated[list[FaqEntry], Field(max_length=MAX_FAQS)] | None = None
    products: Annotated[list[ProductEntry], Field(max_length=MAX_PRODUCTS)] | None = None
    handoff: Handoff | None = None
    monthly_budget_usd: Annotated[float, Field(ge=0, le=1_000_000)] | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateAgentRequest:
        if not self.model_fields_set - {"shop_id"}:
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given (python names), as plain data."""
        return {name: value for name, value in self.model_dump().items() if name in self.model_fields_set}


class ListAgentsQuery(PageQuery):
    shop_id: ShopId


class TestTurn(WireModel):
    role: Literal["user", "assistant"]
    content: Annotated[str, Field(min_length=1, max_length=4096)]


class TestCustomerContext(WireModel):
    name: Annotated[str, Field(max_length=200)] | None = None
    tags: Annotated[list[Annotated[str, Field(min_length=1, max_length=50)]], Field(max_length=50)] = Field(
        default_factory=list
    )
    custom_fields: Annotated[dict[str, Annotated[str, Field(max_length=500)]], Field(max_length=50)] = Field(
        default_factory=dict
    )


class TestAgentRequest(WireModel):
    conversation_history: Annotated[list[TestTurn], Field(min_length=1, max_length=50)]
    customer_context: TestCustomerContext = Field(default_factory=TestCustomerContext)

    @model_validator(mode="after")
    def _ends_with_the_customer(self) -> TestAgentRequest:
        if self.conversation_history[-1].role != "user":
            raise ValueError("conversationHistory must end with the customer's (user) turn")
        return self


class AgentCreated(ApiModel):
    """``POST /ai-agents`` answer (the guide's)."""

    agent_id: str
    name: str
    model: str
    is_active: bool
    created_at: datetime
