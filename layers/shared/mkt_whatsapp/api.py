"""The HTTP side every API function shares: the resolver, the response envelope, the error mapping and
the request guard (authentication, shop authorisation and rate limiting).

The guard runs before the resolver so that an unauthenticated caller always gets 401 — never a 400 that
reveals the body's schema — and a caller acting on another shop gets 403 before validation or any read.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp import ratelimit
from mkt_whatsapp.errors import ApiError, BadRequest, InternalError, MethodNotAllowed, NotFound, NotImplementedYet
from mkt_whatsapp.pagination import Pagination
from mkt_whatsapp.routes import ROUTES, Route, ShopSource, methods_allowed_for, route_for_key, route_for_request
from mkt_whatsapp.settings import API_BASE_PATH

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mkt_whatsapp.auth import Principal

ModelT = TypeVar("ModelT", bound="BaseModel")

logger = Logger(child=True)

JSON_HEADERS = {"Content-Type": content_types.APPLICATION_JSON}


def dumps(payload: Any) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str)


def envelope(data: Any, *, pagination: Pagination | None = None) -> dict[str, Any]:
    return {
        "success": True,
        "data": data,
        "error": None,
        "pagination": pagination.to_wire() if pagination else None,
    }


def error_envelope(error: ApiError) -> dict[str, Any]:
    return {
        "success": False,
        "data": None,
        "error": error.message,
        "details": {"field": error.field, "code": error.code},
        "pagination": None,
    }


def ok(data: Any, *, status: int = 200, pagination: Pagination | None = None) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=dumps(envelope(data, pagination=pagination)),
    )


def error_response(error: ApiError) -> Response[str]:
    return Response(
        status_code=error.status,
        content_type=content_types.APPLICATION_JSON,
        body=dumps(error_envelope(error)),
        headers=dict(error.headers),
    )


# --- validation errors -------------------------------------------------------------------------------

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
    if error_type == "json_invalid":
        message = "Malformed JSON in request body"
    else:
        message = f"Validation failed: {name}: {first.get('msg', 'invalid value')}"
    return ApiError(message, code=code, field=name)


def required_query(query: Mapping[str, str], name: str) -> str:
    """A required query parameter; 400 naming it when missing or empty."""
    value = query.get(name)
    if not value:
        raise BadRequest(f"Validation failed: {name} is required", code="REQUIRED_FIELD", field=name)
    return value


def parse_body(app: APIGatewayHttpResolver, model: type[ModelT]) -> ModelT:
    """The request body as ``model``; 400 naming the first bad field (or ``body``) otherwise."""
    from pydantic import ValidationError

    raw = app.current_event.decoded_body
    if raw is None or not str(raw).strip():
        raise BadRequest("Validation failed: body: a JSON body is required", code="REQUIRED_FIELD", field="body")
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        errors = [dict(item, loc=("body", *item.get("loc", ()))) for item in error.errors(include_url=False)]
        raise validation_error(errors) from None


# --- per-request context ----------------------------------------------------------------------------


@dataclass
class RequestContext:
    route: Route | None
    principal: Principal | None = None
    quota: ratelimit.Quota | None = None
    authorised_shops: set[str] = field(default_factory=set)
    lambda_context: LambdaContext | None = None

    def authorise_shop(self, shop_id: str) -> None:
        """403 unless the caller may act on ``shop_id``; then count it against the shop's rate limit.
        Called by the guard when the request names its shop, and by domain code for routes whose
        resource (conversation, flow, agent) decides the shop."""
        if self.principal is None:
            raise RuntimeError("authorise_shop called on a public route")
        if shop_id in self.authorised_shops:
            return
        self.principal.require_shop(shop_id, field=self.route.shop_key if self.route else "shopId")
        if self.route is not None and self.quota is None:
            self.quota = ratelimit.admit(shop_id, self.route.rate_limit_bucket)
        self.authorised_shops.add(shop_id)


_current: ContextVar[RequestContext | None] = ContextVar("mkt_whatsapp_request", default=None)


def current_request() -> RequestContext:
    context = _current.get()
    if context is None:
        raise RuntimeError("no request in progress")
    return context


def current_principal() -> Principal:
    principal = current_request().principal
    if principal is None:
        raise RuntimeError("no authenticated principal on this route")
    return principal


# --- the guard and the entry point ------------------------------------------------------------------


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


def _body_field(event: Mapping[str, Any], name: str) -> str | None:
    raw = event.get("body")
    if not raw:
        return None
    try:
        text = base64.b64decode(raw) if event.get("isBase64Encoded") else raw
        payload = json.loads(text)
    except (ValueError, TypeError):
        return None  # the resolver reports the malformed body
    value = payload.get(name) if isinstance(payload, dict) else None
    return value if isinstance(value, str) and value else None


def _path_parameter(event: Mapping[str, Any], route: Route, name: str) -> str | None:
    params = event.get("pathParameters") or {}
    value = params.get(name)
    if value:
        return str(value)
    # Direct invocations may lack pathParameters: recover it from the route's template.
    template = route.full_path.strip("/").split("/")
    actual = str(event.get("rawPath", "")).strip("/").split("/")
    if len(template) == len(actual):
        for segment, part in zip(template, actual, strict=True):
            if segment == "{" + name + "}":
                return part
    return None


def shop_named_by(event: Mapping[str, Any], route: Route) -> str | None:
    if route.shop_source is ShopSource.PATH:
        return _path_parameter(event, route, route.shop_key)
    if route.shop_source is ShopSource.QUERY:
        value = (event.get("queryStringParameters") or {}).get(route.shop_key)
        return str(value) if value else None
    if route.shop_source is ShopSource.BODY:
        return _body_field(event, route.shop_key)
    return None


def _route_of(event: Mapping[str, Any]) -> Route | None:
    route = route_for_key(str(event.get("routeKey", "")))
    if route is None:
        http = (event.get("requestContext") or {}).get("http") or {}
        route = route_for_request(str(http.get("method", "")), str(event.get("rawPath", "")))
    return route


def _to_lambda_response(response: Response[str]) -> dict[str, Any]:
    return {
        "statusCode": response.status_code,
        "headers": {**JSON_HEADERS, **{k: str(v) for k, v in response.headers.items()}},
        "body": response.body,
        "isBase64Encoded": False,
    }


def _with_headers(result: dict[str, Any], extra: Mapping[str, str]) -> dict[str, Any]:
    if extra:
        result["headers"] = {**(result.get("headers") or {}), **extra}
    return result


def guard(event: Mapping[str, Any]) -> RequestContext:
    """Authenticate and, where the request names its shop, authorise and rate-limit it."""
    route = _route_of(event)
    context = RequestContext(route=route)
    if route is None or not route.requires_auth:
        return context
    # Imported on the first authenticated request: public functions (webhooks, health) never load JWT code.
    from mkt_whatsapp.auth import authenticate

    context.principal = authenticate(_header(event.get("headers"), "authorization"))
    shop_id = shop_named_by(event, route)
    if shop_id is not None:
        context.authorise_shop(shop_id)
    return context


def entrypoint(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda handler for an API function: guard, then the resolver; quota headers on the answer."""

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        token = _current.set(None)
        try:
            try:
                request = guard(event)
            except ApiError as error:
                return _to_lambda_response(error_response(error))
            request.lambda_context = context
            _current.set(request)
            result: dict[str, Any] = app.resolve(event, context)
            return _with_headers(result, request.quota.headers() if request.quota else {})
        finally:
            _current.reset(token)

    return handle


