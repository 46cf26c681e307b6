"""Webhooks: Meta's verification handshake and signed event deliveries (no JWT: Meta signs instead)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp import http
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import log_metrics, logger, record_metric
from mkt_whatsapp.inbound import receiver

app = http.create_resolver()


@app.get("/webhooks")
def verify_subscription() -> Response[str]:
    # Its model loads pydantic: only with the (rare) handshake, never with a delivery's cold start.
    from mkt_whatsapp.models.webhooks import SubscriptionQuery

    query = http.parse_query(app, SubscriptionQuery)
    challenge = receiver.verify_subscription(query.mode, query.verify_token, query.challenge)
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body=challenge)


@app.post("/webhooks")
def receive_delivery() -> Response[str]:
    body = receiver.raw_body(app.current_event.raw_event)
    receiver.authenticate_delivery(body, app.current_event.headers.get("x-hub-signature-256"))
    receiver.receive(body)
    record_metric(metric_names.WEBHOOK_DELIVERIES)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=http.dumps({"success": True}))


_resolve = http.entrypoint(app)


def _answer(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """The request answered, and how long that took from its receipt (WebhookLatency, ms): Meta gives up
    on a delivery not answered within a few seconds and retries it."""
    started = time.perf_counter()
    try:
        return _resolve(event, context)
    finally:
        record_metric(metric_names.WEBHOOK_LATENCY, (time.perf_counter() - started) * 1000)


lambda_handler = logger.inject_lambda_context(log_metrics(_answer))
