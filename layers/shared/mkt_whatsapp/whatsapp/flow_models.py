"""An automation flow's definition on the wire (the contract is ../shared/spec/automation-guide.md): its
trigger, its steps and their graph, checked as the guide's "Validation" section lists.

Why here, in ``whatsapp/``: a step's ``content`` is validated by the very models of Send Message
(:mod:`mkt_whatsapp.whatsapp.outbound_content`), and the import rules (tests/unit/test_architecture.py) let
``whatsapp`` import ``models`` and ``core`` but not the other way round, so ``models/`` could not hold a flow.

Every validation failure of a definition is **422** with ``details.field`` the JSON path (``steps[2].next``,
``steps[1].branches[0].if.right``, ``steps[0].content.text``): the request models say so with
``VALIDATION_STATUS``; malformed JSON stays 400. The graph is checked on ``steps`` as a whole, so its
errors carry their place below it: a duplicate id (``steps[3].id``), a ``next``/``else``/``onTimeout``/
``onDeliveryFailed``/branch ``next`` naming no step, a step the entry (the first step) cannot reach
(``steps[5]``). Unknown fields of a trigger, a step, a branch, a condition or the settings are refused
(a misspelt ``onTimeout`` would otherwise silently end the flow); unknown top-level fields are ignored, as
in every body of the API, so a flow as ``GET`` shows it can be sent back by ``PUT``.

Where the guide is silent:
- ``ask``: ``saveAs`` is optional (a question may only gate the flow); ``timeoutSeconds`` defaults to 86400
  (the customer-service window); ``expect: choice`` needs a question with choices (reply buttons, a list or
  a template); a missing ``onTimeout``/``onDeliveryFailed`` ends the execution as a fallback.
- ``condition``: 1–20 branches; a missing ``else`` ends the flow. ``left`` is text (usually a placeholder);
  ``right`` is text or a JSON number, a list of texts for ``in``, a Python regular expression for
  ``matches``, the tag for ``has_tag`` (which takes no ``left``), absent for ``exists``.
- ``ai_reply``: ``maxTurns`` defaults to 10 (an AI agent's own handoff default).
- ``ad_referral`` (ours): ``sourceIds`` absent means any click-to-WhatsApp ad; given, it holds 1–50 ids.
- ``PUT`` (:class:`UpdateFlowRequest`) takes any subset of the definition (not ``shopId``); what it omits is
  kept from the current version and the result is a new immutable version. The graph lives wholly in
  ``steps``, so a subset is as checkable as a whole definition.

Strings may hold placeholders (``{{customer.name}}``); limits apply to the text as written.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    PlainValidator,
    StrictBool,
    ValidationError,
    WrapValidator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from mkt_whatsapp.core.text import words
from mkt_whatsapp.models import ApiModel, PageQuery, WireModel
from mkt_whatsapp.models.accounts import ShopId
from mkt_whatsapp.models.ai_agents import Integer
from mkt_whatsapp.models.customers import TagText
from mkt_whatsapp.whatsapp.outbound_content import (
    ButtonInteractive,
    Content,
    InteractiveContent,
    ListInteractive,
    TemplateContent,
    _error_at,
    _untagged,
)

__all__ = [
    "FLOW_VALIDATION_STATUS",
    "MAX_STEPS",
    "AdReferralTrigger",
    "AddTagsStep",
    "AiReplyStep",
    "AnyMessageTrigger",
    "AskStep",
    "AssignAgentStep",
    "Branch",
    "ButtonReplyTrigger",
    "CloseConversationStep",
    "ConditionStep",
    "ConditionTest",
    "CreateFlowRequest",
    "DelayStep",
    "FlowSettings",
    "KeywordTrigger",
    "ListFlowsQuery",
    "NewCustomerTrigger",
    "RemoveTagsStep",
    "SendMessageStep",
    "SetConsentStep",
    "SetFieldStep",
    "Step",
    "Trigger",
    "UpdateFlowRequest",
    "step_targets",
    "triggers_claimed",
]

FLOW_VALIDATION_STATUS = 422
MAX_STEPS = 100
MAX_WAIT_SECONDS = 7 * 24 * 3600  # Step Functions Standard waits up to a year; the guide allows a week

StepId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
# A name a placeholder can spell (``{{vars.<name>}}``, ``{{customer.fields.<name>}}``).
VariableName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
NonBlank = r"\S"


class _Strict(WireModel):
    """A part of the definition: an unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


