"""An API function's resolver and Lambda entry point: the guard first, then Powertools' resolver, every
error answered in the api-v1 envelope (mapped once, here), the shop's quota headers on every answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.core.errors import (
    ApiError,
    BadRequest,
    Conflict,
    InternalError,
    MethodNotAllowed,
    NotFound,
    NotImplementedYet,
    RateLimited,
)
from mkt_whatsapp.core.settings import API_BASE_PATH
from mkt_whatsapp.http import ratelimit
from mkt_whatsapp.http.envelope import JSON_HEADERS, error_response
from mkt_whatsapp.http.guard import RequestContext, guard, in_progress, request_or_none, route_of
from mkt_whatsapp.http.routes import (
    ROUTES,
    ShopSource,
    methods_allowed_for,
    missing_resource,
    route_for_key,
    shadowed,
)
from mkt_whatsapp.http.validation import parse_body, parse_query
from mkt_whatsapp.store.table import TransactionConflict

logger = Logger(child=True)


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


def _as_get(event: dict[str, Any]) -> dict[str, Any]:
    """A ``HEAD`` request as the ``GET`` it mirrors (routes.head_routes)."""
    context = dict(event.get("requestContext") or {})
    context["http"] = {**(context.get("http") or {}), "method": "GET"}
    route_key = str(event.get("routeKey", ""))
    if route_key.startswith("HEAD "):
        route_key = "GET " + route_key.removeprefix("HEAD ")
        context["routeKey"] = route_key
    return {**event, "routeKey": route_key, "requestContext": context}


def _count_against_caller(request: RequestContext) -> RateLimited | None:
    """An authenticated request that acted on no shop (refused before one was authorised, or naming
    none) counts against the caller, so probing for ids, shops or schemas is rate limited too."""
    if request.principal is None or request.quota is not None or request.route is None:
        return None
    try:
        request.quota = ratelimit.admit_principal(request.principal.subject, request.route.rate_limit_bucket)
    except RateLimited as limited:
        return limited
    return None


def entrypoint(app: APIGatewayHttpResolver) -> Callable[[dict[str, Any], LambdaContext], dict[str, Any]]:
    """The Lambda handler for an API function: guard, then the resolver; quota headers on the answer.
    ``HEAD`` is answered as the ``GET`` of the same path, without its body."""

    def handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        head = str(((event.get("requestContext") or {}).get("http") or {}).get("method", "")).upper() == "HEAD"
        result = _handle(_as_get(event) if head else event, context)
        if head:
            result["body"] = ""
            result["isBase64Encoded"] = False
        return result

    def _handle(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        request = RequestContext(route=route_of(event), lambda_context=context)
        path = str(event.get("rawPath", ""))
        if request.route is not None and shadowed(request.route, path):
            # API Gateway matched a templated route; the path names a more concrete resource: 405 there.
            method = request.route.method
            return _to_lambda_response(error_response(not_found_or_wrong_method(path, method)))
        with in_progress(None):
            try:
                guard(event, request)
            except ApiError as error:
                refusal = error if isinstance(error, RateLimited) else _count_against_caller(request) or error
                return _with_headers(
                    _to_lambda_response(error_response(refusal)),
                    request.quota.headers() if request.quota and refusal.status != 429 else {},
                )
        with in_progress(request):
            result: dict[str, Any] = app.resolve(event, context)
        limited = _count_against_caller(request)
        if limited is not None:
            return _to_lambda_response(error_response(limited))
        return _with_headers(result, request.quota.headers() if request.quota else {})

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
    """An HTTP API resolver that answers every error in the api-v1 envelope."""
    app = APIGatewayHttpResolver(strip_prefixes=[API_BASE_PATH])

    def answer(error: ApiError) -> Response[str]:
        if error.status >= 500:
            logger.warning("upstream or service error", extra={"code": error.code, "status": error.status})
        request = request_or_none()
        quota = request.quota if request else None
        response = error_response(error)
        if quota and error.status != 429:
            response.headers.update(quota.headers())
        return response

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def _api_error(error: ApiError) -> Response[str]:
        return answer(error)

    @app.exception_handler(TransactionConflict)  # type: ignore[untyped-decorator]
    def _conflict(_: TransactionConflict) -> Response[str]:
        # Another request wrote the same items at that moment; nothing of this one was written.
        return answer(Conflict("The resource is being changed concurrently; retry", code="CONCURRENT_UPDATE"))

    @app.exception_handler(UnicodeDecodeError)  # type: ignore[untyped-decorator]
    def _not_utf8(_: UnicodeDecodeError) -> Response[str]:
        return error_response(BadRequest("Request body must be UTF-8 encoded JSON", code="INVALID_JSON", field="body"))

    @app.not_found
    def _not_found(_: NotFoundError) -> Response[str]:
        event = app.current_event
        method = event.http_method.upper()
        matched = route_for_key(str(event.raw_event.get("routeKey", "")))
        if matched is not None and matched.method == method:
            # API Gateway matched this function's route, the resolver did not: a path parameter holds
            # characters no id has (Powertools matches letters, digits and URI punctuation only).
            message, code, field = missing_resource(matched)
            return answer(NotFound(message, code=code, field=field))
        return error_response(not_found_or_wrong_method(event.path, method))

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def _unexpected(error: Exception) -> Response[str]:
        logger.exception("unhandled error")
        return error_response(InternalError("Internal server error"))

    return app


def register_pending_routes(app: APIGatewayHttpResolver, function: str) -> None:
    """Serve the routes of a function whose feature is not built yet: authenticated, shop-checked where
    the request names its shop, then an honest 501 in the error envelope."""

    def pending(**_path_parameters: str) -> Response[str]:
        # The shop is read as every built route reads it: a body's from the parsed body (and authorised
        # there), a query's from the parsed query (the very value the guard authorised).
        from mkt_whatsapp.models import ShopBody, ShopQuery

        request = request_or_none()
        source = request.route.shop_source if request is not None and request.route is not None else None
        if source is ShopSource.BODY:
            parse_body(app, ShopBody)
        elif source is ShopSource.QUERY:
            parse_query(app, ShopQuery)
        return error_response(NotImplementedYet("This endpoint is not implemented yet"))

    registered = {(r.method, r.path) for r in app._static_routes + app._dynamic_routes}
    for route in ROUTES:
        rule = route.path.replace("{", "<").replace("}", ">")
        if route.function == function and (route.method, rule) not in registered:
            app.route(rule, method=route.method)(pending)
