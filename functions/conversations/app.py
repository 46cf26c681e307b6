"""conversations: routes declared and guarded (JWT, shop, rate limit); their features land in later issues."""

from __future__ import annotations

from mkt_whatsapp import api
from mkt_whatsapp.observability import logger, metrics

app = api.create_resolver()
api.register_pending_routes(app, "conversations")

lambda_handler = logger.inject_lambda_context(metrics.log_metrics(api.entrypoint(app)))
