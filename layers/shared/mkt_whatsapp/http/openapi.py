"""The API's OpenAPI 3.1 document, generated from the route table and the pydantic models.

``python -m mkt_whatsapp.http.openapi docs/openapi.json`` (``make openapi``) writes it; the system function
serves the same document at ``GET /api/v1/whatsapp/openapi.json``; ``tests/unit/test_openapi.py`` fails when
docs/openapi.json is stale and validates the document; ``tests/e2e/test_openapi_fuzz.py`` holds the running
stack to it with generated requests.

Design:

- **Generated, never edited.** Every operation comes from :data:`~mkt_whatsapp.http.routes.ROUTES` (one per
  route, HEAD routes included) and what :mod:`mkt_whatsapp.http.operations` says of it; every schema from a
  pydantic model, by pydantic itself (``models_json_schema`` with ``ref_template`` into
  ``#/components/schemas``): bodies and queries as validated (``mode="validation"``), answers as serialised
  (``mode="serialization"``). OpenAPI 3.1 takes JSON Schema 2020-12 as is, so pydantic's output needs no
  translation. The one schema written here is the api-v1 envelope, which ``http.envelope`` builds from dicts.
- **Strict about answers.** An answer's object schemas close with ``additionalProperties: false`` (a model
  of Meta's, which keeps Meta's extra fields, stays open), and each error answer lists the exact
  ``details.code`` values that status may carry on that route: a handler answering a field or a code the
  document does not know fails the fuzzer's conformance check instead of drifting silently.
- **Not on the cold-start path.** Building the document imports every model (pydantic); the system function
  imports this module inside its handler, on the first ``GET /openapi.json`` of a container, and caches the
  text (:func:`document_text`). tests/template/test_cold_start_imports.py guards that the public functions
  load no pydantic at import.
- **Deterministic.** The same code gives the same bytes (no timestamps, no set order), so a stale
  docs/openapi.json is a plain comparison.
"""

from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from mkt_whatsapp.core.settings import API_BASE_PATH
from mkt_whatsapp.http.operations import (
    AUTHENTICATION_CODES,
    BODY_LIMIT_CODES,
    ERROR_CODES,
    PATH_PARAMETERS,
    TAGS,
    VALIDATION_CODES,
    Enveloped,
    Operation,
    ResourceId,
    operation_for,
)
from mkt_whatsapp.http.routes import ROUTES, Route, ShopSource, missing_resource

OPENAPI_VERSION = "3.1.0"
API_VERSION = "1.0"
REF = "#/components/schemas/{model}"
SECURITY_SCHEME = "bearerAuth"
JSON = "application/json"