def not_found_or_wrong_method(path: str, method: str) -> ApiError:
    allowed = methods_allowed_for(path)
    if allowed:
        error: ApiError = MethodNotAllowed(
            f"Method {method} is not allowed on {path}", headers={"Allow": ", ".join(allowed)}
        )
        return error
    return NotFound(f"No route for {method} {path}", code="ROUTE_NOT_FOUND")


def create_resolver() -> APIGatewayHttpResolver:
    """An HTTP API resolver that answers every error in the api-v1 envelope.

    Bodies are validated by :func:`parse_body` with pydantic, not by Powertools' OpenAPI validation
    middleware: that middleware alone adds about 45 ms to every function's import (a third of the
    cold-start floor; see docs/cold-start.md), for the same pydantic validation."""
    app = APIGatewayHttpResolver(strip_prefixes=[API_BASE_PATH])

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def _api_error(error: ApiError) -> Response[str]:
        if error.status >= 500:
            logger.warning("upstream or service error", extra={"code": error.code, "status": error.status})
        quota = current_request().quota if _current.get() else None
        response = error_response(error)
        if quota and error.status != 429:
            response.headers.update(quota.headers())
        return response

    @app.exception_handler(UnicodeDecodeError)  # type: ignore[untyped-decorator]
    def _not_utf8(_: UnicodeDecodeError) -> Response[str]:
        return error_response(BadRequest("Request body must be UTF-8 encoded JSON", code="INVALID_JSON", field="body"))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        event = app.current_event
        return error_response(not_found_or_wrong_method(event.path, event.http_method.upper()))

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(InternalError("Internal server error"))

    return app


def register_pending_routes(app: APIGatewayHttpResolver, function: str) -> None:
    """Serve the function's routes that no feature has implemented yet (call it after registering the
    implemented ones): authenticated, shop-checked where the request names its shop, then an honest 501
    in the error envelope."""

    def pending() -> Response[str]:
        return error_response(NotImplementedYet("This endpoint is not implemented yet"))

    registered = {(r.method, r.path) for r in app._static_routes + app._dynamic_routes}
    for route in ROUTES:
        rule = route.path.replace("{", "<").replace("}", ">")
        if route.function == function and (route.method, rule) not in registered:
            app.route(rule, method=route.method)(pending)