# --- triggers ------------------------------------------------------------------------------------------

Keyword = Annotated[str, Field(min_length=1, max_length=100, pattern=NonBlank)]
ButtonId = Annotated[str, Field(min_length=1, max_length=256, pattern=NonBlank)]
AdSourceId = Annotated[str, Field(min_length=1, max_length=256, pattern=NonBlank)]


class KeywordTrigger(_Strict):
    """An inbound text matching one of ``keywords``, case- and diacritics-insensitively (``core.text.fold``)."""

    type: Literal["keyword"]
    keywords: Annotated[list[Keyword], Field(min_length=1, max_length=50)]
    match: Literal["exact", "contains", "starts_with"] = "exact"

    @model_validator(mode="after")
    def _foldable(self) -> KeywordTrigger:
        for index, keyword in enumerate(self.keywords):
            if not words(keyword):  # only marks or punctuation: nothing a text could match
                raise _error_at(("keywords", index), "blank_keyword", "a keyword needs a letter or digit", keyword)
        return self


class NewCustomerTrigger(_Strict):
    type: Literal["new_customer"]


class ButtonReplyTrigger(_Strict):
    """An interactive button/list reply or a template quick reply carrying one of ``buttonIds``."""

    type: Literal["button_reply"]
    button_ids: Annotated[list[ButtonId], Field(min_length=1, max_length=50)]


class AnyMessageTrigger(_Strict):
    type: Literal["any_message"]


class AdReferralTrigger(_Strict):
    """A message sent from a click-to-WhatsApp ad (its ``referral``), from any ad or from these
    ``source_id``s."""

    type: Literal["ad_referral"]
    source_ids: Annotated[list[AdSourceId], Field(min_length=1, max_length=50)] | None = None


Trigger = Annotated[
    KeywordTrigger | NewCustomerTrigger | ButtonReplyTrigger | AnyMessageTrigger | AdReferralTrigger,
    Field(discriminator="type"),
    WrapValidator(_untagged),
]


def triggers_claimed(trigger: Trigger) -> set[str]:
    """What two active flows may not share (activating the second is 409): ``kw:<folded keyword>`` and
    ``btn:<button id>``. Other triggers claim nothing."""
    if isinstance(trigger, KeywordTrigger):
        return {f"kw:{words(keyword)}" for keyword in trigger.keywords}
    if isinstance(trigger, ButtonReplyTrigger):
        return {f"btn:{button_id}" for button_id in trigger.button_ids}
    return set()


# --- steps ---------------------------------------------------------------------------------------------

Operator = Literal["equals", "not_equals", "contains", "starts_with", "in", "matches", "gt", "lt", "has_tag", "exists"]
Operand = Annotated[str, Field(max_length=1000)]


MAX_OPERAND = 1000
MAX_OPERAND_VALUES = 100
_OPERAND = str | int | float | list[str] | None
_Text = Annotated[str, Field(max_length=MAX_OPERAND)]
# What the JSON schema shows; _operand checks it.
_OPERAND_SCHEMA = (
    _Text | int | float | Annotated[list[_Text], Field(min_length=1, max_length=MAX_OPERAND_VALUES)] | None
)


