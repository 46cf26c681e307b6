"""What a template send must carry (whatsapp/templates.check_parameters): as many parameters as each of the
template's components takes, checked against Meta's own definitions (the Graph simulator's catalogue) and
Meta's own send examples (../shared/conformance/meta)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.graph_simulator import DEFAULT_TEMPLATES
from mkt_whatsapp.whatsapp.templates import (
    ParameterMismatch,
    check_parameters,
    definition_of,
    quality_of,
    slots,
    status_of_event,
    variables,
)
from tests.support import meta_example


def definition(name: str, language: str = "vi") -> dict[str, Any]:
    entry = next(t for t in DEFAULT_TEMPLATES if t["name"] == name and t["language"] == language)
    found = definition_of({**entry, "id": "1"})
    assert found is not None
    return found


def check(name: str, given: list[dict[str, Any]], language: str = "vi") -> None:
    template = definition(name, language)
    check_parameters(given, template["components"], template["parameterFormat"])


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


BODY_3 = {"type": "body", "parameters": [text("An"), text("#1042"), text("GHN")]}
HEADER_1 = {"type": "header", "parameters": [text("#1042")]}
URL_BUTTON = {"type": "button", "sub_type": "url", "index": "0", "parameters": [text("1042")]}


def test_variables_are_counted_once_each_in_order() -> None:
    assert variables("Chào {{1}}, đơn {{2}} của {{1}}") == ("1", "2")
    assert variables("Hi {{ first_name }}, {{order_id}}") == ("first_name", "order_id")
    assert variables("Không có biến") == ()
    assert variables(None) == ()


def test_a_send_with_every_parameter_in_place_passes() -> None:
    check("order_shipped", [HEADER_1, BODY_3, URL_BUTTON])
    check("order_shipped", [URL_BUTTON, BODY_3, HEADER_1])  # any order
    check("order_update", [])  # no variables: no components needed


@pytest.mark.parametrize(
    ("given", "position", "message"),
    [
        (
            [HEADER_1, {"type": "body", "parameters": [text("An"), text("#1042")]}, URL_BUTTON],
            1,
            "body expects 3 parameters, got 2",
        ),
        ([HEADER_1, URL_BUTTON], None, "body expects 3 parameters, got 0"),
        ([BODY_3, URL_BUTTON], None, "header expects 1 parameter, got 0"),
        ([HEADER_1, BODY_3], None, "button 0 (URL) expects 1 parameter, got 0"),
        ([HEADER_1, BODY_3, URL_BUTTON, BODY_3], 3, "body is given twice"),
        (
            [HEADER_1, BODY_3, URL_BUTTON, {"type": "button", "sub_type": "url", "index": 4, "parameters": []}],
            3,
            "the template has no button 4",
        ),
        (
            [HEADER_1, BODY_3, URL_BUTTON, {"type": "button", "index": "1", "parameters": [text("x")]}],
            3,
            "button 1 (phone number) expects 0 parameters, got 1",
        ),
        (
            [HEADER_1, BODY_3, {"type": "button", "sub_type": "url", "parameters": [text("1042")]}],
            2,
            "a button component names its button's index (0 to 9)",
        ),
        (
            [HEADER_1, BODY_3, URL_BUTTON, {"type": "footer", "parameters": [text("x")]}],
            3,
            "footer expects 0 parameters, got 1",
        ),
    ],
    ids=[
        "body-short",
        "body-missing",
        "header-missing",
        "url-button-missing",
        "twice",
        "no-such-button",
        "phone-button",
        "no-index",
        "footer",
    ],
)
def test_a_mismatch_names_the_component(given: list[dict[str, Any]], position: int | None, message: str) -> None:
    with pytest.raises(ParameterMismatch) as raised:
        check("order_shipped", given)
    assert (raised.value.position, raised.value.message) == (position, message)


def test_a_template_without_a_header_refuses_one() -> None:
    with pytest.raises(ParameterMismatch) as raised:
        check("order_update", [{"type": "header", "parameters": [text("x")]}])
    assert (raised.value.position, raised.value.message) == (0, "the template has no header")
    with pytest.raises(ParameterMismatch) as raised:
        check("order_update", [{"type": "body", "parameters": [text("x")]}])
    assert raised.value.message == "body expects 0 parameters, got 1"


def test_a_media_header_takes_one_parameter_and_quick_replies_are_optional() -> None:
    image = {"type": "header", "parameters": [{"type": "image", "image": {"link": "https://shop.example/p.jpg"}}]}
    body = {"type": "body", "parameters": [text("An"), text("20%")]}
    check("spring_sale", [image, body])
    payloads = [
        {"type": "button", "sub_type": "quick_reply", "index": index, "parameters": [{"type": "payload", "payload": p}]}
        for index, p in ((0, "spring_view"), ("1", "spring_stop"))
    ]
    check("spring_sale", [image, body, *payloads])
    with pytest.raises(ParameterMismatch) as raised:
        check("spring_sale", [body])
    assert raised.value.message == "header expects 1 parameter, got 0"
    with pytest.raises(ParameterMismatch) as raised:
        check(
            "spring_sale", [image, body, {"type": "button", "sub_type": "quick_reply", "index": "0", "parameters": []}]
        )
    assert (raised.value.position, raised.value.message) == (2, "button 0 (quick reply) expects 1 parameter, got 0")


def test_named_parameters_must_name_the_variables() -> None:
    good = [
        {"type": "text", "text": "An", "parameter_name": "first_name"},
        {"type": "text", "text": "#1", "parameter_name": "order_id"},
    ]
    check("order_confirmation", [{"type": "body", "parameters": good}], "en_US")
    wrong = [good[0], {"type": "text", "text": "#1", "parameter_name": "order"}]
    with pytest.raises(ParameterMismatch) as raised:
        check("order_confirmation", [{"type": "body", "parameters": wrong}], "en_US")
    assert raised.value.message == "body expects the parameters first_name, order_id (by parameter_name)"


def test_an_authentication_templates_code_goes_in_its_body_and_its_otp_button() -> None:
    code = [text("123456")]
    check(
        "login_code",
        [{"type": "body", "parameters": code}, {"type": "button", "sub_type": "url", "index": "0", "parameters": code}],
        "en_US",
    )
    with pytest.raises(ParameterMismatch) as raised:
        check("login_code", [{"type": "body", "parameters": code}], "en_US")
    assert raised.value.message == "button 0 (otp) expects 1 parameter, got 0"


def test_meta_s_own_send_examples_fit_the_templates_they_were_written_for() -> None:
    """Meta's "Send Message Template Interactive" example (an image header, a body of three parameters, two
    quick replies) against a definition of that shape; its media example without the buttons."""
    examples = json.loads(meta_example("send_messages_request_examples.json").read_text())
    components = [
        {"type": "HEADER", "format": "IMAGE"},
        {"type": "BODY", "text": "{{1}} paid {{2}} on {{3}}"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Yes"}, {"type": "QUICK_REPLY", "text": "No"}]},
    ]
    for name in ("Send Message Template Interactive", "Send Message Template Media"):
        check_parameters(examples[name]["template"]["components"], components, "POSITIONAL")
    text_only = examples["Send Message Template Text"]["template"]["components"]
    with pytest.raises(ParameterMismatch, match="header expects 1 parameter, got 0"):
        check_parameters(text_only, components, "POSITIONAL")


def test_the_statuses_the_api_filters_by_are_metas() -> None:
    from typing import get_args

    from mkt_whatsapp.models.templates import TemplateStatus
    from mkt_whatsapp.whatsapp.templates import STATUSES

    assert get_args(TemplateStatus) == STATUSES


def test_meta_s_definitions_are_read_as_meta_writes_them() -> None:
    assert status_of_event("approved") == "APPROVED"
    assert status_of_event("REINSTATED") == "APPROVED"
    assert status_of_event("FLAGGED") is None  # at risk, still approved: no status change
    assert quality_of({"score": "yellow"}) == "YELLOW"
    assert quality_of("RED") == "RED"
    assert quality_of(None) is None
    shipped = definition("order_shipped")
    assert (shipped["status"], shipped["category"], shipped["qualityScore"], shipped["metaTemplateId"]) == (
        "APPROVED",
        "UTILITY",
        "GREEN",
        "1",
    )
    assert [slot.label for slot in slots(shipped["components"]).values()] == [
        "header",
        "body",
        "footer",
        "button 0 (URL)",
        "button 1 (phone number)",
    ]
    assert definition_of({"name": "x"}) is None
