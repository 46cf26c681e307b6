"""An outbound message's ``content`` (Send Message request) as models, checked against WhatsApp's limits,
and its translation to the Graph API request body of ``POST /{version}/{phone-number-id}/messages``.

| ``type`` | fields (wire names) and limits |
|---|---|
| ``text`` | ``text`` 1–4096; ``previewUrl`` (default false) |
| ``image``/``video``/``document`` | one of ``url`` (``https://``, ≤ 2048) or ``mediaId`` (1–256); ``caption`` ≤ 1024 |
| ``audio``/``sticker`` | ``url`` or ``mediaId`` as above; no ``caption`` |
| ``document`` | also ``filename`` ≤ 240 (no other type takes one) |
| ``location`` | ``latitude`` −90..90, ``longitude`` −180..180; ``name``, ``address`` ≤ 1000 |
| ``contacts`` | ``contacts``: 1–257 of Meta's contact cards, each with ``name.formatted_name`` |
| ``reaction`` | ``messageId`` 1–256; ``emoji`` ≤ 10 (``""`` removes the reaction) |
| ``interactive`` ``button`` | ``body.text`` 1–1024; ``header`` text ≤ 60 or image/video/document; ``footer`` ≤ 60; |
| | ``action.buttons`` 1–3 of ``{id 1–256, title 1–20}``, ids unique |
| ``interactive`` ``list`` | ``body.text`` 1–4096; text ``header`` ≤ 60; ``footer`` ≤ 60; ``action.button`` 1–20; |
| | ``action.sections`` 1–10 of ``{title ≤ 24 (required with 2+ sections), rows}``; 1–10 rows in all, |
| | row ``{id 1–200 (unique in the list), title 1–24, description ≤ 72}`` |
| ``interactive`` ``cta_url`` | ``body.text`` 1–1024; text ``header`` ≤ 60; ``footer`` ≤ 60; |
| | ``action`` ``{displayText 1–20, url https:// ≤ 2048}`` |
| ``template`` | ``template.name`` 1–512 of ``[a-z0-9_]``; ``language`` a code 2–15 (``vi``, ``en_US``) or |
| | Meta's ``{"code", "policy"}``; ``category`` (ours, never sent); ``components`` in Meta's own shape, |
| | each a ``{type: header|body|footer|button}`` |

A reply names the message replied to in ``replyTo`` (Graph's ``context.message_id``, ≤ 256).

:func:`to_graph_body` produces the bodies of Meta's Cloud API "Send Messages" examples key for key
(see ``tests/unit/test_outbound_content.py``).

Field names in errors: a discriminated union puts the member's tag into an error's ``loc``
(``("content", "interactive", "interactive", "button", "action", "buttons", 3)``). Each union here is
wrapped by :func:`_untagged`, which re-raises its members' errors without the tag, so ``loc`` names the
request's own fields (``("content", "interactive", "action", "buttons", 3)``) and
``mkt_whatsapp.http.validation.parse_body`` answers ``content.interactive.action.buttons[3]`` unchanged. A missing or
unknown tag is reported on the ``type`` field (``content.type``, ``content.interactive.type``).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from mkt_whatsapp.models import WireModel
from mkt_whatsapp.models.meta_objects import (
    COMPONENT_TYPES,
    META_OBJECTS,
    NOT_TOO_SMALL,
    check_components,
    component_items,
    error_at,
)
from mkt_whatsapp.models.meta_objects import check_storable as _check_storable
from mkt_whatsapp.models.meta_objects import storable as _storable

__all__ = [
    "COMPONENT_TYPES",
    "MEDIA_TYPES",
    "AudioContent",
    "ButtonAction",
    "ButtonHeader",
    "ButtonInteractive",
    "ContactsContent",
    "Content",
    "CtaUrlAction",
    "CtaUrlInteractive",
    "DocumentContent",
    "Footer",
    "ImageContent",
    "Interactive",
    "InteractiveBody",
    "InteractiveContent",
    "ListAction",
    "ListBody",
    "ListInteractive",
    "ListRow",
    "ListSection",
    "LocationContent",
    "ReactionContent",
    "ReplyButton",
    "SendMessageRequest",
    "StickerContent",
    "Template",
    "TemplateContent",
    "TextContent",
    "TextHeader",
    "VideoContent",
    "is_template",
    "template_category",
    "to_graph_body",
]

MEDIA_TYPES = ("image", "video", "audio", "document", "sticker")

_HTTPS = "https://"
_TAG_ERRORS = frozenset({"union_tag_not_found", "union_tag_invalid"})


# --- errors on the right field ------------------------------------------------------------------------


_error_at = error_at  # flow_models raises its own errors on the right field with it


def _untagged(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate a discriminated union; errors name the member's fields without the member's tag."""
    try:
        return handler(value)
    except ValidationError as error:
        details: list[InitErrorDetails] = []
        for item in error.errors(include_url=False):
            loc = tuple(item["loc"])
            if loc:
                loc = loc[1:]  # every error of a member starts with the member's tag
            elif item["type"] in _TAG_ERRORS:
                loc = ("type",)
            details.append(
                InitErrorDetails(
                    type=PydanticCustomError(item["type"], item["msg"], item.get("ctx")),
                    loc=loc,
                    input=item.get("input"),
                )
            )
        raise ValidationError.from_exception_data(error.title, details) from None


