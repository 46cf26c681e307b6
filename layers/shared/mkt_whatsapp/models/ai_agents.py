"""AI agents on the wire (docs/ai-agents.md; the contract is ../shared/spec/ai-chatbot-guide.md).

The guide's limits — ``temperature`` 0–2, ``maxTokens`` 1–4096, ``knowledgeBase`` up to 500 entries,
``products`` up to 2,000 — are business rules: out of range is **422** with ``details.field`` the JSON
path (``knowledgeBase[3].answer``). A value of the wrong type or shape is 400, as everywhere else
(``LIMITS_ARE_RULES`` tells http.validation which is which); numbers are JSON numbers (``true`` or
``"0.3"`` is no temperature). Every string has a bound, so an agent at the
maximum fits the 1 MiB request limit with room to spare."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BeforeValidator, Field, model_validator
from pydantic_core import PydanticCustomError

from mkt_whatsapp.models import ApiModel, PageQuery, WireModel
from mkt_whatsapp.models.accounts import ShopId

MAX_FAQS = 500
MAX_PRODUCTS = 2000
MAX_AGENTS_PER_SHOP = 20
DEFAULT_HANDOFF_TEXT = "Mình chuyển bạn sang nhân viên hỗ trợ nhé, vui lòng chờ trong giây lát."

Language = Literal["vi", "en", "auto"]


def _json_number(kind: str) -> Any:
    """A JSON number as JSON Schema reads one: ``true`` and ``"0.3"`` are no numbers (pydantic's lax mode
    would take them), ``300.0`` is the integer 300."""

    def check(value: Any) -> Any:
        if isinstance(value, bool | str | bytes):
            raise PydanticCustomError(
                f"{kind}_type", f"Input should be a valid {'integer' if kind == 'int' else 'number'}"
            )
        return value

    return BeforeValidator(check)


Integer = Annotated[int, _json_number("int")]
Number = Annotated[float, _json_number("float")]
Text = Annotated[str, Field(min_length=1)]


class FaqEntry(WireModel):
    question: Annotated[str, Field(min_length=1, max_length=500)]
    answer: Annotated[str, Field(min_length=1, max_length=2000)]


class ProductEntry(WireModel):
    sku: Annotated[str, Field(min_length=1, max_length=64)]
    name: Annotated[str, Field(min_length=1, max_length=200)]
    price: Annotated[Number, Field(ge=0, le=1e12)] | None = None
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
    max_turns: Annotated[Integer, Field(ge=1, le=100)] = 10
    message: HandoffMessage = Field(default_factory=lambda: HandoffMessage(text=DEFAULT_HANDOFF_TEXT))


ModelName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]


class _AgentFields(WireModel):
    LIMITS_ARE_RULES: ClassVar[bool] = True

    personality: Annotated[str, Field(max_length=2000)] = ""
    instructions: Annotated[str, Field(max_length=8000)] = ""
    language: Language = "auto"
    temperature: Annotated[Number, Field(ge=0, le=2)] = 0.3
    max_tokens: Annotated[Integer, Field(ge=1, le=4096)] = 300
    business: Business = Field(default_factory=Business)
    knowledge_base: Annotated[list[FaqEntry], Field(max_length=MAX_FAQS)] = Field(default_factory=list)
    products: Annotated[list[ProductEntry], Field(max_length=MAX_PRODUCTS)] = Field(default_factory=list)
    handoff: Handoff = Field(default_factory=Handoff)
    monthly_budget_usd: Annotated[Number, Field(ge=0, le=1_000_000)] | None = None


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
    temperature: Annotated[Number, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[Integer, Field(ge=1, le=4096)] | None = None
    business: Business | None = None
    knowledge_base: Annotated[list[FaqEntry], Field(max_length=MAX_FAQS)] | None = None
    products: Annotated[list[ProductEntry], Field(max_length=MAX_PRODUCTS)] | None = None
    handoff: Handoff | None = None
    monthly_budget_usd: Annotated[Number, Field(ge=0, le=1_000_000)] | None = None

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


# --- answers ------------------------------------------------------------------------------------------


class AgentSummary(ApiModel):
    """An agent as lists and changes show it: its settings, whether it answers, and its knowledge's size."""

    agent_id: str
    shop_id: str
    name: str
    model: str
    personality: str | None = None
    instructions: str | None = None
    language: Language | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    business: Business | None = None
    handoff: Handoff | None = None
    monthly_budget_usd: float | None = None
    is_active: bool
    knowledge_base_count: int
    product_count: int
    knowledge_version: int
    created_at: datetime
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class AgentDetail(AgentSummary):
    """``GET /ai-agents/{agentId}``: the agent with its whole knowledge (one version of it)."""

    knowledge_base: list[FaqEntry]
    products: list[ProductEntry]


class AgentPage(ApiModel):
    agents: list[AgentSummary]
    total_count: int


class AgentActivation(ApiModel):
    agent_id: str
    is_active: Literal[True]
    activated_at: datetime
    activated_by: str


class AgentDeactivation(ApiModel):
    agent_id: str
    is_active: Literal[False]
    deactivated_at: datetime
    deactivated_by: str


class AgentDeletion(ApiModel):
    agent_id: str
    deleted: Literal[True]
    deleted_by: str


class TokensUsed(ApiModel):
    prompt: int
    completion: int
    total: int


class TestHandoff(ApiModel):
    reason: str


class AgentTestResult(ApiModel):
    """``POST /ai-agents/{agentId}/test`` (api-v1's answer; ``handoff`` when the model called the tool)."""

    generated_response: str | None
    tokens_used: TokensUsed
    estimated_cost: float | None
    latency_ms: int
    handoff: TestHandoff | None = None
