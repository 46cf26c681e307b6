"""A flow definition's validation (../shared/spec/automation-guide.md, "Validation"): the guide's example is
valid, and each rule refuses with the JSON path and code that parse_body answers."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from mkt_whatsapp.core.errors import ApiError
from mkt_whatsapp.http.validation import _validated, query_of, validation_error
from mkt_whatsapp.whatsapp.flow_models import (
    AdReferralTrigger,
    AskStep,
    ConditionStep,
    CreateFlowRequest,
    KeywordTrigger,
    ListFlowsQuery,
    SendMessageStep,
    UpdateFlowRequest,
    step_targets,
    triggers_claimed,
)

GUIDE = Path(__file__).resolve().parents[3] / "shared" / "spec" / "automation-guide.md"


def guide_example() -> dict[str, Any]:
    """The guide's flow definition, as written there."""
    block = re.search(r"```json\n(.*?)```", GUIDE.read_text(), re.S)
    assert block is not None
    example: dict[str, Any] = json.loads(block.group(1))
    return example


def refusal(body: Any, model: type[BaseModel] = CreateFlowRequest) -> ApiError:
    """The api-v1 error parse_body would answer for ``body``."""
    with pytest.raises(ValidationError) as caught:
        model.model_validate_json(json.dumps(body))
    return validation_error([dict(error, loc=("body", *error["loc"])) for error in caught.value.errors()])


def chain(count: int) -> list[dict[str, Any]]:
    """``count`` text steps, each going to the next."""
    return [
        {
            "id": f"s{index}",
            "type": "send_message",
            "content": {"type": "text", "text": f"step {index}"},
            "next": f"s{index + 1}" if index + 1 < count else None,
        }
        for index in range(count)
    ]


# --- valid definitions ----------------------------------------------------------------------------------


def test_the_guides_example_flow_validates() -> None:
    flow = CreateFlowRequest.model_validate_json(json.dumps(guide_example()))
    assert isinstance(flow.trigger, KeywordTrigger)
    assert flow.trigger.keywords == ["hi", "xin chào"]
    assert [step.id for step in flow.steps] == ["greet", "ask", "route", "tag", "ai", "human", "bye"]
    assert isinstance(flow.steps[0], SendMessageStep)
    ask, route = flow.steps[1], flow.steps[2]
    assert isinstance(ask, AskStep)
    assert (ask.save_as, ask.timeout_seconds, ask.on_timeout, ask.expect) == ("choice", 3600, "bye", "any")
    assert isinstance(route, ConditionStep)
    assert step_targets(route) == ["tag", "human"]
    assert flow.settings.max_steps == 50
    assert flow.settings.once_per_customer is False
    assert flow.description == "optional, <= 500 chars"


def test_the_guides_example_round_trips_in_wire_names() -> None:
    example = guide_example()
    wire = CreateFlowRequest.model_validate_json(json.dumps(example)).to_wire()
    assert wire["steps"][2]["else"] == "human"
    assert wire["steps"][2]["branches"][0]["if"] == {"left": "{{vars.choice}}", "op": "equals", "right": "buy"}
    assert wire["steps"][1]["saveAs"] == "choice"
    assert CreateFlowRequest.model_validate_json(json.dumps(wire)) == CreateFlowRequest.model_validate_json(
        json.dumps(example)
    )


