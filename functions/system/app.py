"""System: the health check and API Gateway's catch-all route (unknown paths 404, wrong methods 405)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import api, health
from mkt_whatsapp.observability import logger, metrics

app = api.create_resolver()


@app.get("/health")
def get_health() -> Response[str]:
    return api.ok(health.check())


lambda_handler = logger.inject_lambda_context(metrics.log_metrics(api.entrypoint(app)))