class _Schemas(GenerateJsonSchema):
    """pydantic's JSON schema, minus the titles it derives from Python names (``"title": "Shopid"``), with
    answers' objects closed (see the module docstring)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        json_schema = super().model_schema(schema)
        if self.mode == "serialization" and schema["cls"].model_config.get("extra") != "allow":
            json_schema.setdefault("additionalProperties", False)
        return json_schema


# --- the envelope ----------------------------------------------------------------------------------------

_PAGINATION = {
    "type": "object",
    "description": "The page a list answer holds (`skip`/`take`): page = skip / take + 1.",
    "required": ["page", "limit", "total", "totalPages"],
    "properties": {
        "page": {"type": "integer", "minimum": 1},
        "limit": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0},
        "totalPages": {"type": "integer", "minimum": 0},
    },
    "additionalProperties": False,
}
_ERROR_ENVELOPE = {
    "type": "object",
    "description": "Every error answer: a message for people, `details.code` for programs (stable), "
    "`details.field` the request's own name of the input to blame (`content.interactive.action.buttons[3]`).",
    "required": ["success", "data", "error", "details", "pagination"],
    "properties": {
        "success": {"const": False},
        "data": {"type": "null"},
        "error": {"type": "string", "minLength": 1},
        "details": {
            "type": "object",
            "required": ["field", "code"],
            "properties": {"field": {"type": ["string", "null"]}, "code": {"type": "string"}},
            "additionalProperties": False,
        },
        "pagination": {"type": "null"},
    },
    "additionalProperties": False,
}


def _success_envelope(data: JsonSchemaValue, *, paginated: bool) -> JsonSchemaValue:
    return {
        "type": "object",
        "required": ["success", "data", "error", "pagination"],
        "properties": {
            "success": {"const": True},
            "data": data,
            "error": {"type": "null"},
            "pagination": {"$ref": REF.format(model="Pagination")} if paginated else {"type": "null"},
        },
        "additionalProperties": False,
    }


def _error_envelope(codes: Iterable[str]) -> JsonSchemaValue:
    return {
        "allOf": [
            {"$ref": REF.format(model="ErrorEnvelope")},
            {"properties": {"details": {"properties": {"code": {"enum": sorted(set(codes))}}}}},
        ]
    }


# --- headers ---------------------------------------------------------------------------------------------

_RATE_LIMIT_HEADERS = {
    "X-RateLimit-Limit": "Requests allowed per minute (the shop's, or the caller's when it named no shop)",
    "X-RateLimit-Remaining": "Requests left in this minute's window",
    "X-RateLimit-Reset": "Seconds until the window ends",
}
_HEADERS: dict[str, JsonSchemaValue] = {
    **{
        name: {"description": text, "schema": {"type": "integer", "minimum": 0}}
        for name, text in _RATE_LIMIT_HEADERS.items()
    },
    "Retry-After": {
        "description": "Seconds until the window ends",
        "required": True,
        "schema": {"type": "integer", "minimum": 1},
    },
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with",
        "required": True,
        "schema": {"const": "Bearer"},
    },
}


def _header_refs(names: Iterable[str], *, required: bool = False) -> dict[str, JsonSchemaValue]:
    refs: dict[str, JsonSchemaValue] = {}
    for name in names:
        ref = {"$ref": f"#/components/headers/{name}"}
        # OpenAPI has no "required" beside a $ref: a header always present on this answer gets its own copy.
        refs[name] = {**_HEADERS[name], "required": True} if required else ref
    return refs


# --- operations ------------------------------------------------------------------------------------------


def _error_statuses(route: Route, operation: Operation) -> dict[int, list[str]]:
    """Each error status the route may answer, with its codes: the route's own, then what it reads adds."""
    codes = [*operation.errors, "DUPLICATE_PARAMETER", "INTERNAL_ERROR"]
    if "{" in route.path:  # an id no resource can have is its resource's 404 (http.resolver), built or not
        codes.append(missing_resource(route)[1])
    if route.requires_auth:
        codes += [*AUTHENTICATION_CODES, "RATE_LIMIT_EXCEEDED"]
        if route.shop_source in (ShopSource.PATH, ShopSource.QUERY, ShopSource.BODY):
            codes.append("SHOP_ACCESS_DENIED")
    if operation.query is not None or (operation.body is not None and not operation.raw_body):
        codes += VALIDATION_CODES
    if operation.body is not None:
        codes += [*BODY_LIMIT_CODES, "NESTING_TOO_DEEP"] if not operation.raw_body else ["PAYLOAD_TOO_LARGE"]
    statuses: dict[int, list[str]] = {}
    for code in codes:
        statuses.setdefault(ERROR_CODES[code][0], [])
        if code not in statuses[ERROR_CODES[code][0]]:
            statuses[ERROR_CODES[code][0]].append(code)
    if getattr(operation.body, "VALIDATION_STATUS", 400) == 422:
        # The body's validation answers 422 (a flow's definition); only malformed JSON stays 400.
        # (REQUIRED_FIELD stays a 400 too: a request with no body at all.)
        moved = [code for code in statuses.get(400, []) if code in VALIDATION_CODES and code != "INVALID_JSON"]
        moved += ["NESTING_TOO_DEEP"] if "NESTING_TOO_DEEP" in statuses.get(400, []) else []
        kept = ("NESTING_TOO_DEEP", "REQUIRED_FIELD")
        statuses[400] = [code for code in statuses[400] if code not in moved or code in kept]
        statuses.setdefault(422, []).extend(code for code in moved if code != "NESTING_TOO_DEEP")
    if getattr(operation.body, "LIMITS_ARE_RULES", False):
        # A bound on a number or a list's length is a business rule on these bodies (http.validation).
        statuses.setdefault(422, []).extend(code for code in LIMIT_RULE_CODES if code not in statuses[422])
    return dict(sorted(statuses.items()))


# The codes a body whose limits are business rules answers with 422 (models/ai_agents.py).
LIMIT_RULE_CODES = ("OUT_OF_RANGE", "TOO_LONG", "TOO_SHORT")


