"""Outbound ``content``: every supported Meta "Send Messages" example is produced key for key from the API's
own (camelCase) request, every WhatsApp limit holds at its boundary, and a rejected request names the
offending field the way the API's 400 answer does (``content.interactive.action.buttons``)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from mkt_whatsapp.core.errors import ApiError
from mkt_whatsapp.http.validation import validation_error
from mkt_whatsapp.whatsapp.outbound_content import (
    ButtonInteractive,
    InteractiveContent,
    SendMessageRequest,
    TemplateContent,
    TextContent,
    is_template,
    template_category,
    to_graph_body,
)
from tests.support import meta_example

RAW_EXAMPLES: dict[str, dict[str, Any]] = json.loads(meta_example("send_messages_request_examples.json").read_text())

# Meta's examples carry placeholders our validation rightly refuses ("http(s)://", "template-name"):
# both sides of each comparison use the same valid stand-in.
PLACEHOLDERS = {
    "template-name": "template_name",
    "language-and-locale-code": "en_US",
    "<TEMPLATE_NAME>": "flow_template",
}
HTTP_S = re.compile(r"<?http\(s\)://([^>]+)>?")


def normalised(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalised(item) for item in value]
    if isinstance(value, str):
        if value in PLACEHOLDERS:
            return PLACEHOLDERS[value]
        match = HTTP_S.fullmatch(value)
        if match:
            return f"https://{match.group(1)}"
    return value


EXAMPLES = {title: normalised(body) for title, body in RAW_EXAMPLES.items()}


def example_part(title: str, *path: str) -> Any:
    value: Any = EXAMPLES[title]
    for key in path:
        value = value[key]
    return copy.deepcopy(value)


def media(kind: str, **fields: str) -> dict[str, Any]:
    return {"type": kind, **fields}


LIST_SECTIONS = [
    {
        "title": f"<LIST_SECTION_{s}_TITLE>",
        "rows": [
            {
                "id": f"<LIST_SECTION_{s}_ROW_{r}_ID>",
                "title": f"<SECTION_{s}_ROW_{r}_TITLE>",
                "description": f"<SECTION_{s}_ROW_{r}_DESC>",
            }
            for r in (1, 2)
        ],
    }
    for s in (1, 2)
]
LIST_CONTENT = {
    "type": "interactive",
    "interactive": {
        "type": "list",
        "header": {"type": "text", "text": "<HEADER_TEXT>"},
        "body": {"text": "<BODY_TEXT>"},
        "footer": {"text": "<FOOTER_TEXT>"},
        "action": {"button": "<BUTTON_TEXT>", "sections": LIST_SECTIONS},
    },
}

# Meta's example title → our request's ``content`` (camelCase); ``replyTo`` comes from the example's context.
CASES: dict[str, dict[str, Any]] = {
    "Send Text Message": {"type": "text", "text": "text-message-content"},
    "Send Reply to Text Message": {"type": "text", "text": "<TEXT_MSG_CONTENT>", "previewUrl": False},
    "Send Text Message with Preview URL": {
        "type": "text",
        "text": "Please visit https://youtu.be/hpltvTEiRrY.",
        "previewUrl": True,
    },
    "Send Image Message by ID": media("image", mediaId="<IMAGE_OBJECT_ID>"),
    "Send Image Message by URL": media("image", url="https://image-url"),
    "Send Reply to Image Message by ID": media("image", mediaId="<IMAGE_OBJECT_ID>"),
    "Send Reply to Image Message by URL": media("image", url="https://image-url"),
    "Send Video Message by ID": media("video", mediaId="<VIDEO_OBJECT_ID>", caption="<VIDEO_CAPTION_TEXT>"),
    "Send Video Message by URL": media("video", url="https://video-url", caption="<VIDEO_CAPTION_TEXT>"),
    "Send Reply to Video Message by ID": media("video", mediaId="<VIDEO_OBJECT_ID>", caption="<VIDEO_CAPTION_TEXT>"),
    "Send Reply to Video Message by URL": media("video", url="https://video-url", caption="<VIDEO_CAPTION_TEXT>"),
    "Send Audio Message by ID": media("audio", mediaId="<AUDIO_OBJECT_ID>"),
    "Send Audio Message by URL": media("audio", url="https://audio-url"),
    "Send Reply to Audio Message by ID": media("audio", mediaId="<AUDIO_OBJECT_ID>"),
    "Send Reply to Audio Message by URL": media("audio", url="https://audio-url"),
    "Send Document Message by ID": media(
        "document", mediaId="<DOCUMENT_OBJECT_ID>", caption="<DOCUMENT_CAPTION_TO_SEND>", filename="<DOCUMENT_FILENAME>"
    ),
    "Send Document Message by URL": media("document", url="https://document-url", caption="<DOCUMENT-CAPTION-TEXT>"),
    "Send Reply to Document Message by ID": media(
        "document", mediaId="<DOCUMENT_OBJECT_ID>", caption="<DOCUMENT_CAPTION_TO_SEND>", filename="<DOCUMENT_FILENAME>"
    ),
    "Send Reply to Document Message by URL": media(
        "document", url="https://document-url", caption="<DOCUMENT_CAPTION_TEXT>"
    ),
    "Send Sticker Message by ID": media("sticker", mediaId="<MEDIA_OBJECT_ID>"),
    "Send Sticker Message by URL": media("sticker", url="https://sticker-url"),
    "Send Reply to Sticker Message by ID": media("sticker", mediaId="<MEDIA_OBJECT_ID>"),
    "Send Reply to Sticker Message by URL": media("sticker", url="https://sticker-url"),
    "Send Location Message": {
        "type": "location",
        "latitude": 37.758056,
        "longitude": -122.425332,
        "name": "META HQ",
        "address": "1 Hacker Way, Menlo Park, CA 94025",
    },
    "Send Reply to Location Message": {
        "type": "location",
        "latitude": 37.758056,
        "longitude": -122.425332,
        "name": "META HQ",
        "address": "1 Hacker Way, Menlo Park, CA 94025",
    },
    "Send Contact Message": {"type": "contacts", "contacts": example_part("Send Contact Message", "contacts")},
    "Send Reply to Contact Message": {
        "type": "contacts",
        "contacts": example_part("Send Reply to Contact Message", "contacts"),
    },
    "Send Reply with Reaction Message": {"type": "reaction", "messageId": "wamid.HBgLM...", "emoji": "\U0001f600"},
    "Send Reply Button": {
        "type": "interactive",
        "interactive": {
            "type": "button",
            "body": {"text": "<BUTTON_TEXT>"},
            "action": {
                "buttons": [
                    {"id": "<UNIQUE_BUTTON_ID_1>", "title": "<BUTTON_TITLE_1>"},
                    {"id": "<UNIQUE_BUTTON_ID_2>", "title": "<BUTTON_TITLE_2>"},
                ]
            },
        },
    },
    "Send List Message": LIST_CONTENT,
    "Send Reply to List Message": LIST_CONTENT,
    "Send Test Message": {"type": "template", "template": {"name": "hello_world", "language": "en_US"}},
    # Meta's own template object, language and all, as users copy it from Meta's documentation.
    "Send Sample Issue Resolution Template": {
        "type": "template",
        "template": {
            "name": example_part("Send Sample Issue Resolution Template", "template", "name"),
            "language": example_part("Send Sample Issue Resolution Template", "template", "language"),
            "components": example_part("Send Sample Issue Resolution Template", "template", "components"),
        },
    },
    **{
        title: {
            "type": "template",
            "template": {
                "name": example_part(title, "template", "name"),
                "language": example_part(title, "template", "language", "code"),
                "category": "utility",
                "components": example_part(title, "template", "components"),
            },
        }
        for title in (
            "Send Catalog Template Message",
            "Send Flow Template Message",
            "Send Message Template Interactive",
            "Send Message Template Media",
            "Send Message Template Text",
            "Send Sample Shipping Confirmation Template",
            "Send Sample Text Message",
        )
    },
}

# Examples of a kind we send, left out on purpose (none).
NOT_COVERED: set[str] = set()
OUR_INTERACTIVE_TYPES = {"button", "list", "cta_url"}
CONTENT_KEYS = (
    *("text", "image", "video", "audio", "document", "sticker"),
    *("location", "contacts", "reaction", "interactive", "template"),
)


def kind_of(example: dict[str, Any]) -> str | None:
    return example.get("type") or next((key for key in CONTENT_KEYS if key in example), None)


def test_every_example_of_a_kind_we_send_is_covered() -> None:
    ours = {
        title
        for title, example in EXAMPLES.items()
        if kind_of(example) in CONTENT_KEYS
        and (kind_of(example) != "interactive" or example["interactive"]["type"] in OUR_INTERACTIVE_TYPES)
    }
    assert ours == set(CASES) | NOT_COVERED
    assert len(CASES) == 40


@pytest.mark.parametrize("title", sorted(CASES))
def test_graph_body_matches_metas_example(title: str) -> None:
    example = EXAMPLES[title]
    reply_to = example.get("context", {}).get("message_id")
    raw: dict[str, Any] = {"content": copy.deepcopy(CASES[title])}
    if reply_to is not None:
        raw["replyTo"] = reply_to
    request = SendMessageRequest.model_validate(raw)
    assert request.reply_to == reply_to

    body = to_graph_body(request.content, to=example["to"], reply_to=request.reply_to)

    for key, expected in example.items():
        assert body.get(key) == expected, key
    # Some examples leave out ``recipient_type`` (and one even ``type``); we always send both.
    assert set(body) - set(example) <= {"recipient_type", "type"}
    assert body["recipient_type"] == "individual"
    assert body["type"] == kind_of(example)
    assert body[body["type"]] == example[body["type"]]


def test_the_same_request_as_json_gives_the_same_body() -> None:
    raw = {"content": CASES["Send List Message"], "replyTo": "wamid.ABC"}
    from_json = SendMessageRequest.model_validate_json(json.dumps(raw))
    assert from_json == SendMessageRequest.model_validate(raw)
    assert to_graph_body(from_json.content, "84901234567", reply_to=from_json.reply_to)["context"] == {
        "message_id": "wamid.ABC"
    }


@pytest.mark.parametrize("title", ["Send Reply Button", "Send List Message", "Send Document Message by ID"])
def test_a_stored_request_reads_back_the_same(title: str) -> None:
    request = SendMessageRequest.model_validate({"content": CASES[title], "replyTo": "wamid.X"})
    again = SendMessageRequest.model_validate(json.loads(json.dumps(request.to_wire())))
    assert again == request
    assert to_graph_body(again.content, "1") == to_graph_body(request.content, "1")


# --- shapes Meta's example file does not show ---------------------------------------------------------------


def body_of(content: dict[str, Any], **options: Any) -> dict[str, Any]:
    request = SendMessageRequest.model_validate({"content": content})
    return to_graph_body(request.content, "84901234567", **options)


def test_cta_url_message() -> None:
    body = body_of(
        {
            "type": "interactive",
            "interactive": {
                "type": "cta_url",
                "header": {"type": "text", "text": "Khuyến mãi"},
                "body": {"text": "Giảm 20% hôm nay"},
                "footer": {"text": "Shop Hoa"},
                "action": {"displayText": "Xem ngay", "url": "https://shop.example/sale"},
            },
        }
    )
    assert body == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "84901234567",
        "type": "interactive",
        "interactive": {
            "type": "cta_url",
            "header": {"type": "text", "text": "Khuyến mãi"},
            "body": {"text": "Giảm 20% hôm nay"},
            "footer": {"text": "Shop Hoa"},
            "action": {
                "name": "cta_url",
                "parameters": {"display_text": "Xem ngay", "url": "https://shop.example/sale"},
            },
        },
    }


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ({"type": "text", "text": "Đơn hàng"}, {"type": "text", "text": "Đơn hàng"}),
        (
            {"type": "image", "url": "https://cdn.example/a.jpg"},
            {"type": "image", "image": {"link": "https://cdn.example/a.jpg"}},
        ),
        ({"type": "video", "mediaId": "778"}, {"type": "video", "video": {"id": "778"}}),
        ({"type": "document", "mediaId": "779"}, {"type": "document", "document": {"id": "779"}}),
    ],
)
def test_reply_buttons_with_a_header_and_footer(header: dict[str, Any], expected: dict[str, Any]) -> None:
    interactive = body_of(
        {
            "type": "interactive",
            "interactive": {
                "type": "button",
                "header": header,
                "body": {"text": "Xác nhận đơn?"},
                "footer": {"text": "Trả lời trong 24h"},
                "action": {"buttons": [{"id": "yes", "title": "Có"}, {"id": "no", "title": "Không"}]},
            },
        }
    )["interactive"]
    assert interactive["header"] == expected
    assert interactive["footer"] == {"text": "Trả lời trong 24h"}
    assert interactive["action"]["buttons"][1] == {"type": "reply", "reply": {"id": "no", "title": "Không"}}


def test_optional_keys_are_left_out_not_sent_empty() -> None:
    listed = body_of(
        {
            "type": "interactive",
            "interactive": {
                "type": "list",
                "body": {"text": "Chọn size"},
                "action": {"button": "Size", "sections": [{"rows": [{"id": "s", "title": "S"}]}]},
            },
        }
    )["interactive"]
    assert listed == {
        "type": "list",
        "body": {"text": "Chọn size"},
        "action": {"button": "Size", "sections": [{"rows": [{"id": "s", "title": "S"}]}]},
    }
    assert body_of({"type": "location", "latitude": -90, "longitude": 180})["location"] == {
        "latitude": -90,
        "longitude": 180,
    }
    assert body_of(media("image", mediaId="1"))["image"] == {"id": "1"}
    assert (
        "components"
        not in body_of({"type": "template", "template": {"name": "hello_world", "language": "vi"}})["template"]
    )


def test_an_empty_emoji_removes_a_reaction() -> None:
    assert body_of({"type": "reaction", "messageId": "wamid.Q", "emoji": ""})["reaction"] == {
        "message_id": "wamid.Q",
        "emoji": "",
    }


def test_the_recipient_can_go_under_another_key() -> None:
    body = body_of({"type": "text", "text": "hi"}, recipient_field="recipient")
    assert body["recipient"] == "84901234567"
    assert "to" not in body
    assert "context" not in body


def test_template_category_is_ours_and_never_sent() -> None:
    content = SendMessageRequest.model_validate(
        {"content": {"type": "template", "template": {"name": "order_ready", "language": "vi", "category": "utility"}}}
    ).content
    assert isinstance(content, TemplateContent)
    assert is_template(content)
    assert template_category(content) == "utility"
    assert to_graph_body(content, "1")["template"] == {"name": "order_ready", "language": {"code": "vi"}}

    text = SendMessageRequest.model_validate({"content": {"type": "text", "text": "hi"}}).content
    assert isinstance(text, TextContent)
    assert not is_template(text)
    assert template_category(text) is None
    uncategorised = SendMessageRequest.model_validate(
        {"content": {"type": "template", "template": {"name": "hello_world", "language": "en_US"}}}
    ).content
    assert is_template(uncategorised)
    assert template_category(uncategorised) is None


def test_only_wire_names_are_read() -> None:
    """A body is read by its wire (camelCase) names only: a field's Python name is an unknown field, never
    a second spelling of it (so a body cannot name one value to the guard and another to the handler)."""
    with pytest.raises(ValidationError) as refused:
        SendMessageRequest.model_validate({"content": {"type": "image", "media_id": "42", "caption": "x"}})
    assert (
        validation_error([dict(error, loc=("body", *error["loc"])) for error in refused.value.errors()]).field
        == "content.url"
    )
    request = SendMessageRequest.model_validate(
        {"content": {"type": "image", "mediaId": "42", "caption": "x"}, "replyTo": "wamid.R", "reply_to": "wamid.X"}
    )
    assert to_graph_body(request.content, "1", reply_to=request.reply_to)["image"] == {"id": "42", "caption": "x"}
    assert request.reply_to == "wamid.R"
    interactive = SendMessageRequest.model_validate({"content": CASES["Send Reply Button"]}).content
    assert isinstance(interactive, InteractiveContent)
    assert isinstance(interactive.interactive, ButtonInteractive)


# --- limits at their boundaries ------------------------------------------------------------------------------


def rejected(raw: dict[str, Any]) -> ApiError:
    """What the API answers for ``raw`` (as ``parse_body`` builds it)."""
    with pytest.raises(ValidationError) as caught:
        SendMessageRequest.model_validate(raw)
    return validation_error([dict(error, loc=("body", *error["loc"])) for error in caught.value.errors()])


def buttons(count: int, **last: str) -> list[dict[str, str]]:
    made = [{"id": f"b{index}", "title": f"Nút {index}"} for index in range(count)]
    made[-1].update(last)
    return made


def button_message(
    *, action: dict[str, Any] | None = None, body: str = "Chọn một", **parts: dict[str, Any]
) -> dict[str, Any]:
    interactive = {"type": "button", "body": {"text": body}, "action": action or {"buttons": buttons(2)}, **parts}
    return {"type": "interactive", "interactive": interactive}


def rows(count: int, prefix: str = "r", **last: str) -> list[dict[str, str]]:
    made = [{"id": f"{prefix}{index}", "title": f"Hàng {index}"} for index in range(count)]
    made[-1].update(last)
    return made


def list_message(
    *, sections: list[dict[str, Any]] | None = None, button: str = "Xem", body: str = "Danh mục", **parts: Any
) -> dict[str, Any]:
    action = {"button": button, "sections": sections or [{"rows": rows(2)}]}
    interactive = {"type": "list", "body": {"text": body}, "action": action, **parts}
    return {"type": "interactive", "interactive": interactive}


def cta_message(*, display_text: str = "Mở", url: str = "https://shop.example/", body: str = "Xem") -> dict[str, Any]:
    action = {"displayText": display_text, "url": url}
    return {"type": "interactive", "interactive": {"type": "cta_url", "body": {"text": body}, "action": action}}


def sections(count: int, rows_each: int = 1) -> list[dict[str, Any]]:
    return [{"title": f"Mục {s}", "rows": rows(rows_each, prefix=f"s{s}r")} for s in range(count)]


def https_url(length: int) -> str:
    return "https://cdn.example/" + "a" * (length - len("https://cdn.example/"))


Make = Callable[[int], dict[str, Any]]
LIMITS: list[Any] = [
    # (content with n, n, the field named when given n + 1)
    pytest.param(lambda n: {"type": "text", "text": "x" * n}, 4096, "content.text", id="text"),
    pytest.param(lambda n: media("image", mediaId="1", caption="c" * n), 1024, "content.caption", id="image-caption"),
    pytest.param(lambda n: media("video", mediaId="1", caption="c" * n), 1024, "content.caption", id="video-caption"),
    pytest.param(
        lambda n: media("document", mediaId="1", caption="c" * n), 1024, "content.caption", id="document-caption"
    ),
    pytest.param(
        lambda n: media("document", mediaId="1", filename="f" * n), 240, "content.filename", id="document-filename"
    ),
    pytest.param(lambda n: media("image", url=https_url(n)), 2048, "content.url", id="media-url"),
    pytest.param(lambda n: media("audio", mediaId="9" * n), 256, "content.mediaId", id="media-id"),
    pytest.param(
        lambda n: {"type": "location", "latitude": 0, "longitude": 0, "name": "n" * n}, 1000, "content.name", id="place"
    ),
    pytest.param(
        lambda n: {"type": "location", "latitude": 0, "longitude": 0, "address": "a" * n},
        1000,
        "content.address",
        id="address",
    ),
    pytest.param(
        lambda n: {"type": "contacts", "contacts": [{"name": {"formatted_name": "A"}}] * n},
        257,
        "content.contacts",
        id="contacts",
    ),
    pytest.param(
        lambda n: {"type": "reaction", "messageId": "w", "emoji": "\U0001f600" * n}, 10, "content.emoji", id="emoji"
    ),
    pytest.param(
        lambda n: {"type": "reaction", "messageId": "w" * n, "emoji": ""}, 256, "content.messageId", id="reacted-to"
    ),
    pytest.param(
        lambda n: button_message(action={"buttons": buttons(n)}),
        3,
        "content.interactive.action.buttons",
        id="buttons",
    ),
    pytest.param(
        lambda n: button_message(action={"buttons": buttons(3, title="t" * n)}),
        20,
        "content.interactive.action.buttons[2].title",
        id="button-title",
    ),
    pytest.param(
        lambda n: button_message(action={"buttons": buttons(2, id="i" * n)}),
        256,
        "content.interactive.action.buttons[1].id",
        id="button-id",
    ),
    pytest.param(lambda n: button_message(body="b" * n), 1024, "content.interactive.body.text", id="button-body"),
    pytest.param(
        lambda n: button_message(footer={"text": "f" * n}), 60, "content.interactive.footer.text", id="button-footer"
    ),
    pytest.param(
        lambda n: button_message(header={"type": "text", "text": "h" * n}),
        60,
        "content.interactive.header.text",
        id="button-header",
    ),
    pytest.param(lambda n: list_message(body="b" * n), 4096, "content.interactive.body.text", id="list-body"),
    pytest.param(
        lambda n: list_message(footer={"text": "f" * n}), 60, "content.interactive.footer.text", id="list-footer"
    ),
    pytest.param(
        lambda n: list_message(header={"type": "text", "text": "h" * n}),
        60,
        "content.interactive.header.text",
        id="list-header",
    ),
    pytest.param(lambda n: list_message(button="b" * n), 20, "content.interactive.action.button", id="list-button"),
    pytest.param(
        lambda n: list_message(sections=sections(n)), 10, "content.interactive.action.sections", id="sections"
    ),
    pytest.param(
        lambda n: list_message(sections=[{"title": "A", "rows": rows(5, "a")}, {"title": "B", "rows": rows(n - 5)}]),
        10,
        "content.interactive.action.sections",
        id="rows-in-all-sections",
    ),
    pytest.param(
        lambda n: list_message(sections=[{"rows": rows(n)}]),
        10,
        "content.interactive.action.sections",
        id="rows-in-one-section",
    ),
    pytest.param(
        lambda n: list_message(sections=[{"rows": rows(2, title="t" * n)}]),
        24,
        "content.interactive.action.sections[0].rows[1].title",
        id="row-title",
    ),
    pytest.param(
        lambda n: list_message(sections=[{"rows": rows(2, description="d" * n)}]),
        72,
        "content.interactive.action.sections[0].rows[1].description",
        id="row-description",
    ),
    pytest.param(
        lambda n: list_message(sections=[{"rows": rows(1, id="i" * n)}]),
        200,
        "content.interactive.action.sections[0].rows[0].id",
        id="row-id",
    ),
    pytest.param(
        lambda n: list_message(sections=[{"title": "A", "rows": rows(1, "a")}, {"title": "s" * n, "rows": rows(1)}]),
        24,
        "content.interactive.action.sections[1].title",
        id="section-title",
    ),
    pytest.param(lambda n: cta_message(body="b" * n), 1024, "content.interactive.body.text", id="cta-body"),
    pytest.param(
        lambda n: cta_message(display_text="d" * n), 20, "content.interactive.action.displayText", id="cta-display-text"
    ),
    pytest.param(lambda n: cta_message(url=https_url(n)), 2048, "content.interactive.action.url", id="cta-url"),
    pytest.param(
        lambda n: {"type": "template", "template": {"name": "a" * n, "language": "vi"}},
        512,
        "content.template.name",
        id="template-name",
    ),
    pytest.param(
        lambda n: {"type": "template", "template": {"name": "a", "language": "e" * n}},
        15,
        "content.template.language",
        id="template-language",
    ),
]


@pytest.mark.parametrize(("make", "limit", "field"), LIMITS)
def test_a_limit_allows_n_and_rejects_n_plus_one(make: Make, limit: int, field: str) -> None:
    SendMessageRequest.model_validate({"content": make(limit)})
    error = rejected({"content": make(limit + 1)})
    assert error.field == field
    assert error.code == "TOO_LONG"
    assert error.message.startswith(f"Validation failed: {field}: ")


def test_reply_to_is_a_wamid_of_at_most_256() -> None:
    content = {"type": "text", "text": "ok"}
    assert SendMessageRequest.model_validate({"content": content, "replyTo": "w" * 256}).reply_to == "w" * 256
    assert rejected({"content": content, "replyTo": "w" * 257}).field == "replyTo"
    assert rejected({"content": content, "replyTo": ""}).field == "replyTo"


@pytest.mark.parametrize(
    ("content", "field"),
    [
        ({"type": "text", "text": ""}, "content.text"),
        (button_message(action={"buttons": []}), "content.interactive.action.buttons"),
        (button_message(action={"buttons": buttons(1, title="")}), "content.interactive.action.buttons[0].title"),
        (button_message(body=""), "content.interactive.body.text"),
        (list_message(button=""), "content.interactive.action.button"),
        (list_message(sections=[{"rows": []}]), "content.interactive.action.sections"),
        (
            {
                **list_message(),
                "interactive": {**list_message()["interactive"], "action": {"button": "b", "sections": []}},
            },
            "content.interactive.action.sections",
        ),
        (cta_message(display_text=""), "content.interactive.action.displayText"),
        ({"type": "contacts", "contacts": []}, "content.contacts"),
        ({"type": "reaction", "messageId": "", "emoji": ""}, "content.messageId"),
        ({"type": "template", "template": {"name": "hello_world", "language": "e"}}, "content.template.language"),
    ],
)
def test_too_short(content: dict[str, Any], field: str) -> None:
    error = rejected({"content": content})
    assert (error.field, error.code) == (field, "TOO_SHORT")


@pytest.mark.parametrize(
    ("latitude", "longitude", "field"),
    [(90.000001, 0, "content.latitude"), (-90.000001, 0, "content.latitude"), (0, 180.000001, "content.longitude")],
)
def test_coordinates_stay_on_earth(latitude: float, longitude: float, field: str) -> None:
    SendMessageRequest.model_validate({"content": {"type": "location", "latitude": 90, "longitude": -180}})
    error = rejected({"content": {"type": "location", "latitude": latitude, "longitude": longitude}})
    assert (error.field, error.code) == (field, "OUT_OF_RANGE")


# --- other rules, each naming its field ---------------------------------------------------------------------

REJECTED = [
    pytest.param(
        button_message(action={"buttons": [{"id": "a", "title": "Có"}, {"id": "a", "title": "Không"}]}),
        "content.interactive.action.buttons",
        "INVALID_VALUE",
        id="duplicate-button-ids",
    ),
    pytest.param(
        list_message(sections=[{"title": "A", "rows": rows(2)}, {"title": "B", "rows": rows(1)}]),
        "content.interactive.action.sections",
        "INVALID_VALUE",
        id="duplicate-row-ids-across-sections",
    ),
    pytest.param(
        list_message(sections=[{"title": "A", "rows": rows(1, "a")}, {"rows": rows(1, "b")}]),
        "content.interactive.action.sections[1].title",
        "REQUIRED_FIELD",
        id="untitled-section-among-several",
    ),
    pytest.param(media("audio", mediaId="1", caption="hi"), "content.caption", "INVALID_VALUE", id="audio-caption"),
    pytest.param(
        media("sticker", url="https://s.example/a.webp", caption="hi"),
        "content.caption",
        "INVALID_VALUE",
        id="sticker-caption",
    ),
    pytest.param(
        media("image", mediaId="1", filename="a.jpg"), "content.filename", "INVALID_VALUE", id="image-filename"
    ),
    pytest.param(media("image"), "content.url", "REQUIRED_FIELD", id="media-without-url-or-id"),
    pytest.param(media("video", caption="x"), "content.url", "REQUIRED_FIELD", id="media-with-only-a-caption"),
    pytest.param(
        media("document", url="https://d.example/a.pdf", mediaId="5"), "content.url", "INVALID_VALUE", id="url-and-id"
    ),
    pytest.param(media("image", url="http://cdn.example/a.jpg"), "content.url", "INVALID_VALUE", id="http-url"),
    pytest.param(media("image", url="https://"), "content.url", "INVALID_VALUE", id="bare-scheme"),
    pytest.param(
        cta_message(url="http://shop.example/"), "content.interactive.action.url", "INVALID_VALUE", id="http-cta-url"
    ),
    pytest.param(
        button_message(header={"type": "image", "url": "http://cdn.example/a.jpg"}),
        "content.interactive.header.url",
        "INVALID_VALUE",
        id="http-header-url",
    ),
    pytest.param(
        button_message(header={"type": "image"}),
        "content.interactive.header.url",
        "REQUIRED_FIELD",
        id="image-header-without-media",
    ),
    pytest.param(
        button_message(header={"type": "text"}),
        "content.interactive.header.text",
        "REQUIRED_FIELD",
        id="text-header-without-text",
    ),
    pytest.param(
        button_message(header={"type": "text", "text": "a", "mediaId": "1"}),
        "content.interactive.header.mediaId",
        "INVALID_VALUE",
        id="text-header-with-media",
    ),
    pytest.param(
        button_message(header={"type": "image", "text": "a", "mediaId": "1"}),
        "content.interactive.header.text",
        "INVALID_VALUE",
        id="image-header-with-text",
    ),
    pytest.param(
        list_message(header={"type": "image", "mediaId": "1"}),
        "content.interactive.header.type",
        "INVALID_VALUE",
        id="list-header-is-text-only",
    ),
    pytest.param({"type": "poll", "text": "?"}, "content.type", "INVALID_VALUE", id="unknown-content-type"),
    pytest.param({"text": "no type"}, "content.type", "REQUIRED_FIELD", id="content-without-type"),
    pytest.param(
        {"type": "interactive", "interactive": {"type": "product", "body": {"text": "x"}}},
        "content.interactive.type",
        "INVALID_VALUE",
        id="unknown-interactive-type",
    ),
    pytest.param(
        {"type": "template", "template": {"name": "Hello_World", "language": "en_US"}},
        "content.template.name",
        "INVALID_FORMAT",
        id="template-name-with-capitals",
    ),
    pytest.param(
        {"type": "template", "template": {"name": "hello-world", "language": "en_US"}},
        "content.template.name",
        "INVALID_FORMAT",
        id="template-name-with-a-hyphen",
    ),
    pytest.param(
        {"type": "template", "template": {"name": "promo", "language": "vi", "category": "service"}},
        "content.template.category",
        "INVALID_VALUE",
        id="template-category",
    ),
    pytest.param(
        {"type": "template", "template": {"name": "promo", "language": "vi", "components": [{"type": "body"}, {}]}},
        "content.template.components[1].type",
        "INVALID_VALUE",
        id="component-without-type",
    ),
    pytest.param(
        {"type": "template", "template": {"name": "promo", "language": "vi", "components": [{"type": "BODYX"}]}},
        "content.template.components[0].type",
        "INVALID_VALUE",
        id="component-of-unknown-type",
    ),
    pytest.param(
        {"type": "template", "template": {"name": "promo", "language": "vi", "components": ["body"]}},
        "content.template.components[0]",
        "INVALID_TYPE",
        id="component-not-an-object",
    ),
    pytest.param(
        {"type": "contacts", "contacts": [{"name": {"formatted_name": "A"}}, {"name": {"first_name": "B"}}]},
        "content.contacts[1].name.formatted_name",
        "REQUIRED_FIELD",
        id="contact-without-formatted-name",
    ),
    pytest.param(
        {"type": "contacts", "contacts": [{"phones": []}]},
        "content.contacts[0].name",
        "REQUIRED_FIELD",
        id="contact-without-name",
    ),
    pytest.param(
        {"type": "location", "latitude": "north", "longitude": 0},
        "content.latitude",
        "INVALID_TYPE",
        id="latitude-not-a-number",
    ),
    # Found by the fuzzer: Meta's free-form objects are stored with the message, and DynamoDB cannot keep these.
    pytest.param(
        {
            "type": "template",
            "template": {"name": "t", "language": "vi", "components": [{"type": "body", "x": [1, 5.06e194]}]},
        },
        "content.template.components[0].x[1]",
        "OUT_OF_RANGE",
        id="template-component-number-too-large",
    ),
    pytest.param(
        {
            "type": "template",
            "template": {"name": "t", "language": "vi", "components": [{"type": "body", "n": 10**40}]},
        },
        "content.template.components[0].n",
        "OUT_OF_RANGE",
        id="template-component-number-of-41-digits",
    ),
    pytest.param(
        {"type": "contacts", "contacts": [{"name": {"formatted_name": "A"}, "org": {"size": 1e-200}}]},
        "content.contacts[0].org.size",
        "OUT_OF_RANGE",
        id="contact-card-number-too-small",
    ),
]


@pytest.mark.parametrize(("content", "field", "code"), REJECTED)
def test_rejected_content_names_its_field(content: dict[str, Any], field: str, code: str) -> None:
    error = rejected({"content": content})
    assert (error.field, error.code) == (field, code)


def errors_of(content: dict[str, Any]) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        SendMessageRequest.model_validate({"content": content})
    return [error["loc"] for error in caught.value.errors()]


def test_no_discriminator_tag_reaches_any_error() -> None:
    """pydantic alone would say ``("content", "interactive", "interactive", "button", "body", "text")``."""
    assert errors_of(button_message(body="", footer={"text": ""}, header={"type": "text", "text": "h" * 61})) == [
        ("content", "interactive", "header", "text"),
        ("content", "interactive", "body", "text"),
        ("content", "interactive", "footer", "text"),
    ]
    assert errors_of({"type": "text", "text": "", "previewUrl": "maybe"}) == [
        ("content", "text"),
        ("content", "previewUrl"),
    ]


def test_four_buttons_name_the_list_before_any_one_button() -> None:
    too_many = [*buttons(3), {"id": "b3", "title": "t" * 21}]
    assert errors_of(button_message(action={"buttons": too_many})) == [("content", "interactive", "action", "buttons")]


def test_a_request_without_content_names_content() -> None:
    error = rejected({"replyTo": "wamid.X"})
    assert (error.field, error.code) == ("content", "REQUIRED_FIELD")
    assert rejected({"content": "hello"}).field == "content"


KEPT = [0, 1.5, 1e-130, -1e-130, 9.99e37, 10**38 - 1, -(10**38 - 1), 12345678901234567890.5]
REFUSED = [10**38, -(10**38), 1e-131, 5e-324, float("inf"), float("-inf"), float("nan"), 5.06e194]


@pytest.mark.parametrize("number", KEPT)
def test_a_number_in_metas_objects_that_the_table_keeps_is_accepted_and_stored(number: float) -> None:
    from mkt_whatsapp.store.table import serialize

    template = {"name": "t", "language": "vi", "components": [{"type": "body", "amount": number}]}
    request = SendMessageRequest.model_validate({"content": {"type": "template", "template": template}})
    serialize({"content": request.content.to_wire()})  # what storing the message does: no decimal error


@pytest.mark.parametrize("number", REFUSED)
def test_a_number_in_metas_objects_that_the_table_cannot_keep_is_refused(number: float) -> None:
    template = {"name": "t", "language": "vi", "components": [{"type": "body", "p": [{"amount": number}]}]}
    error = rejected({"content": {"type": "template", "template": template}})
    assert (error.field, error.code) == ("content.template.components[0].p[0].amount", "OUT_OF_RANGE")


@pytest.mark.parametrize(
    ("component", "field"),
    [
        ({"type": "header", "": {"j": 1}}, "content.template.components[0]"),
        ({"type": "header", "x": {"": 1}}, "content.template.components[0].x"),
    ],
)
def test_an_empty_key_in_metas_objects_is_refused(component: dict[str, Any], field: str) -> None:
    """Found by the fuzzer: the message was stored with it (moto) and every later read of its conversation was
    a 500; DynamoDB refuses an empty attribute name."""
    template = {"name": "t", "language": "vi", "components": [component]}
    error = rejected({"content": {"type": "template", "template": template}})
    assert (error.field, error.code) == (field, "INVALID_VALUE")


@pytest.mark.parametrize("coordinate", ["latitude", "longitude"])
def test_a_coordinate_too_small_to_store_is_refused_and_zero_is_kept(coordinate: str) -> None:
    from mkt_whatsapp.store.table import serialize

    location = {"type": "location", "latitude": 0.0, "longitude": 0.0}
    error = rejected({"content": {**location, coordinate: -1.1125369292536007e-308}})
    assert (error.field, error.code) == (f"content.{coordinate}", "OUT_OF_RANGE")
    kept = SendMessageRequest.model_validate({"content": {**location, coordinate: 1e-130}})
    serialize({"content": kept.content.to_wire()})
