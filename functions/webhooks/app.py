"""Webhooks: Meta's verification handshake and signed event deliveries (no JWT: Meta signs instead)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types

from mkt_whatsapp import http
from mkt_whatsapp.core.observability import logger, metrics
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
    metrics.add_metric(name="WebhookDeliveries", unit="Count", value=1)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=http.dumps({"success": True}))


lambda_handler = logger.inject_lambda_context(metrics.log_metrics(http.entrypoint(app)))
