"""Customers: the shop's list (search, tag filters), one customer's profile, tags and consent."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.core.observability import log_metrics, logger
from mkt_whatsapp.customers import actions, reading
from mkt_whatsapp.models import ShopQuery
from mkt_whatsapp.models.customers import ListCustomersQuery, OptInRequest, UpdateTagsRequest

app = http.create_resolver()


@app.get("/customers")
def list_customers() -> Response[str]:
    query = http.parse_query(app, ListCustomersQuery)
    data, total = reading.list_customers(query.shop_id, query.search, query.tags, skip=query.skip, take=query.take)
    return http.ok(data, pagination=http.page_of(query, total))


@app.get("/customers/<waId>")
def get_customer(waId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    shop_id = http.parse_query(app, ShopQuery).shop_id
    return http.ok(reading.profile(shop_id, waId).to_wire())


@app.put("/customers/<waId>/tags")
def update_tags(waId: str) -> Response[str]:  # noqa: N803
    shop_id = http.parse_query(app, ShopQuery).shop_id
    request = http.parse_body(app, UpdateTagsRequest)
    return http.ok(actions.update_tags(shop_id, waId, request.add_tags, request.remove_tags, actor=http.actor()))


@app.put("/customers/<waId>/opt-in")
def update_consent(waId: str) -> Response[str]:  # noqa: N803
    shop_id = http.parse_query(app, ShopQuery).shop_id
    request = http.parse_body(app, OptInRequest)
    return http.ok(actions.update_consent(shop_id, waId, request.status, request.source, actor=http.actor()))


lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
