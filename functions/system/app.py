"""System: the health check and API Gateway's catch-all route (unknown paths 404, wrong methods 405)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.core.observability import logger, metrics
from mkt_whatsapp.system import health

app = http.create_resolver()


@app.get("/health")
def get_health() -> Response[str]:
    return http.ok(health.check())


lambda_handler = logger.inject_lambda_context(metrics.log_metrics(http.entrypoint(app)))