def _parameter_schema(schema: JsonSchemaValue) -> JsonSchemaValue:
    """A query parameter's schema: absent is the model's None (a query string has no null)."""
    variants = schema.get("anyOf")
    if isinstance(variants, list) and {"type": "null"} in variants:
        rest = [variant for variant in variants if variant != {"type": "null"}]
        schema = {key: value for key, value in schema.items() if key != "anyOf"}
        schema.update(rest[0] if len(rest) == 1 else {"anyOf": rest})
    if schema.get("default", 0) is None:
        schema = {key: value for key, value in schema.items() if key != "default"}
    return schema


def _query_parameters(model: type[BaseModel], definitions: dict[str, JsonSchemaValue]) -> list[JsonSchemaValue]:
    schema = definitions[model.__name__]
    required = set(schema.get("required", []))
    parameters = []
    for name, property_schema in schema["properties"].items():
        parameter_schema = _parameter_schema(dict(property_schema))
        description = parameter_schema.pop("description", None)
        parameter: JsonSchemaValue = {"name": name, "in": "query", "required": name in required}
        if description:
            parameter["description"] = description
        if parameter_schema.get("type") == "array":  # comma-separated, as API Gateway joins a repeated one
            parameter.update(style="form", explode=False)
        parameter["schema"] = parameter_schema
        parameters.append(parameter)
    return parameters


def _path_parameters(route: Route) -> list[JsonSchemaValue]:
    parameters = []
    for name in re.findall(r"\{([^}]+)\}", route.path):
        annotation, description = PATH_PARAMETERS.get(name, (ResourceId, name))
        schema = TypeAdapter(annotation).json_schema(schema_generator=_Schemas)
        parameters.append({"name": name, "in": "path", "required": True, "description": description, "schema": schema})
    return parameters


def _operation(
    route: Route,
    refs: Mapping[tuple[Any, JsonSchemaMode], JsonSchemaValue],
    definitions: dict[str, JsonSchemaValue],
) -> JsonSchemaValue:
    operation = operation_for(route)
    has_body_answer = route.method != "HEAD"
    result: JsonSchemaValue = {
        "operationId": operation.operation_id,
        "summary": operation.summary,
        "tags": [TAGS.get(route.function, route.function)],
    }
    if operation.description:
        result["description"] = operation.description
    parameters = _path_parameters(route)
    if operation.query is not None:
        parameters += _query_parameters(operation.query, definitions)
    for header in operation.headers:
        parameters.append(
            {
                "name": header.name,
                "in": "header",
                "required": header.required,
                "description": header.description,
                "schema": dict(header.schema),
            }
        )
    if parameters:
        result["parameters"] = parameters
    if operation.body is not None:
        result["requestBody"] = {
            "required": True,
            "content": {JSON: {"schema": refs[(operation.body, "validation")]}},
        }
    if route.requires_auth:
        result["security"] = [{SECURITY_SCHEME: []}]
    responses: dict[str, JsonSchemaValue] = {}
    for status, answer in sorted(operation.answers.items()):
        response: JsonSchemaValue = {}
        if isinstance(answer, Enveloped):
            response["description"] = _first_paragraph(answer.model)
            data = refs[(answer.model, "serialization")]
            content = {JSON: {"schema": _success_envelope(data, paginated=answer.paginated)}}
        else:
            response["description"] = answer.description
            if answer.model is not None:
                schema = refs[(answer.model, "serialization")]
            else:
                schema = {"type": "string"} if answer.media_type.startswith("text/") else {"type": "object"}
            content = {answer.media_type: {"schema": schema}}
        if route.requires_auth:
            response["headers"] = _header_refs(_RATE_LIMIT_HEADERS, required=True)
        if has_body_answer:
            response["content"] = content
        responses[str(status)] = response
    for status, codes in _error_statuses(route, operation).items():
        response = {"description": _status_description(codes)}
        if status == 401:
            response["headers"] = _header_refs(["WWW-Authenticate"])
        elif status == 429:
            response["headers"] = {**_header_refs(_RATE_LIMIT_HEADERS), **_header_refs(["Retry-After"])}
        elif route.requires_auth:
            response["headers"] = _header_refs(_RATE_LIMIT_HEADERS)
        if has_body_answer:
            response["content"] = {JSON: {"schema": _error_envelope(codes)}}
        responses[str(status)] = response
    result["responses"] = responses
    return result


def _first_paragraph(model: type[BaseModel]) -> str:
    return " ".join((inspect.getdoc(model) or model.__name__).split("\n\n")[0].split())


