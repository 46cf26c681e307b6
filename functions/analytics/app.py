"""analytics: routes declared and guarded (JWT, shop, rate limit); their features land in later issues."""

from __future__ import annotations

from mkt_whatsapp import http
from mkt_whatsapp.core.observability import logger, metrics

app = http.create_resolver()
http.register_pending_routes(app, "analytics")

lambda_handler = logger.inject_lambda_context(metrics.log_metrics(http.entrypoint(app)))
