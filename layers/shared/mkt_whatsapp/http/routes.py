"""The API's route table: every route of api-v1.txt (and the guides), which function serves it, and how
the shop a request acts on is found.

template.yaml declares the same routes; ``tests/template`` holds the two to each other. The catch-all
function uses this table to tell an unknown path (404) from a wrong method (405), and the request guard
uses it to authorise and rate-limit by shop before a handler runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from functools import cache

from mkt_whatsapp.core.settings import API_BASE_PATH, MAX_BODY_BYTES, MAX_KNOWLEDGE_BODY_BYTES


class ShopSource(StrEnum):
    """Where a request names the shop it acts on."""

    NONE = "none"  # public: webhooks, health, the OpenAPI document
    PATH = "path"  # /accounts/{shopId}
    QUERY = "query"  # ?shopId=
    BODY = "body"  # {"shopId": ...}
    RESOURCE = "resource"  # the addressed conversation, flow or agent decides (checked after loading it)


class RateLimitBucket(StrEnum):
    NONE = "none"
    PUBLIC = "public"
    ANALYTICS = "analytics"


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # relative to API_BASE_PATH, with {placeholders} as in template.yaml
    function: str  # the functions/<name> folder that serves it
    shop_source: ShopSource = ShopSource.QUERY
    shop_key: str = "shopId"  # name of the path/query/body field holding the shop id (or the resource id)
    max_body_bytes: int = MAX_BODY_BYTES  # larger bodies are 413 before anything reads them

    @property
    def requires_auth(self) -> bool:
        return self.shop_source is not ShopSource.NONE

    @property
    def rate_limit_bucket(self) -> RateLimitBucket:
        if not self.requires_auth:
            return RateLimitBucket.NONE
        if self.function == "analytics":
            return RateLimitBucket.ANALYTICS
        return RateLimitBucket.PUBLIC

    @property
    def full_path(self) -> str:
        return API_BASE_PATH + self.path

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.full_path}"


_R = Route
_PATH, _QUERY, _BODY, _RES, _NONE = (
    ShopSource.PATH,
    ShopSource.QUERY,
    ShopSource.BODY,
    ShopSource.RESOURCE,
    ShopSource.NONE,
)

ROUTES: tuple[Route, ...] = (
    _R("GET", "/health", "system", _NONE),
    _R("GET", "/openapi.json", "system", _NONE),
    _R("GET", "/webhooks", "webhooks", _NONE),
    _R("POST", "/webhooks", "webhooks", _NONE),
    _R("POST", "/accounts", "accounts", _BODY),
    _R("GET", "/accounts/{shopId}", "accounts", _PATH),
    _R("DELETE", "/accounts/{shopId}", "accounts", _PATH),
    _R("GET", "/conversations", "conversations", _QUERY),
    _R("GET", "/conversations/{conversationId}", "conversations", _RES, "conversationId"),
    _R("POST", "/conversations/{conversationId}/messages", "conversations", _RES, "conversationId"),
    _R("POST", "/conversations/{conversationId}/assign", "conversations", _RES, "conversationId"),
    _R("POST", "/conversations/{conversationId}/close", "conversations", _RES, "conversationId"),
    _R("GET", "/customers", "customers", _QUERY),
    _R("GET", "/customers/{waId}", "customers", _QUERY),
    _R("PUT", "/customers/{waId}/tags", "customers", _QUERY),
    _R("PUT", "/customers/{waId}/opt-in", "customers", _QUERY),
    _R("GET", "/flows", "flows", _QUERY),
    _R("POST", "/flows", "flows", _BODY),
    _R("GET", "/flows/{flowId}", "flows", _RES, "flowId"),
    _R("PUT", "/flows/{flowId}", "flows", _RES, "flowId"),
    _R("DELETE", "/flows/{flowId}", "flows", _RES, "flowId"),
    _R("POST", "/flows/{flowId}/activate", "flows", _RES, "flowId"),
    _R("POST", "/flows/{flowId}/deactivate", "flows", _RES, "flowId"),
    _R("GET", "/ai-agents", "ai_agents", _QUERY),
    _R("POST", "/ai-agents", "ai_agents", _BODY, max_body_bytes=MAX_KNOWLEDGE_BODY_BYTES),
    _R("GET", "/ai-agents/{agentId}", "ai_agents", _RES, "agentId"),
    _R("PUT", "/ai-agents/{agentId}", "ai_agents", _RES, "agentId", MAX_KNOWLEDGE_BODY_BYTES),
    _R("DELETE", "/ai-agents/{agentId}", "ai_agents", _RES, "agentId"),
    _R("POST", "/ai-agents/{agentId}/activate", "ai_agents", _RES, "agentId"),
    _R("POST", "/ai-agents/{agentId}/deactivate", "ai_agents", _RES, "agentId"),
    _R("POST", "/ai-agents/{agentId}/test", "ai_agents", _RES, "agentId"),
    _R("GET", "/templates", "templates", _QUERY),
    _R("POST", "/templates/sync", "templates", _BODY),
    _R("GET", "/templates/{name}", "templates", _QUERY),
    _R("GET", "/campaigns", "campaigns", _QUERY),
    _R("POST", "/campaigns", "campaigns", _BODY),
    _R("GET", "/campaigns/{campaignId}", "campaigns", _RES, "campaignId"),
    _R("GET", "/campaigns/{campaignId}/recipients", "campaigns", _RES, "campaignId"),
    _R("PUT", "/campaigns/{campaignId}", "campaigns", _RES, "campaignId"),
    _R("DELETE", "/campaigns/{campaignId}", "campaigns", _RES, "campaignId"),
    _R("POST", "/campaigns/{campaignId}/launch", "campaigns", _RES, "campaignId"),
    _R("POST", "/campaigns/{campaignId}/pause", "campaigns", _RES, "campaignId"),
    _R("POST", "/campaigns/{campaignId}/resume", "campaigns", _RES, "campaignId"),
    _R("POST", "/campaigns/{campaignId}/cancel", "campaigns", _RES, "campaignId"),
    _R("POST", "/campaigns/{campaignId}/dry-run", "campaigns", _RES, "campaignId"),
    _R("GET", "/analytics/messages", "analytics", _QUERY),
    _R("GET", "/analytics/conversations", "analytics", _QUERY),
    _R("GET", "/analytics/automations", "analytics", _QUERY),
    _R("GET", "/analytics/ai", "analytics", _QUERY),
)

# The catch-all route (API Gateway's `ANY /{proxy+}`), served by the system function: 404 or 405.
CATCH_ALL_PATH = "/{proxy+}"


# What a path parameter names, as its "not found" answer says it (the domain's own codes).
_MISSING = {
    "shopId": ("No WhatsApp account is connected for this shop", "ACCOUNT_NOT_FOUND"),
    "conversationId": ("Conversation not found", "CONVERSATION_NOT_FOUND"),
    "waId": ("Customer not found", "CUSTOMER_NOT_FOUND"),
    "flowId": ("Flow not found", "FLOW_NOT_FOUND"),
    "agentId": ("AI agent not found", "AGENT_NOT_FOUND"),
    "name": ("Template not found", "TEMPLATE_NOT_FOUND"),
    "campaignId": ("Campaign not found", "CAMPAIGN_NOT_FOUND"),
}


def missing_resource(route: Route) -> tuple[str, str, str]:
    """``(message, code, field)`` for a resource of ``route``'s path that cannot exist: a path parameter
    holding characters no id has (an emoji, a NUL), which API Gateway routes but the function's resolver
    does not match."""
    names = re.findall(r"\{([^}]+)\}", route.path)
    name = names[-1] if names else "path"
    message, code = _MISSING.get(name, ("Resource not found", "NOT_FOUND"))
    return message, code, name


def head_routes() -> tuple[Route, ...]:
    """``HEAD`` wherever ``GET`` is served (RFC 9110 §9.3.2): the same function answers it as the ``GET``,
    headers and status alike, without the body (http.resolver.entrypoint). template.yaml declares them
    because an HTTP API routes a ``HEAD`` only to a ``HEAD`` (or ``ANY``) route; they are no operations of
    their own, so they are not in :data:`ROUTES`."""
    return tuple(
        Route("HEAD", route.path, route.function, route.shop_source, route.shop_key)
        for route in ROUTES
        if route.method == "GET"
    )


@cache
def _by_key() -> dict[str, Route]:
    return {route.route_key: route for route in ROUTES}


def route_for_key(route_key: str) -> Route | None:
    """The route API Gateway matched, from the event's ``routeKey`` (``"GET /api/v1/whatsapp/..."``)."""
    return _by_key().get(route_key)