def every_step_type() -> dict[str, Any]:
    return {
        "shopId": "shop-1",
        "flowName": "Every step",
        "trigger": {"type": "ad_referral", "sourceIds": ["120208"]},
        "settings": {"maxSteps": 200, "oncePerCustomer": True},
        "steps": [
            {"id": "hello", "type": "send_message", "content": {"type": "text", "text": "Hi"}, "next": "wait"},
            {"id": "wait", "type": "delay", "seconds": 604800, "next": "email"},
            {
                "id": "email",
                "type": "ask",
                "content": {"type": "text", "text": "Your email?"},
                "saveAs": "email",
                "expect": "email",
                "retries": 3,
                "retryContent": {"type": "text", "text": "That is no email, again?"},
                "timeoutSeconds": 60,
                "onTimeout": "close",
                "onDeliveryFailed": "human",
                "next": "route",
            },
            {
                "id": "route",
                "type": "condition",
                "branches": [
                    {"if": {"left": "{{vars.email}}", "op": "matches", "right": r"@example\.com$"}, "next": "vip"},
                    {"if": {"op": "has_tag", "right": "vip"}, "next": "vip"},
                    {"if": {"left": "{{customer.fields.city}}", "op": "in", "right": ["HN", "HCM"]}, "next": "ai"},
                    {"if": {"left": "{{customer.fields.age}}", "op": "gt", "right": 17}, "next": "ai"},
                    {"if": {"left": "{{customer.fields.score}}", "op": "lt", "right": 0.5}, "next": "ai"},
                    {"if": {"left": "{{vars.email}}", "op": "exists"}, "next": None},
                ],
                "else": "untag",
            },
            {"id": "vip", "type": "add_tags", "tags": ["vip", "{{vars.choice}}"], "next": "field"},
            {"id": "untag", "type": "remove_tags", "tags": ["cold"], "next": "field"},
            {"id": "field", "type": "set_field", "field": "email", "value": "{{vars.email}}", "next": "consent"},
            {"id": "consent", "type": "set_consent", "status": "opted_in", "next": "ai"},
            {"id": "ai", "type": "ai_reply", "aiAgentId": "agent-1", "maxTurns": 20, "next": "close"},
            {"id": "close", "type": "close_conversation"},
            {"id": "human", "type": "assign_agent", "agentId": "agent-7"},
        ],
    }


def test_every_step_type_and_operator_validates() -> None:
    flow = CreateFlowRequest.model_validate_json(json.dumps(every_step_type()))
    assert [step.type for step in flow.steps] == [
        "send_message",
        "delay",
        "ask",
        "condition",
        "add_tags",
        "remove_tags",
        "set_field",
        "set_consent",
        "ai_reply",
        "close_conversation",
        "assign_agent",
    ]
    assert isinstance(flow.trigger, AdReferralTrigger)
    assert flow.settings.once_per_customer is True
    right = [branch.if_.right for branch in flow.steps[3].branches]  # type: ignore[union-attr]
    assert right == [r"@example\.com$", "vip", ["HN", "HCM"], 17, 0.5, None]


@pytest.mark.parametrize(
    "trigger",
    [
        {"type": "new_customer"},
        {"type": "any_message"},
        {"type": "ad_referral"},
        {"type": "button_reply", "buttonIds": ["buy", "help"]},
        {"type": "keyword", "keywords": ["giá"], "match": "starts_with"},
    ],
    ids=lambda trigger: str(trigger["type"]),
)
def test_each_trigger_validates(trigger: dict[str, Any]) -> None:
    body = {**guide_example(), "trigger": trigger}
    assert CreateFlowRequest.model_validate_json(json.dumps(body)).trigger.type == trigger["type"]


def test_placeholders_are_accepted_in_strings() -> None:
    body = guide_example()
    body["steps"][0]["content"] = {"type": "text", "text": "{{customer.name}} {{customer.waId}} {{message.text}}"}
    body["steps"][3]["tags"] = ["{{vars.choice}}"]
    body["steps"][2]["branches"][0]["if"] = {"left": "{{customer.fields.city}}", "op": "matches", "right": "^{{x}}$"}
    body["steps"][6]["content"] = {
        "type": "interactive",
        "interactive": {
            "type": "cta_url",
            "body": {"text": "{{unknown.placeholder}}"},
            "action": {"displayText": "Xem", "url": "https://shop.example/{{customer.waId}}"},
        },
    }
    flow = CreateFlowRequest.model_validate_json(json.dumps(body))
    assert flow.steps[0].content.text.startswith("{{customer.name}}")  # type: ignore[union-attr]


def test_a_template_is_content_too() -> None:
    body = guide_example()
    body["steps"][0]["content"] = {"type": "template", "template": {"name": "welcome_offer", "language": "vi"}}
    assert CreateFlowRequest.model_validate_json(json.dumps(body)).steps[0].content.type == "template"  # type: ignore[union-attr]


def test_null_next_and_no_next_both_end_the_flow() -> None:
    body = guide_example()
    del body["steps"][6]["next"]
    assert step_targets(CreateFlowRequest.model_validate_json(json.dumps(body)).steps[6]) == []


