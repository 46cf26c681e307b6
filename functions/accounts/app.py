"""Accounts: connect, read and disconnect a shop's WhatsApp Business number."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.accounts import connection
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import log_metrics, logger, record_metric
from mkt_whatsapp.models.accounts import ConnectAccountRequest

app = http.create_resolver()


@app.post("/accounts")
def connect_account() -> Response[str]:
    account = connection.connect(http.parse_body(app, ConnectAccountRequest))
    record_metric(metric_names.ACCOUNTS_CONNECTED)
    return http.ok(account.to_wire(), status=201)


@app.get("/accounts/<shopId>")
def get_account(shopId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    return http.ok(connection.get(shopId).to_wire())


@app.delete("/accounts/<shopId>")
def disconnect_account(shopId: str) -> Response[str]:  # noqa: N803
    connection.disconnect(shopId)
    return http.ok({"message": "Account disconnected successfully"})


lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