def _operand(value: Any) -> str | int | float | list[str] | None:
    """A condition's right: a text, a JSON number or a list of texts, one error naming the operand (a union
    of types would name each member it tried)."""
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        if isinstance(value, float) and not math.isfinite(value):
            raise PydanticCustomError("finite_number", "a number here is finite")
        return value
    if isinstance(value, str):
        if len(value) > MAX_OPERAND:
            raise PydanticCustomError("string_too_long", f"at most {MAX_OPERAND} characters")
        return value
    if isinstance(value, list):
        if not value:
            raise PydanticCustomError("too_short", "at least one value")
        if len(value) > MAX_OPERAND_VALUES:
            raise PydanticCustomError("too_long", f"at most {MAX_OPERAND_VALUES} values")
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise _error_at((index,), "string_type", "each value is a text", item)
            if len(item) > MAX_OPERAND:
                raise _error_at((index,), "string_too_long", f"at most {MAX_OPERAND} characters", item)
        return value
    raise PydanticCustomError("operand_type", "a text, a number or a list of texts")


RightOperand = Annotated[_OPERAND, PlainValidator(_operand, json_schema_input_type=_OPERAND_SCHEMA)]


class ConditionTest(_Strict):
    """``{left, op, right}``: what each operator needs is checked here, so an error names its operand."""

    left: Operand | None = None
    op: Operator
    right: RightOperand = None

    @model_validator(mode="after")
    def _operands_fit(self) -> ConditionTest:
        if self.op == "has_tag":
            if self.left is not None:
                raise _error_at(("left",), "not_allowed", "has_tag takes the tag as right, and no left", self.left)
        elif self.left is None:
            raise _error_at(("left",), "missing", f"{self.op} needs a left operand", None)
        if self.op == "exists":
            if self.right is not None:
                raise _error_at(("right",), "not_allowed", "exists takes no right operand", self.right)
            return self
        if self.right is None:
            raise _error_at(("right",), "missing", f"{self.op} needs a right operand", None)
        if self.op == "in":
            if not isinstance(self.right, list):
                raise _error_at(("right",), "list_type", "in needs a list of values as right", self.right)
        elif isinstance(self.right, list):
            raise _error_at(("right",), "string_type", f"{self.op} needs one value as right, not a list", self.right)
        elif self.op in ("contains", "starts_with", "matches", "has_tag") and not isinstance(self.right, str):
            raise _error_at(("right",), "string_type", f"{self.op} needs a text as right", self.right)
        if self.op == "matches":
            try:
                re.compile(str(self.right))
            except re.error as bad:
                raise _error_at(
                    ("right",), "invalid_regex", f"not a valid regular expression: {bad}", self.right
                ) from None
        return self


class Branch(_Strict):
    if_: ConditionTest = Field(alias="if")
    next: StepId | None = None