@cache
def _patterns() -> tuple[tuple[re.Pattern[str], Route], ...]:
    def compile_path(path: str) -> re.Pattern[str]:
        return re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(path)) + "/?$")

    return tuple((compile_path(route.full_path), route) for route in ROUTES)


def _literal_segments(route: Route) -> int:
    return sum(1 for segment in route.path.split("/") if segment and not segment.startswith("{"))


def _resource_routes(path: str) -> list[Route]:
    """The routes of the resource a concrete path names. A path two templates match names the more concrete
    one, as OpenAPI matches paths ("concrete paths before their templated counterparts"):
    ``/templates/sync`` is the sync's path, not the template named ``sync`` (``/templates/{name}``)."""
    matching = [route for pattern, route in _patterns() if pattern.match(path)]
    if not matching:
        return []
    most = max(_literal_segments(route) for route in matching)
    return [route for route in matching if _literal_segments(route) == most]


def methods_allowed_for(path: str) -> list[str]:
    """Methods that the resource at this concrete path serves (``HEAD`` with ``GET``); empty when unknown."""
    methods = {route.method for route in _resource_routes(path)}
    return sorted(methods | {"HEAD"} if "GET" in methods else methods)


def shadowed(route: Route, path: str) -> bool:
    """Whether a request API Gateway matched to ``route`` names another, more concrete resource at this
    concrete ``path`` (``GET /templates/sync`` matches ``GET /templates/{name}``): then the method is not
    allowed there (405), as the OpenAPI document says."""
    return route not in _resource_routes(path) and bool(_resource_routes(path))


def route_for_request(method: str, path: str) -> Route | None:
    """The route serving ``method`` at a concrete ``path`` (for events that carry no ``routeKey``)."""
    for route in _resource_routes(path):
        if route.method == method.upper():
            return route
    return None
