"""Message templates: the shop's catalogue of Meta's templates (list, one by name and language) and its sync
from Meta (docs/campaigns.md, "Message templates"). Meta's template webhooks keep it in step between syncs
(the inbound processor, inbound/template_events.py)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.core.observability import log_metrics, logger
from mkt_whatsapp.models.templates import ListTemplatesQuery, SyncTemplatesRequest, TemplateQuery
from mkt_whatsapp.templates import catalogue

app = http.create_resolver()


@app.get("/templates")
def list_templates() -> Response[str]:
    query = http.parse_query(app, ListTemplatesQuery)
    page = catalogue.list_templates(
        query.shop_id, status=query.status, category=query.category, skip=query.skip, take=query.take
    )
    return http.ok(page.to_wire(), pagination=http.page_of(query, page.total_count))


@app.post("/templates/sync")
def sync_templates() -> Response[str]:
    request = http.parse_body(app, SyncTemplatesRequest)
    return http.ok(catalogue.sync(request.shop_id, deadline=http.deadline()).to_wire())


@app.get("/templates/<name>")
def get_template(name: str) -> Response[str]:
    query = http.parse_query(app, TemplateQuery)
    return http.ok(catalogue.get_template(query.shop_id, name, query.language).to_wire())


lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