def _check_https(value: str | None) -> str | None:
    if value is not None and (not value.startswith(_HTTPS) or len(value) == len(_HTTPS) or " " in value):
        raise PydanticCustomError("url_scheme", "url must be an https:// URL")
    return value


def _check_one_source(url: str | None, media_id: str | None) -> None:
    if url is None and media_id is None:
        raise _error_at(("url",), "missing", "url or mediaId is required", None)
    if url is not None and media_id is not None:
        raise _error_at(("url",), "url_and_media_id", "give either url or mediaId, not both", url)


# --- the same rules in JSON Schema (the OpenAPI document; validation is the validators' above) -------------

# What _check_https accepts.
HTTPS_URL: dict[str, Any] = {"pattern": "^https://[^ ]+$"}
# Exactly one of url and mediaId (_check_one_source); either may be given as null.
_ONE_SOURCE = {
    "oneOf": [
        {"required": ["url"], "properties": {"url": {"type": "string"}}},
        {"required": ["mediaId"], "properties": {"mediaId": {"type": "string"}}},
    ]
}


def _media_json_schema(schema: dict[str, Any], cls: type[Any]) -> None:
    """A media message's schema says what its validators check: one source; a caption or a filename only on
    the types that take one (null elsewhere)."""
    schema.update(_ONE_SOURCE)
    if not cls.allows_caption:
        schema["properties"]["caption"] = {"type": "null", "default": None}
    if not cls.allows_filename:
        schema["properties"]["filename"] = {"type": "null", "default": None}


def _contact_items(schema: dict[str, Any]) -> None:
    """1 to 257 contact cards (the input type's schema drops the field's bounds), each with a name that has a
    formatted_name (_named)."""
    schema.update(minItems=1, maxItems=257)
    items = schema.get("items")
    if not isinstance(items, dict) or not isinstance(items.get("additionalProperties"), dict):
        return  # an answer's schema (a flow's stored steps): no input refinements to add
    name = {
        "type": "object",
        "required": ["formatted_name"],
        "properties": {"formatted_name": {"type": "string", "pattern": "\\S"}},
        "additionalProperties": {"$ref": schema["items"]["additionalProperties"]["$ref"]},
        "propertyNames": schema["items"]["propertyNames"],
    }
    schema["items"].update(required=["name"], properties={"name": name})


def _clean(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}


# --- text, media, location, contacts, reaction --------------------------------------------------------


class TextContent(WireModel):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=4096)
    preview_url: bool = False