class _Step(_Strict):
    id: StepId

    def targets(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """The steps this one may go to, each with the field (below the step) that names it."""
        for field in ("next", "on_timeout", "on_delivery_failed", "else_"):
            target = getattr(self, field, None)
            if target is not None:
                alias = type(self).model_fields[field].alias or field
                yield (alias,), target


class SendMessageStep(_Step):
    type: Literal["send_message"]
    content: Content
    next: StepId | None = None


class AskStep(_Step):
    type: Literal["ask"]
    content: Content
    save_as: VariableName | None = None
    expect: Literal["any", "number", "email", "phone", "choice"] = "any"
    retries: Annotated[Integer, Field(ge=0, le=3)] = 0
    retry_content: Content | None = None
    timeout_seconds: Annotated[Integer, Field(ge=60, le=MAX_WAIT_SECONDS)] = 24 * 3600
    on_timeout: StepId | None = None
    on_delivery_failed: StepId | None = None
    next: StepId | None = None

    @model_validator(mode="after")
    def _choices_to_choose(self) -> AskStep:
        offers_choices = isinstance(self.content, TemplateContent) or (
            isinstance(self.content, InteractiveContent)
            and isinstance(self.content.interactive, ButtonInteractive | ListInteractive)
        )
        if self.expect == "choice" and not offers_choices:
            raise _error_at(
                ("expect",), "no_choices", "expect choice needs reply buttons, a list or a template", self.expect
            )
        return self


class ConditionStep(_Step):
    type: Literal["condition"]
    branches: Annotated[list[Branch], Field(min_length=1, max_length=20)]
    else_: StepId | None = Field(default=None, alias="else")

    def targets(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        for index, branch in enumerate(self.branches):
            if branch.next is not None:
                yield ("branches", index, "next"), branch.next
        yield from super().targets()


class AddTagsStep(_Step):
    type: Literal["add_tags"]
    tags: Annotated[list[TagText], Field(min_length=1, max_length=50)]
    next: StepId | None = None


class RemoveTagsStep(_Step):
    type: Literal["remove_tags"]
    tags: Annotated[list[TagText], Field(min_length=1, max_length=50)]
    next: StepId | None = None


class SetFieldStep(_Step):
    type: Literal["set_field"]
    field: VariableName
    value: Annotated[str, Field(max_length=500)]
    next: StepId | None = None


class SetConsentStep(_Step):
    type: Literal["set_consent"]
    status: Literal["opted_in", "opted_out"]
    next: StepId | None = None


class AssignAgentStep(_Step):
    """Hands the conversation to a human (``agentId`` null: any) and ends the flow: it has no ``next``."""

    type: Literal["assign_agent"]
    agent_id: Annotated[str, Field(min_length=1, max_length=128, pattern=NonBlank)] | None = None


class AiReplyStep(_Step):
    type: Literal["ai_reply"]
    ai_agent_id: Annotated[str, Field(min_length=1, max_length=128, pattern=NonBlank)]
    max_turns: Annotated[Integer, Field(ge=1, le=20)] = 10
    next: StepId | None = None


class DelayStep(_Step):
    type: Literal["delay"]
    seconds: Annotated[Integer, Field(ge=1, le=MAX_WAIT_SECONDS)]
    next: StepId | None = None


class CloseConversationStep(_Step):
    """Closes the conversation and ends the flow: it has no ``next``."""

    type: Literal["close_conversation"]


Step = Annotated[
    SendMessageStep
    | AskStep
    | ConditionStep
    | AddTagsStep
    | RemoveTagsStep
    | SetFieldStep
    | SetConsentStep
    | AssignAgentStep
    | AiReplyStep
    | DelayStep
    | CloseConversationStep,
    Field(discriminator="type"),
    WrapValidator(_untagged),
]


def step_targets(step: Step) -> list[str]:
    """The ids of the steps ``step`` may go to (branches first, then ``next``, ``onTimeout``, …)."""
    return [target for _, target in step.targets()]


def _graph_errors(steps: list[Step]) -> list[InitErrorDetails]:
    """Duplicate ids, references to no step, and steps the entry (the first step) cannot reach."""
    errors: list[InitErrorDetails] = []

    def error(loc: tuple[str | int, ...], kind: str, message: str, value: Any) -> None:
        errors.append(InitErrorDetails(type=PydanticCustomError(kind, message), loc=loc, input=value))

    index_of: dict[str, int] = {}
    for index, step in enumerate(steps):
        if step.id in index_of:
            error((index, "id"), "duplicate_id", f"step id {step.id!r} is used by steps[{index_of[step.id]}]", step.id)
        else:
            index_of[step.id] = index
    for index, step in enumerate(steps):
        for loc, target in step.targets():
            if target not in index_of:
                error((index, *loc), "unknown_step", f"no step has the id {target!r}", target)
    reached, frontier = {0}, [0]
    while frontier:
        for target in step_targets(steps[frontier.pop()]):
            found = index_of.get(target)
            if found is not None and found not in reached:
                reached.add(found)
                frontier.append(found)
    for index, step in enumerate(steps):
        if index not in reached and index_of[step.id] == index:  # a duplicate is reported as one
            error((index,), "unreachable_step", f"step {step.id!r} cannot be reached from the first step", step.id)
    return errors


def _valid_graph(steps: list[Step]) -> list[Step]:
    errors = _graph_errors(steps)
    if errors:
        raise ValidationError.from_exception_data("steps", errors)
    return steps


Steps = Annotated[list[Step], Field(min_length=1, max_length=MAX_STEPS), AfterValidator(_valid_graph)]


# --- requests ------------------------------------------------------------------------------------------


class FlowSettings(_Strict):
    max_steps: Annotated[Integer, Field(ge=1, le=200)] = 50
    once_per_customer: StrictBool = False


FlowName = Annotated[str, Field(min_length=1, max_length=100, pattern=NonBlank)]
Description = Annotated[str, Field(max_length=500)]


class _FlowBody(WireModel):
    # Every validation failure of a definition is 422 (the guide); http.validation reads this.
    VALIDATION_STATUS: ClassVar[int] = FLOW_VALIDATION_STATUS


class CreateFlowRequest(_FlowBody):
    """``POST /flows``: the guide's flow definition. A new flow is inactive."""

    shop_id: ShopId
    flow_name: FlowName
    description: Description = ""
    trigger: Trigger
    steps: Steps
    settings: FlowSettings = Field(default_factory=FlowSettings)


class UpdateFlowRequest(_FlowBody):
    """``PUT /flows/{flowId}``: any subset of the definition but ``shopId`` (at least one field); what is
    omitted (or ``null``) is kept from the current version. ``settings``, when given, is replaced as a
    whole (its omitted fields take their defaults). The result is a new immutable version."""

    flow_name: FlowName | None = None
    description: Description | None = None
    trigger: Trigger | None = None
    steps: Steps | None = None
    settings: FlowSettings | None = None

    @model_validator(mode="after")
    def _something(self) -> UpdateFlowRequest:
        if not {name for name in self.model_fields_set if getattr(self, name) is not None}:
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """The fields given, as plain data in wire names (as a definition is stored)."""
        wire = self.model_dump(mode="json", by_alias=True)
        fields = type(self).model_fields
        return {
            str(fields[name].alias): wire[str(fields[name].alias)]
            for name in self.model_fields_set
            if getattr(self, name) is not None
        }


class ListFlowsQuery(PageQuery):
    """``GET /flows?shopId=&isActive=``: a query's errors are 400 as every query's."""

    shop_id: ShopId
    is_active: bool | None = None


# --- answers ------------------------------------------------------------------------------------------


class FlowStats(ApiModel):
    """The automation guide's stats, from counters kept as executions start and end (null before any
    execution finished)."""

    execution_count: int
    completion_rate: float | None
    average_steps: float | None
    fallback_rate: float | None


class FlowSummary(ApiModel):
    flow_id: str
    shop_id: str
    flow_name: str
    description: str | None = None
    trigger: Trigger
    step_count: int
    is_active: bool
    version: int
    stats: FlowStats
    created_at: datetime
    created_by: str | None = None
    updated_at: datetime | None = None
    updated_by: str | None = None


class FlowDetail(FlowSummary):
    """``GET /flows/{flowId}``: the flow and its current version's steps and settings."""

    steps: list[Step]
    settings: FlowSettings | None = None


class FlowPage(ApiModel):
    flows: list[FlowSummary]
    total_count: int


class FlowCreated(ApiModel):
    flow_id: str
    flow_name: str
    is_active: Literal[False]
    version: int
    created_at: datetime


class FlowActivation(ApiModel):
    flow_id: str
    is_active: Literal[True]
    activated_at: datetime
    activated_by: str


class FlowDeactivation(ApiModel):
    flow_id: str
    is_active: Literal[False]
    deactivated_at: datetime
    deactivated_by: str


class FlowDeletion(ApiModel):
    flow_id: str
    deleted: Literal[True]
    deleted_by: str
