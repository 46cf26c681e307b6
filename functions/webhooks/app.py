"""Webhooks: Meta's verification handshake and signed event deliveries (no JWT: Meta signs instead)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response, content_types

from mkt_whatsapp import api, webhooks
from mkt_whatsapp.observability import logger, metrics

app = api.create_resolver()


@app.get("/webhooks")
def verify_subscription() -> Response[str]:
    challenge = webhooks.verify_subscription(app.current_event.query_string_parameters or {})
    return Response(status_code=200, content_type=content_types.TEXT_PLAIN, body=challenge)


@app.post("/webhooks")
def receive_delivery() -> Response[str]:
    body = webhooks.raw_body(app.current_event.raw_event)
    webhooks.authenticate_delivery(body, app.current_event.headers.get("x-hub-signature-256"))
    webhooks.receive(body)
    metrics.add_metric(name="WebhookDeliveries", unit="Count", value=1)
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=api.dumps({"success": True}))


lambda_handler = logger.inject_lambda_context(metrics.log_metrics(api.entrypoint(app)))
