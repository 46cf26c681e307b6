"""Request bodies and query strings validated by pydantic models, and one mapping of pydantic's errors
to the api-v1 error: the first bad field, named as the request names it (``content.buttons[3].title``,
``take``), with a stable code.

Bodies and queries are validated here rather than by Powertools' OpenAPI validation middleware: that
middleware alone adds about 45 ms to every function's import (a third of the cold-start floor; see
docs/cold-start.md), for the same pydantic validation. pydantic itself is imported on the first
validation, so the public functions (webhook deliveries, health) never load it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from mkt_whatsapp.core.errors import ApiError, BadRequest, BusinessRuleViolation, UnsupportedMediaType
from mkt_whatsapp.core.settings import MAX_JSON_DEPTH
from mkt_whatsapp.http.guard import authorise_body_shop

if TYPE_CHECKING:
    from pydantic import BaseModel

ModelT = TypeVar("ModelT", bound="BaseModel")

_CODE_BY_PYDANTIC_TYPE = {
    "missing": "REQUIRED_FIELD",
    "json_invalid": "INVALID_JSON",
    "string_too_short": "TOO_SHORT",
    "too_short": "TOO_SHORT",
    "string_too_long": "TOO_LONG",
    "too_long": "TOO_LONG",
    "string_pattern_mismatch": "INVALID_FORMAT",
    "literal_error": "INVALID_VALUE",
    "enum": "INVALID_VALUE",
    "greater_than": "OUT_OF_RANGE",
    "greater_than_equal": "OUT_OF_RANGE",
    "less_than": "OUT_OF_RANGE",
    "less_than_equal": "OUT_OF_RANGE",
    "union_tag_invalid": "INVALID_VALUE",
    "union_tag_not_found": "REQUIRED_FIELD",
    "unsupported_content_type": "UNSUPPORTED_MEDIA_TYPE",
}


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "content", "buttons", 3, "title")`` → ``content.buttons[3].title`` (request's own names)."""
    parts = list(location)
    if parts and parts[0] in ("body", "query", "path", "header"):
        source, parts = parts[0], parts[1:]
        if source == "body" and parts and isinstance(parts[0], int):  # json_invalid reports a char offset
            parts = []
        if not parts:
            return str(source)
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    """The first bad field, named as the request names it, with a stable code."""
    first = errors[0] if errors else {"type": "value_error", "loc": ("body",), "msg": "Invalid request"}
    error_type = str(first.get("type", "value_error"))
    code = _CODE_BY_PYDANTIC_TYPE.get(error_type)
    if code is None:
        code = "INVALID_TYPE" if error_type.endswith(("_type", "_parsing")) else "INVALID_VALUE"
    name = field_path(tuple(first.get("loc", ("body",))))
    if error_type == "json_invalid" and "recursion limit" in str(first.get("msg", "")):
        return BadRequest(
            f"Request body nests JSON deeper than {MAX_JSON_DEPTH} levels", code="NESTING_TOO_DEEP", field="body"
        )
    if error_type == "json_invalid":
        message = "Malformed JSON in request body"
    else:
        message = f"Validation failed: {_excerpt(name)}: {_excerpt(str(first.get('msg', 'invalid value')))}"
    return BadRequest(message, code=code, field=name)


MAX_QUOTED = 160


def _excerpt(text: str) -> str:
    """pydantic's messages may quote the input (``Input tag '…' found using 'type'…``): an answer quotes
    at most a short excerpt of what the caller sent."""
    return text if len(text) <= MAX_QUOTED else text[: MAX_QUOTED - 1] + "…"


# A bound on a number or on a list's length: a business rule (422) on models that say so
# (``LIMITS_ARE_RULES``, e.g. an AI agent's temperature or its 500 FAQ entries), a schema error (400) elsewhere.
_LIMIT_TYPES = {"greater_than", "greater_than_equal", "less_than", "less_than_equal", "too_long", "too_short"}


def _validated(
    source: str,
    validate: Callable[[Any], ModelT],
    payload: Any,
    *,
    limits_are_rules: bool = False,
    status: int = 400,
) -> ModelT:
    from pydantic import ValidationError

    try:
        return validate(payload)
    except ValidationError as error:
        errors = [dict(item, loc=(source, *item.get("loc", ()))) for item in error.errors(include_url=False)]
        refusal = validation_error(errors)
        kind = errors[0].get("type")
        rule = (status == 422 and kind != "json_invalid") or (limits_are_rules and kind in _LIMIT_TYPES)
        if rule:
            raise BusinessRuleViolation(refusal.message, code=refusal.code, field=refusal.field) from None
        raise refusal from None


def _require_json(content_type: str | None) -> None:
    """415 for a body declared as anything but UTF-8 JSON. No Content-Type at all is read as JSON (some
    clients omit it; the body must still parse)."""
    if content_type is None or not content_type.strip():
        return
    media_type, *parameters = (part.strip().lower() for part in content_type.split(";"))
    charsets = {value.strip('"') for name, _, value in (p.partition("=") for p in parameters) if name == "charset"}
    if media_type != "application/json" or not charsets <= {"utf-8", "utf8"}:
        raise UnsupportedMediaType(
            f"Request body must be application/json (UTF-8), not {_excerpt(content_type)}",
            field="Content-Type",
        )


def parse_body(app: APIGatewayHttpResolver, model: type[ModelT]) -> ModelT:
    """The request body as ``model``; 400 naming the first bad field (or ``body``) otherwise. On a route
    whose body names its shop, the shop it names is authorised (403) before the body is returned."""
    _require_json(app.current_event.headers.get("content-type"))
    raw = app.current_event.decoded_body
    if raw is None or not str(raw).strip():
        raise BadRequest("Validation failed: body: a JSON body is required", code="REQUIRED_FIELD", field="body")
    body = _validated(
        "body",
        model.model_validate_json,
        raw,
        limits_are_rules=bool(getattr(model, "LIMITS_ARE_RULES", False)),
        # A model may answer its validation 422 (a flow's definition: the automation guide's rule);
        # malformed JSON stays 400.
        status=int(getattr(model, "VALIDATION_STATUS", 400)),
    )
    authorise_body_shop(body)
    return body


def query_of(query: Mapping[str, str] | None, model: type[ModelT]) -> ModelT:
    """A query string as ``model``: an empty value (``?status=``) counts as absent, so a required parameter
    given empty is ``REQUIRED_FIELD`` and an optional one takes its default."""
    present = {name: value for name, value in (query or {}).items() if value != ""}
    return _validated("query", model.model_validate, present)


def parse_query(app: APIGatewayHttpResolver, model: type[ModelT]) -> ModelT:
    """The request's query string as ``model``; 400 naming the first bad parameter otherwise."""
    return query_of(app.current_event.query_string_parameters, model)
