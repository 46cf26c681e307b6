"""The HTTP layer: the only package that knows a request exists. A handler builds its resolver here,
reads and validates its input here (body, query, the caller, the deadline), authorises the shop here and
then calls a domain function with plain arguments.

Map: ``routes`` (every route, its function, where it names its shop) → ``guard`` (JWT, shop, rate limit,
the request in progress) → ``resolver`` (entry point, one error mapping) → ``validation`` (pydantic
bodies and queries) → ``envelope`` and ``pagination`` (the answer)."""

from mkt_whatsapp.http.envelope import dumps, ok
from mkt_whatsapp.http.guard import actor, authorise_resource_shop, authorised_resource, deadline
from mkt_whatsapp.http.pagination import page_of
from mkt_whatsapp.http.resolver import create_resolver, entrypoint, register_pending_routes
from mkt_whatsapp.http.validation import parse_body, parse_query

__all__ = [
    "actor",
    "authorise_resource_shop",
    "authorised_resource",
    "create_resolver",
    "deadline",
    "dumps",
    "entrypoint",
    "ok",
    "page_of",
    "parse_body",
    "parse_query",
    "register_pending_routes",
]