class _MediaContent(WireModel):
    """A media message: by ``url`` (Meta fetches it) or by ``mediaId`` (uploaded before)."""

    model_config = ConfigDict(json_schema_extra=_media_json_schema)

    kind: ClassVar[str] = "media"
    allows_caption: ClassVar[bool] = False
    allows_filename: ClassVar[bool] = False

    url: str | None = Field(default=None, min_length=1, max_length=2048, json_schema_extra=HTTPS_URL)
    media_id: str | None = Field(default=None, min_length=1, max_length=256)
    caption: str | None = Field(default=None, max_length=1024)
    filename: str | None = Field(default=None, max_length=240)

    @field_validator("url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        return _check_https(value)

    @field_validator("caption", mode="before")
    @classmethod
    def _caption_allowed(cls, value: Any) -> Any:
        if value is not None and not cls.allows_caption:
            raise PydanticCustomError("not_allowed", f"{cls.kind} messages cannot have a caption")
        return value

    @field_validator("filename", mode="before")
    @classmethod
    def _filename_allowed(cls, value: Any) -> Any:
        if value is not None and not cls.allows_filename:
            raise PydanticCustomError("not_allowed", "only document messages have a filename")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> _MediaContent:
        _check_one_source(self.url, self.media_id)
        return self


class ImageContent(_MediaContent):
    kind: ClassVar[str] = "image"
    allows_caption: ClassVar[bool] = True
    type: Literal["image"]


class VideoContent(_MediaContent):
    kind: ClassVar[str] = "video"
    allows_caption: ClassVar[bool] = True
    type: Literal["video"]


class AudioContent(_MediaContent):
    kind: ClassVar[str] = "audio"
    type: Literal["audio"]


class DocumentContent(_MediaContent):
    kind: ClassVar[str] = "document"
    allows_caption: ClassVar[bool] = True
    allows_filename: ClassVar[bool] = True
    type: Literal["document"]


class StickerContent(_MediaContent):
    kind: ClassVar[str] = "sticker"
    type: Literal["sticker"]


class LocationContent(WireModel):
    type: Literal["location"]
    latitude: float = Field(ge=-90, le=90, allow_inf_nan=False, json_schema_extra=NOT_TOO_SMALL)
    longitude: float = Field(ge=-180, le=180, allow_inf_nan=False, json_schema_extra=NOT_TOO_SMALL)
    name: str | None = Field(default=None, max_length=1000)
    address: str | None = Field(default=None, max_length=1000)

    @field_validator("latitude", "longitude")
    @classmethod
    def _storable_coordinate(cls, value: float) -> float:
        """Found by the fuzzer: a longitude of -1.1e-308 was a 500 (decimal.Underflow storing the message)."""
        if not _storable(value):
            raise PydanticCustomError("greater_than", "a coordinate is 0 or at least 1e-130 in size")
        return value


class ContactsContent(WireModel):
    """Meta's contact cards, sent as given (their own snake_case keys)."""

    type: Literal["contacts"]
    contacts: Annotated[list[dict[str, Any]], META_OBJECTS] = Field(
        min_length=1, max_length=257, json_schema_extra=_contact_items
    )

    @field_validator("contacts")
    @classmethod
    def _named(cls, contacts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, card in enumerate(contacts):
            name = card.get("name")
            if not isinstance(name, dict):
                raise _error_at((index, "name"), "missing", "a contact needs a name object", name)
            formatted = name.get("formatted_name")
            if not isinstance(formatted, str) or not formatted.strip():
                raise _error_at(
                    (index, "name", "formatted_name"), "missing", "a contact needs a formatted_name", formatted
                )
        _check_storable(contacts, ())
        return contacts


class ReactionContent(WireModel):
    type: Literal["reaction"]
    message_id: str = Field(min_length=1, max_length=256)
    emoji: str = Field(max_length=10)


# --- interactive ---------------------------------------------------------------------------------------


class InteractiveBody(WireModel):
    text: str = Field(min_length=1, max_length=1024)


class ListBody(WireModel):
    text: str = Field(min_length=1, max_length=4096)


class Footer(WireModel):
    text: str = Field(min_length=1, max_length=60)


class TextHeader(WireModel):
    type: Literal["text"]
    text: str = Field(min_length=1, max_length=60)


class ButtonHeader(WireModel):
    """A reply-button message's header: ``{type: text, text}`` or ``{type: image|video|document, url|mediaId}``."""

    type: Literal["text", "image", "video", "document"]
    text: str | None = Field(default=None, min_length=1, max_length=60)
    url: str | None = Field(default=None, min_length=1, max_length=2048, json_schema_extra=HTTPS_URL)
    media_id: str | None = Field(default=None, min_length=1, max_length=256)

    @field_validator("url")
    @classmethod
    def _https_url(cls, value: str | None) -> str | None:
        return _check_https(value)

    @model_validator(mode="after")
    def _fits_type(self) -> ButtonHeader:
        if self.type == "text":
            if self.text is None:
                raise _error_at(("text",), "missing", "a text header needs text", None)
            if self.url is not None or self.media_id is not None:
                field = "url" if self.url is not None else "mediaId"
                raise _error_at((field,), "not_allowed", "a text header has no media", self.url or self.media_id)
        else:
            if self.text is not None:
                raise _error_at(("text",), "not_allowed", f"{self.type} headers have no text", self.text)
            _check_one_source(self.url, self.media_id)
        return self


class ReplyButton(WireModel):
    id: str = Field(min_length=1, max_length=256)
    title: str = Field(min_length=1, max_length=20)


class ButtonAction(WireModel):
    model_config = ConfigDict(json_schema_extra={"description": "Button ids unique (_unique_ids)"})

    buttons: list[ReplyButton] = Field(min_length=1, max_length=3)

    @field_validator("buttons")
    @classmethod
    def _unique_ids(cls, buttons: list[ReplyButton]) -> list[ReplyButton]:
        ids = [button.id for button in buttons]
        if len(set(ids)) != len(ids):
            raise PydanticCustomError("duplicate_id", "button ids must be unique")
        return buttons


class ButtonInteractive(WireModel):
    type: Literal["button"]
    header: ButtonHeader | None = None
    body: InteractiveBody
    footer: Footer | None = None
    action: ButtonAction


class ListRow(WireModel):
    id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=24)
    description: str | None = Field(default=None, max_length=72)


class ListSection(WireModel):
    title: str | None = Field(default=None, min_length=1, max_length=24)
    rows: list[ListRow]


class ListAction(WireModel):
    # What _rows_in_all checks that JSON Schema can say: with several sections, each has a title. (1 to 10 rows
    # in all and ids unique across the list it cannot: they are in the description.)
    model_config = ConfigDict(
        json_schema_extra={
            "description": "1 to 10 rows in all the sections; row ids unique across the list",
            "if": {"required": ["sections"], "properties": {"sections": {"minItems": 2}}},
            "then": {
                "properties": {
                    "sections": {"items": {"required": ["title"], "properties": {"title": {"type": "string"}}}}
                }
            },
        }
    )

    button: str = Field(min_length=1, max_length=20)
    sections: list[ListSection] = Field(min_length=1, max_length=10)

    @field_validator("sections")
    @classmethod
    def _rows_in_all(cls, sections: list[ListSection]) -> list[ListSection]:
        if len(sections) > 1:
            for index, section in enumerate(sections):
                if section.title is None:
                    raise _error_at(
                        (index, "title"), "missing", "each section needs a title when there are several", None
                    )
        ids = [row.id for section in sections for row in section.rows]
        if not ids:
            raise PydanticCustomError("too_short", "a list needs at least 1 row")
        if len(ids) > 10:
            raise PydanticCustomError("too_long", "a list has at most 10 rows in all its sections")
        if len(set(ids)) != len(ids):
            raise PydanticCustomError("duplicate_id", "row ids must be unique across the list")
        return sections


class ListInteractive(WireModel):
    type: Literal["list"]
    header: TextHeader | None = None
    body: ListBody
    footer: Footer | None = None
    action: ListAction


class CtaUrlAction(WireModel):
    display_text: str = Field(min_length=1, max_length=20)
    url: str = Field(min_length=1, max_length=2048, json_schema_extra=HTTPS_URL)

    @field_validator("url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        _check_https(value)
        return value


class CtaUrlInteractive(WireModel):
    type: Literal["cta_url"]
    header: TextHeader | None = None
    body: InteractiveBody
    footer: Footer | None = None
    action: CtaUrlAction


Interactive = Annotated[
    ButtonInteractive | ListInteractive | CtaUrlInteractive,
    Field(discriminator="type"),
    WrapValidator(_untagged),
]


class InteractiveContent(WireModel):
    type: Literal["interactive"]
    interactive: Interactive


# --- template ------------------------------------------------------------------------------------------


class Template(WireModel):
    """An approved template by name and language; ``components`` (its parameters) in Meta's own shape."""

    name: str = Field(min_length=1, max_length=512, pattern=r"^[a-z0-9_]+$")
    language: Annotated[
        str,
        WithJsonSchema(
            {
                "description": "A language code (`vi`, `en_US`) or Meta's object form",
                "oneOf": [
                    {"type": "string", "minLength": 2, "maxLength": 15},
                    {
                        "type": "object",
                        "required": ["code"],
                        "properties": {
                            "code": {"type": "string", "minLength": 2, "maxLength": 15},
                            "policy": {"const": "deterministic"},
                        },
                        "additionalProperties": False,
                    },
                ],
            }
        ),
    ] = Field(min_length=2, max_length=15)
    # Meta's object form ``{"code": "vi", "policy": "deterministic"}``: the policy is sent back as given.
    language_policy: Literal["deterministic"] | None = Field(default=None, exclude=True)
    category: Literal["marketing", "utility", "authentication"] | None = None
    components: Annotated[list[dict[str, Any]], META_OBJECTS] = Field(
        default_factory=list, json_schema_extra=component_items
    )

    @model_validator(mode="before")
    @classmethod
    def _language_as_meta_writes_it(cls, data: Any) -> Any:
        """``language`` is a code (``"vi"``) or Meta's object (``{"code": "vi", "policy": "deterministic"}``),
        as Meta documents it and users copy it; either is read as the code (and the policy)."""
        language = data.get("language") if isinstance(data, dict) else None
        if (
            isinstance(language, dict)
            and set(language) <= {"code", "policy"}
            and "code" in language
            and language.get("policy") in (None, "deterministic")
        ):  # anything else is refused as ``language``
            return {**data, "language": language["code"], "languagePolicy": language.get("policy")}
        return data

    @field_validator("components")
    @classmethod
    def _known_types(cls, components: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return check_components(components)


class TemplateContent(WireModel):
    type: Literal["template"]
    template: Template


Content = Annotated[
    TextContent
    | ImageContent
    | VideoContent
    | AudioContent
    | DocumentContent
    | StickerContent
    | LocationContent
    | ContactsContent
    | ReactionContent
    | InteractiveContent
    | TemplateContent,
    Field(discriminator="type"),
    WrapValidator(_untagged),
]


class SendMessageRequest(WireModel):
    content: Content
    reply_to: str | None = Field(default=None, min_length=1, max_length=256)


# --- the Graph API body --------------------------------------------------------------------------------


def _media_object(url: str | None, media_id: str | None) -> dict[str, Any]:
    return {"link": url} if url is not None else {"id": media_id}


def _button_header(header: ButtonHeader) -> dict[str, Any]:
    if header.type == "text":
        return {"type": "text", "text": header.text}
    return {"type": header.type, header.type: _media_object(header.url, header.media_id)}


def _text_header(header: TextHeader | None) -> dict[str, Any] | None:
    return None if header is None else {"type": "text", "text": header.text}


def _footer(footer: Footer | None) -> dict[str, Any] | None:
    return None if footer is None else {"text": footer.text}


def _interactive(interactive: ButtonInteractive | ListInteractive | CtaUrlInteractive) -> dict[str, Any]:
    if isinstance(interactive, ButtonInteractive):
        header = None if interactive.header is None else _button_header(interactive.header)
        action: dict[str, Any] = {
            "buttons": [
                {"type": "reply", "reply": {"id": button.id, "title": button.title}}
                for button in interactive.action.buttons
            ]
        }
    elif isinstance(interactive, ListInteractive):
        header = _text_header(interactive.header)
        action = {
            "button": interactive.action.button,
            "sections": [
                _clean(
                    {
                        "title": section.title,
                        "rows": [
                            _clean({"id": row.id, "title": row.title, "description": row.description})
                            for row in section.rows
                        ],
                    }
                )
                for section in interactive.action.sections
            ],
        }
    else:
        header = _text_header(interactive.header)
        action = {
            "name": "cta_url",
            "parameters": {"display_text": interactive.action.display_text, "url": interactive.action.url},
        }
    return _clean(
        {
            "type": interactive.type,
            "header": header,
            "body": {"text": interactive.body.text},
            "footer": _footer(interactive.footer),
            "action": action,
        }
    )


def _payload(content: Content) -> dict[str, Any] | list[dict[str, Any]]:
    """The object sent under the message's type."""
    if isinstance(content, TextContent):
        return {"body": content.text, "preview_url": content.preview_url}
    if isinstance(content, _MediaContent):
        media = _media_object(content.url, content.media_id)
        return _clean({**media, "caption": content.caption, "filename": content.filename})
    if isinstance(content, LocationContent):
        return _clean(
            {
                "latitude": content.latitude,
                "longitude": content.longitude,
                "name": content.name,
                "address": content.address,
            }
        )
    if isinstance(content, ContactsContent):
        return list(content.contacts)
    if isinstance(content, ReactionContent):
        return {"message_id": content.message_id, "emoji": content.emoji}
    if isinstance(content, InteractiveContent):
        return _interactive(content.interactive)
    template = content.template
    language: dict[str, str] = {"code": template.language}
    if template.language_policy:
        language["policy"] = template.language_policy
    body: dict[str, Any] = {"name": template.name, "language": language}
    if template.components:
        body["components"] = list(template.components)
    return body


def to_graph_body(
    content: Content, to: str, *, reply_to: str | None = None, recipient_field: str = "to"
) -> dict[str, Any]:
    """The body of ``POST /{version}/{phone-number-id}/messages`` sending ``content`` to ``to``.

    ``recipient_field`` names the key the recipient goes under; ``reply_to`` (a wamid) becomes
    ``context.message_id``."""
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        recipient_field: to,
    }
    if reply_to is not None:
        body["context"] = {"message_id": reply_to}
    body["type"] = content.type
    body[content.type] = _payload(content)
    return body


def is_template(content: Content) -> bool:
    return isinstance(content, TemplateContent)


def template_category(content: Content) -> str | None:
    """The template's category (ours, for pricing and limits); None for anything but a template."""
    return content.template.category if isinstance(content, TemplateContent) else None
