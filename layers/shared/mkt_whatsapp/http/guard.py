"""The request guard, and what a handler may ask of the request in progress: who is calling (the actor
its domain calls record), until when it may work (the deadline) and whether it may act on a shop.

The guard runs before the resolver so that an unauthenticated caller always gets 401 — never a 400 that
reveals the body's schema. A shop named in the path or the query is authorised (403) before any read; a
shop named in the body is authorised from the parsed body (:func:`authorise_body_shop`, called by
``validation.parse_body``); a resource that decides the shop (a conversation, later a flow or an agent)
is read by its handler and authorised with :func:`authorise_resource_shop` before the domain is called.

This module is the only one that knows there is a request: domain functions take the shop, the actor
and the deadline as arguments, so the same send runs from a handler, a queue worker or a state machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.core.errors import ApiError, BadRequest, PayloadTooLarge
from mkt_whatsapp.http import ratelimit
from mkt_whatsapp.http.routes import Route, ShopSource, route_for_key, route_for_request

if TYPE_CHECKING:
    from pydantic import BaseModel

    from mkt_whatsapp.http.auth import Principal


@dataclass
class RequestContext:
    route: Route | None
    principal: Principal | None = None
    quota: ratelimit.Quota | None = None
    authorised_shops: set[str] = field(default_factory=set)
    lambda_context: LambdaContext | None = None

    def authorise_shop(self, shop_id: str) -> None:
        """403 unless the caller may act on ``shop_id``; then count it against the shop's rate limit."""
        if self.principal is None:
            raise RuntimeError("authorise_shop called on a public route")
        if shop_id in self.authorised_shops:
            return
        self.principal.require_shop(shop_id, field=self.route.shop_key if self.route else "shopId")
        if self.route is not None and self.quota is None:
            self.quota = ratelimit.admit(shop_id, self.route.rate_limit_bucket)
        self.authorised_shops.add(shop_id)


_current: ContextVar[RequestContext | None] = ContextVar("mkt_whatsapp_request", default=None)


@contextmanager
def in_progress(request: RequestContext | None) -> Iterator[None]:
    """``request`` is the request in progress while the block runs (None: no request yet)."""
    token = _current.set(request)
    try:
        yield
    finally:
        _current.reset(token)


def request_or_none() -> RequestContext | None:
    return _current.get()


def current_request() -> RequestContext:
    context = _current.get()
    if context is None:
        raise RuntimeError("no request in progress")
    return context


def authorise_body_shop(body: BaseModel) -> None:
    """On a route whose body names its shop: authorise the shop the parsed ``body`` holds — the very value
    the handler goes on to use (one parse: no second reader that could see another key, an alias or the
    other of two duplicate keys)."""
    request = current_request()
    route = request.route
    if route is None or route.shop_source is not ShopSource.BODY:
        return
    for name, info in type(body).model_fields.items():
        if (info.alias or name) == route.shop_key:
            request.authorise_shop(str(getattr(body, name)))
            return
    raise RuntimeError(f"{type(body).__name__} has no field {route.shop_key} for {route.route_key}")


def authorise_resource_shop(shop_id: str, missing: ApiError) -> None:
    """The resource the request addresses belongs to ``shop_id``: the caller may act on it (and the shop's
    request is counted), or the resource answers ``missing`` — another shop's resource is indistinguishable
    from one that does not exist."""
    request = current_request()
    if request.principal is None or shop_id not in request.principal.shop_ids:
        raise missing
    request.authorise_shop(shop_id)


def authorised_resource(resource: Mapping[str, Any] | None, missing: ApiError) -> tuple[str, Any]:
    """The resource a path names, as read (None: there is none), and its shop, once the caller may act on
    it: ``missing`` if there is none or it is another shop's (the two answer alike)."""
    if resource is None:
        raise missing
    shop_id = str(resource["shopId"])
    authorise_resource_shop(shop_id, missing)
    return shop_id, resource


def actor() -> str:
    """Who acts, as domain calls record it (``sentBy``…): the authenticated agent's id (the JWT's ``sub``)."""
    principal = current_request().principal
    if principal is None:
        raise RuntimeError("no authenticated principal on this route")
    return principal.subject


def deadline() -> float | None:
    """When this invocation ends (epoch seconds), from the Lambda's remaining time; None if unknown."""
    context = current_request().lambda_context
    if context is None:
        return None
    return time.time() + context.get_remaining_time_in_millis() / 1000


def _header(headers: Mapping[str, str] | None, name: str) -> str | None:
    for key, value in (headers or {}).items():
        if key.lower() == name:
            return value
    return None


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
    return None  # a body's shop is authorised from the parsed body (authorise_body_shop)


def route_of(event: Mapping[str, Any]) -> Route | None:
    route = route_for_key(str(event.get("routeKey", "")))
    if route is None:
        http = (event.get("requestContext") or {}).get("http") or {}
        route = route_for_request(str(http.get("method", "")), str(event.get("rawPath", "")))
    return route


def _refuse_duplicate_parameters(event: Mapping[str, Any]) -> None:
    """400 for a query parameter given twice: API Gateway would join the values with a comma
    (``shopId=a&shopId=b`` → ``"a,b"``), which no parameter means."""
    raw = str(event.get("rawQueryString") or "")
    if not raw:
        return
    seen: set[str] = set()
    for name, _value in parse_qsl(raw, keep_blank_values=True):
        if name in seen:
            shown = name if len(name) <= 64 else name[:63] + "…"
            message = f"Query parameter {shown} is given more than once"
            raise BadRequest(message, code="DUPLICATE_PARAMETER", field=shown)
        seen.add(name)


def _refuse_oversized_body(event: Mapping[str, Any], route: Route) -> None:
    """413 for a body larger than the route's limit (MAX_BODY_BYTES unless it says otherwise), before
    anything reads it."""
    body = event.get("body")
    if not body:
        return
    size = len(body) * 3 // 4 if event.get("isBase64Encoded") else len(str(body).encode())
    if size > route.max_body_bytes:
        raise PayloadTooLarge(f"Request body is {size} bytes; the limit is {route.max_body_bytes} bytes", field="body")


def guard(event: Mapping[str, Any], context: RequestContext) -> None:
    """Authenticate; refuse duplicate query parameters and oversized bodies; and, where the request names
    its shop in the path or query, authorise and rate-limit it. ``context`` keeps what was established
    (the principal) even when a check then fails, so the refusal is counted against the caller."""
    route = context.route
    if route is None or not route.requires_auth:
        _refuse_duplicate_parameters(event)
        return
    # Imported on the first authenticated request: public functions (webhooks, health) never load JWT code.
    from mkt_whatsapp.http.auth import authenticate

    context.principal = authenticate(_header(event.get("headers"), "authorization"))
    _refuse_duplicate_parameters(event)
    _refuse_oversized_body(event, route)
    shop_id = shop_named_by(event, route)
    if shop_id is not None:
        context.authorise_shop(shop_id)