# --- one refusal per rule -------------------------------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    """Set ``value`` at ``path`` (``steps.2.else``) in the body."""

    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(body: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = body
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        del target[last]

    return mutate


def _append_step(step: dict[str, Any]) -> Mutation:
    return lambda body: body["steps"].append(step)


def _steps(steps: list[dict[str, Any]]) -> Mutation:
    return _set("steps", steps)


REFUSALS: dict[str, tuple[Mutation, str, str]] = {
    # unknown step type or field
    "unknown step type": (_set("steps.0.type", "send_sms"), "steps[0].type", "INVALID_VALUE"),
    "step without a type": (_delete("steps.0.type"), "steps[0].type", "REQUIRED_FIELD"),
    "unknown step field": (_set("steps.1.timeout", 60), "steps[1].timeout", "INVALID_VALUE"),
    "next on an ending step": (_set("steps.5.next", "bye"), "steps[5].next", "INVALID_VALUE"),
    "unknown branch field": (_set("steps.2.branches.0.then", "tag"), "steps[2].branches[0].then", "INVALID_VALUE"),
    "unknown condition field": (
        _set("steps.2.branches.0.if.value", 1),
        "steps[2].branches[0].if.value",
        "INVALID_VALUE",
    ),
    "unknown operator": (_set("steps.2.branches.0.if.op", "like"), "steps[2].branches[0].if.op", "INVALID_VALUE"),
    "unknown settings field": (_set("settings", {"maxStep": 10}), "settings.maxStep", "INVALID_VALUE"),
    # step ids
    "duplicate step id": (_set("steps.3.id", "greet"), "steps[3].id", "INVALID_VALUE"),
    "step id with a space": (_set("steps.0.id", "say hi"), "steps[0].id", "INVALID_FORMAT"),
    "step id of 65 characters": (_set("steps.0.id", "g" * 65), "steps[0].id", "TOO_LONG"),
    # references to no step
    "dangling next": (_set("steps.0.next", "asked"), "steps[0].next", "INVALID_VALUE"),
    "dangling else": (_set("steps.2.else", "humans"), "steps[2].else", "INVALID_VALUE"),
    "dangling onTimeout": (_set("steps.1.onTimeout", "byebye"), "steps[1].onTimeout", "INVALID_VALUE"),
    "dangling onDeliveryFailed": (
        _set("steps.1.onDeliveryFailed", "sms"),
        "steps[1].onDeliveryFailed",
        "INVALID_VALUE",
    ),
    "dangling branch next": (_set("steps.2.branches.0.next", "tags"), "steps[2].branches[0].next", "INVALID_VALUE"),
    # reachability and size
    "unreachable step": (_append_step({"id": "lost", "type": "close_conversation"}), "steps[7]", "INVALID_VALUE"),
    "more than 100 steps": (_steps(chain(101)), "steps", "TOO_LONG"),
    "no steps": (_steps([]), "steps", "TOO_SHORT"),
    # regex
    "invalid regex in matches": (
        _set("steps.2.branches.0.if", {"left": "{{message.text}}", "op": "matches", "right": "(unclosed"}),
        "steps[2].branches[0].if.right",
        "INVALID_VALUE",
    ),
    # content by Send Message's models
    "empty text content": (_set("steps.0.content.text", ""), "steps[0].content.text", "TOO_SHORT"),
    "content without a type": (_delete("steps.0.content.type"), "steps[0].content.type", "REQUIRED_FIELD"),
    "button title over 20": (
        _set("steps.1.content.interactive.action.buttons.0.title", "Mua hàng ngay hôm nay!"),
        "steps[1].content.interactive.action.buttons[0].title",
        "TOO_LONG",
    ),
    "http media url": (
        _set("steps.6.content", {"type": "image", "url": "http://cdn.example/a.jpg"}),
        "steps[6].content.url",
        "INVALID_VALUE",
    ),
    "invalid retry content": (
        _set("steps.1.retryContent", {"type": "text"}),
        "steps[1].retryContent.text",
        "REQUIRED_FIELD",
    ),
    "send_message without content": (_delete("steps.0.content"), "steps[0].content", "REQUIRED_FIELD"),
    # triggers without their fields
    "keyword trigger without keywords": (_set("trigger", {"type": "keyword"}), "trigger.keywords", "REQUIRED_FIELD"),
    "keyword trigger with no keyword": (
        _set("trigger", {"type": "keyword", "keywords": []}),
        "trigger.keywords",
        "TOO_SHORT",
    ),
    "blank keyword": (_set("trigger.keywords.1", "  "), "trigger.keywords[1]", "INVALID_FORMAT"),
    "keyword of combining marks only": (_set("trigger.keywords.1", "\u0301"), "trigger.keywords[1]", "INVALID_VALUE"),
    "keyword over 100": (_set("trigger.keywords.1", "k" * 101), "trigger.keywords[1]", "TOO_LONG"),
    "51 keywords": (_set("trigger.keywords", [f"k{n}" for n in range(51)]), "trigger.keywords", "TOO_LONG"),
    "unknown match": (_set("trigger.match", "fuzzy"), "trigger.match", "INVALID_VALUE"),
    "button trigger without ids": (_set("trigger", {"type": "button_reply"}), "trigger.buttonIds", "REQUIRED_FIELD"),
    "button id over 256": (
        _set("trigger", {"type": "button_reply", "buttonIds": ["b" * 257]}),
        "trigger.buttonIds[0]",
        "TOO_LONG",
    ),
    "51 ad source ids": (
        _set("trigger", {"type": "ad_referral", "sourceIds": [str(n) for n in range(51)]}),
        "trigger.sourceIds",
        "TOO_LONG",
    ),
    "unknown trigger type": (_set("trigger", {"type": "schedule"}), "trigger.type", "INVALID_VALUE"),
    "unknown trigger field": (_set("trigger.caseSensitive", True), "trigger.caseSensitive", "INVALID_VALUE"),
    "no trigger": (_delete("trigger"), "trigger", "REQUIRED_FIELD"),
    # the definition's own limits
    "empty flowName": (_set("flowName", ""), "flowName", "TOO_SHORT"),
    "flowName over 100": (_set("flowName", "f" * 101), "flowName", "TOO_LONG"),
    "description over 500": (_set("description", "d" * 501), "description", "TOO_LONG"),
    "maxSteps over 200": (_set("settings", {"maxSteps": 201}), "settings.maxSteps", "OUT_OF_RANGE"),
    "oncePerCustomer as text": (
        _set("settings", {"oncePerCustomer": "true"}),
        "settings.oncePerCustomer",
        "INVALID_TYPE",
    ),
    "no shopId": (_delete("shopId"), "shopId", "REQUIRED_FIELD"),
    # step fields' limits, and numbers as JSON numbers
    "retries 4": (_set("steps.1.retries", 4), "steps[1].retries", "OUT_OF_RANGE"),
    "retries as text": (_set("steps.1.retries", "1"), "steps[1].retries", "INVALID_TYPE"),
    "retries true": (_set("steps.1.retries", True), "steps[1].retries", "INVALID_TYPE"),
    "timeoutSeconds 59": (_set("steps.1.timeoutSeconds", 59), "steps[1].timeoutSeconds", "OUT_OF_RANGE"),
    "timeoutSeconds over a week": (_set("steps.1.timeoutSeconds", 604801), "steps[1].timeoutSeconds", "OUT_OF_RANGE"),
    "unknown expect": (_set("steps.1.expect", "date"), "steps[1].expect", "INVALID_VALUE"),
    "choice without choices": (
        _set("steps.1", {"id": "ask", "type": "ask", "content": {"type": "text", "text": "?"}, "expect": "choice"}),
        "steps[1].expect",
        "INVALID_VALUE",
    ),
    "saveAs not a name": (_set("steps.1.saveAs", "the choice"), "steps[1].saveAs", "INVALID_FORMAT"),
    "maxTurns 21": (_set("steps.4.maxTurns", 21), "steps[4].maxTurns", "OUT_OF_RANGE"),
    "ai_reply without an agent": (_delete("steps.4.aiAgentId"), "steps[4].aiAgentId", "REQUIRED_FIELD"),
    "no tags": (_set("steps.3.tags", []), "steps[3].tags", "TOO_SHORT"),
    "delay of 0": (
        _set("steps.3", {"id": "tag", "type": "delay", "seconds": 0, "next": "ai"}),
        "steps[3].seconds",
        "OUT_OF_RANGE",
    ),
    "delay over a week": (
        _set("steps.3", {"id": "tag", "type": "delay", "seconds": 604801, "next": "ai"}),
        "steps[3].seconds",
        "OUT_OF_RANGE",
    ),
    "unknown consent status": (
        _set("steps.3", {"id": "tag", "type": "set_consent", "status": "maybe", "next": "ai"}),
        "steps[3].status",
        "INVALID_VALUE",
    ),
    "set_field without value": (
        _set("steps.3", {"id": "tag", "type": "set_field", "field": "city", "next": "ai"}),
        "steps[3].value",
        "REQUIRED_FIELD",
    ),
    "no branches": (_set("steps.2.branches", []), "steps[2].branches", "TOO_SHORT"),
    # what each operator needs
    "equals without right": (
        _set("steps.2.branches.0.if", {"left": "{{vars.choice}}", "op": "equals"}),
        "steps[2].branches[0].if.right",
        "REQUIRED_FIELD",
    ),
    "equals without left": (
        _set("steps.2.branches.0.if", {"op": "equals", "right": "buy"}),
        "steps[2].branches[0].if.left",
        "REQUIRED_FIELD",
    ),
    "in with one value": (
        _set("steps.2.branches.0.if", {"left": "{{vars.choice}}", "op": "in", "right": "buy"}),
        "steps[2].branches[0].if.right",
        "INVALID_TYPE",
    ),
    "contains with a number": (
        _set("steps.2.branches.0.if", {"left": "{{vars.choice}}", "op": "contains", "right": 1}),
        "steps[2].branches[0].if.right",
        "INVALID_TYPE",
    ),
    "exists with right": (
        _set("steps.2.branches.0.if", {"left": "{{vars.choice}}", "op": "exists", "right": "x"}),
        "steps[2].branches[0].if.right",
        "INVALID_VALUE",
    ),
    "has_tag with left": (
        _set("steps.2.branches.0.if", {"left": "{{vars.choice}}", "op": "has_tag", "right": "vip"}),
        "steps[2].branches[0].if.left",
        "INVALID_VALUE",
    ),
    "in with a number in the list": (
        _set("steps.2.branches.0.if", {"left": "{{vars.choice}}", "op": "in", "right": ["a", 1]}),
        "steps[2].branches[0].if.right[1]",
        "INVALID_TYPE",
    ),
    "in with no values": (
        _set("steps.2.branches.0.if", {"left": "{{vars.choice}}", "op": "in", "right": []}),
        "steps[2].branches[0].if.right",
        "TOO_SHORT",
    ),
    "right over 1000": (
        _set("steps.2.branches.0.if.right", "r" * 1001),
        "steps[2].branches[0].if.right",
        "TOO_LONG",
    ),
    "gt with true": (
        _set("steps.2.branches.0.if", {"left": "{{vars.n}}", "op": "gt", "right": True}),
        "steps[2].branches[0].if.right",
        "INVALID_TYPE",
    ),
}


@pytest.mark.parametrize(("mutate", "field", "code"), REFUSALS.values(), ids=REFUSALS.keys())
def test_each_rule_refuses_with_the_json_path(mutate: Mutation, field: str, code: str) -> None:
    body = guide_example()
    mutate(body)
    refused = refusal(body)
    assert (refused.field, refused.code) == (field, code), refused.message
    assert refused.message.startswith(f"Validation failed: {field}: ")


def test_a_refusal_names_the_rule_broken() -> None:
    body = guide_example()
    body["steps"][0]["next"] = "asked"
    assert "no step has the id 'asked'" in refusal(body).message
    body = guide_example()
    body["steps"].append({"id": "lost", "type": "close_conversation"})
    assert "cannot be reached from the first step" in refusal(body).message


def test_every_graph_error_is_reported() -> None:
    body = guide_example()
    body["steps"][0]["next"] = "nowhere"  # ask, route, ... are now unreachable too
    with pytest.raises(ValidationError) as caught:
        CreateFlowRequest.model_validate_json(json.dumps(body))
    errors = [(error["loc"], error["type"]) for error in caught.value.errors()]
    assert errors[0] == (("steps", 0, "next"), "unknown_step")
    assert [loc for loc, kind in errors if kind == "unreachable_step"] == [("steps", index) for index in range(1, 7)]


def test_a_duplicate_step_is_reported_once() -> None:
    body = guide_example()
    body["steps"][5]["id"] = "greet"  # the duplicate is where "human" was: else names no step now
    with pytest.raises(ValidationError) as caught:
        CreateFlowRequest.model_validate_json(json.dumps(body))
    errors = [(error["loc"], error["type"]) for error in caught.value.errors()]
    assert errors == [(("steps", 5, "id"), "duplicate_id"), (("steps", 2, "else"), "unknown_step")]


def test_a_step_may_loop_back() -> None:
    body = guide_example()
    body["steps"][6]["next"] = "greet"
    assert CreateFlowRequest.model_validate_json(json.dumps(body)).steps[6].next == "greet"  # type: ignore[union-attr]


def test_100_steps_are_allowed() -> None:
    body = {**guide_example(), "steps": chain(100)}
    assert len(CreateFlowRequest.model_validate_json(json.dumps(body)).steps) == 100


def test_the_path_is_rendered_through_the_request_validation() -> None:
    """The same path and code from http.validation's own entry (what parse_body calls)."""
    body = guide_example()
    body["steps"][2]["branches"][0]["next"] = "nowhere"
    with pytest.raises(ApiError) as caught:
        _validated("body", CreateFlowRequest.model_validate_json, json.dumps(body))
    assert (caught.value.field, caught.value.code) == ("steps[2].branches[0].next", "INVALID_VALUE")


# --- status --------------------------------------------------------------------------------------------


def test_a_definition_refused_is_422_and_malformed_json_stays_400() -> None:
    assert CreateFlowRequest.VALIDATION_STATUS == 422
    assert UpdateFlowRequest.VALIDATION_STATUS == 422
    with pytest.raises(ValidationError) as caught:
        CreateFlowRequest.model_validate_json('{"shopId": "shop-1", "steps": [')
    errors = caught.value.errors()
    assert errors[0]["type"] == "json_invalid"  # what http.validation keeps at 400
    malformed = validation_error([dict(error, loc=("body", *error["loc"])) for error in errors])
    assert (malformed.status, malformed.code) == (400, "INVALID_JSON")


# --- update and list -----------------------------------------------------------------------------------


def test_an_update_takes_any_subset_and_checks_what_it_is_given() -> None:
    renamed = UpdateFlowRequest.model_validate_json('{"flowName": "Welcome v2"}')
    assert renamed.changes() == {"flowName": "Welcome v2"}
    example = guide_example()
    steps = UpdateFlowRequest.model_validate_json(json.dumps({"steps": example["steps"]})).changes()
    assert list(steps) == ["steps"]
    assert steps["steps"][2]["else"] == "human"
    assert steps["steps"][1]["saveAs"] == "choice"
    whole = {key: value for key, value in example.items() if key != "shopId"}
    assert set(UpdateFlowRequest.model_validate_json(json.dumps(whole)).changes()) == {
        "flowName",
        "description",
        "trigger",
        "steps",
    }
    example["steps"][0]["next"] = "nowhere"
    refused = refusal({"steps": example["steps"]}, UpdateFlowRequest)
    assert (refused.field, refused.code) == ("steps[0].next", "INVALID_VALUE")


@pytest.mark.parametrize("body", [{}, {"flowName": None}, {"shopId": "shop-1"}])
def test_an_update_changes_something(body: dict[str, Any]) -> None:
    refused = refusal(body, UpdateFlowRequest)
    assert refused.field == "body"
    assert "at least one field" in refused.message


def test_the_list_query() -> None:
    query = query_of({"shopId": "shop-1", "isActive": "true", "take": "5"}, ListFlowsQuery)
    assert (query.shop_id, query.is_active, query.skip, query.take) == ("shop-1", True, 0, 5)
    assert query_of({"shopId": "shop-1", "isActive": ""}, ListFlowsQuery).is_active is None
    with pytest.raises(ApiError) as caught:
        query_of({"shopId": "shop-1", "isActive": "maybe"}, ListFlowsQuery)
    assert (caught.value.status, caught.value.field) == (400, "isActive")


# --- claims --------------------------------------------------------------------------------------------


def _trigger(trigger: dict[str, Any]) -> Any:
    return CreateFlowRequest.model_validate_json(json.dumps({**guide_example(), "trigger": trigger})).trigger


def test_keywords_are_claimed_folded() -> None:
    claimed = triggers_claimed(_trigger({"type": "keyword", "keywords": ["Xin Chào", " ĐẶT  hàng "]}))
    assert claimed == {"kw:xin chao", "kw:dat hang"}
    assert triggers_claimed(_trigger({"type": "keyword", "keywords": ["xin chao"], "match": "contains"})) & claimed


def test_button_ids_are_claimed_as_given() -> None:
    assert triggers_claimed(_trigger({"type": "button_reply", "buttonIds": ["buy", "Buy"]})) == {"btn:buy", "btn:Buy"}


@pytest.mark.parametrize(
    "trigger", [{"type": "new_customer"}, {"type": "any_message"}, {"type": "ad_referral", "sourceIds": ["1"]}]
)
def test_other_triggers_claim_nothing(trigger: dict[str, Any]) -> None:
    assert triggers_claimed(_trigger(trigger)) == set()