def _status_description(codes: list[str]) -> str:
    own = [f"`{code}`: {ERROR_CODES[code][1]}" for code in codes if code not in VALIDATION_CODES]
    if any(code in VALIDATION_CODES for code in codes):
        own.insert(0, "The request failed its schema: `details.field` names the first bad field, `details.code` how")
    return "; ".join(own)


# --- the document ----------------------------------------------------------------------------------------


def _models(routes: Iterable[Route]) -> list[tuple[type[BaseModel], JsonSchemaMode]]:
    wanted: dict[tuple[type[BaseModel], JsonSchemaMode], None] = {}
    for route in routes:
        operation = operation_for(route)
        for model in (operation.body, operation.query):
            if model is not None:
                wanted[(model, "validation")] = None
        for answer in operation.answers.values():
            if answer.model is not None:
                wanted[(answer.model, "serialization")] = None
    return list(wanted)


def _info_description() -> str:
    rows = "\n".join(
        f"| {status} | `{code}` | {text} |"
        for code, (status, text) in sorted(ERROR_CODES.items(), key=lambda item: (item[1][0], item[0]))
    )
    return (
        "WhatsApp Business marketing and customer-engagement backend for shops (api-v1).\n\n"
        "Every answer but the webhook handshake, the webhook acknowledgement and this document is the api-v1 "
        "envelope `{success, data, error, pagination}`; every error adds `details: {field, code}` with a stable "
        "code. Every route but the webhooks, the health check and this document needs `Authorization: Bearer "
        "<JWT>` (claims `sub`, `exp`, `shop_ids`); a token acting on a shop it does not hold is 403. Rate "
        "limits: 60 requests a minute per shop on the API, 10 on analytics (429 with `Retry-After`); counted "
        "answers carry `X-RateLimit-*` headers.\n\n"
        "Besides each operation's answers: a path no route has answers 404 `ROUTE_NOT_FOUND`; a method a path "
        "does not serve answers 405 `METHOD_NOT_ALLOWED` with `Allow`.\n\n"
        "| status | code | meaning |\n|---|---|---|\n" + rows
    )


def document(routes: tuple[Route, ...] = ROUTES) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every route of ``routes`` (the route table)."""
    models = _models(routes)
    refs, schemas = models_json_schema(models, ref_template=REF, schema_generator=_Schemas)
    definitions: dict[str, JsonSchemaValue] = dict(schemas.get("$defs", {}))
    paths: dict[str, dict[str, JsonSchemaValue]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, refs, definitions)
    # A query model's fields became parameters: its own schema is referenced by nothing.
    for model, mode in models:
        if mode == "validation" and not any(operation_for(route).body is model for route in routes):
            definitions.pop(model.__name__, None)
    definitions.update(Pagination=_PAGINATION, ErrorEnvelope=_ERROR_ENVELOPE)
    document = {
        "openapi": OPENAPI_VERSION,
        "info": {"title": "mkt-whatsapp-service", "version": API_VERSION, "description": _info_description()},
        "servers": [{"url": API_BASE_PATH, "description": "This service, wherever it is deployed"}],
        "tags": [
            {"name": name} for name in dict.fromkeys(TAGS.get(route.function, route.function) for route in routes)
        ],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(definitions.items())),
            "headers": _HEADERS,
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "HS256 with the service's JWT secret, or RS256 with keys from its JWKS URL; "
                    "claims `sub` (the agent or service), `exp`, `shop_ids` (the shops it may act on).",
                }
            },
        },
    }
    return cast(dict[str, Any], _markdown(document))


def _markdown(value: Any) -> Any:
    """Docstrings write code as reStructuredText (````x````); the document's descriptions are Markdown."""
    if isinstance(value, dict):
        return {
            key: (
                value[key].replace("``", "`")
                if key == "description" and isinstance(value[key], str)
                else _markdown(value[key])
            )
            for key in value
        }
    if isinstance(value, list):
        return [_markdown(item) for item in value]
    return value


@cache
def document_text() -> str:
    """The document as docs/openapi.json holds it (and the API serves it)."""
    return json.dumps(document(), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write the API's OpenAPI document.")
    parser.add_argument("output", type=Path, nargs="?", help="file to write (default: stdout)")
    args = parser.parse_args(argv)
    if args.output is None:
        sys.stdout.write(document_text())
    else:
        args.output.write_text(document_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
