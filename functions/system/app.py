"""System: the health check, the API's OpenAPI document and API Gateway's catch-all route (unknown paths 404,
wrong methods 405)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types

from mkt_whatsapp import http
from mkt_whatsapp.core.observability import log_metrics, logger
from mkt_whatsapp.system import health

app = http.create_resolver()


@app.get("/health")
def get_health() -> Response[str]:
    return http.ok(health.check())


@app.get("/openapi.json")
def get_openapi_document() -> Response[str]:
    # Building the document loads pydantic and every model: on the container's first request for it (then
    # cached), never with the cold start of a health check or a 404.
    from mkt_whatsapp.http.openapi import document_text

    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=document_text())


lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
