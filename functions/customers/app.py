"""Customers: the shop's list (search, tag filters), one customer's profile, tags and consent."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import api, customers
from mkt_whatsapp.models.customers import OptInRequest, UpdateTagsRequest
from mkt_whatsapp.observability import logger, metrics
from mkt_whatsapp.pagination import PageRequest

app = api.create_resolver()


@app.get("/customers")
def list_customers() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    page = PageRequest.parse(query.get("skip"), query.get("take"))
    data, pagination = customers.list_customers(
        api.required_query(query, "shopId"), query.get("search"), query.get("tags"), page
    )
    return api.ok(data, pagination=pagination)


@app.get("/customers/<waId>")
def get_customer(waId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    query = app.current_event.query_string_parameters or {}
    return api.ok(customers.profile(api.required_query(query, "shopId"), waId).to_wire())


@app.put("/customers/<waId>/tags")
def update_tags(waId: str) -> Response[str]:  # noqa: N803
    query = app.current_event.query_string_parameters or {}
    request = api.parse_body(app, UpdateTagsRequest)
    return api.ok(customers.update_tags(api.required_query(query, "shopId"), waId, request))


@app.put("/customers/<waId>/opt-in")
def update_consent(waId: str) -> Response[str]:  # noqa: N803
    query = app.current_event.query_string_parameters or {}
    request = api.parse_body(app, OptInRequest)
    return api.ok(customers.update_consent(api.required_query(query, "shopId"), waId, request))


api.register_pending_routes(app, "customers")

lambda_handler = logger.inject_lambda_context(metrics.log_metrics(api.entrypoint(app)))
