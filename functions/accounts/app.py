"""Accounts: connect, read and disconnect a shop's WhatsApp Business number."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import accounts, api
from mkt_whatsapp.models.accounts import ConnectAccountRequest
from mkt_whatsapp.observability import logger, metrics

app = api.create_resolver()


@app.post("/accounts")
def connect_account() -> Response[str]:
    account = accounts.connect(api.parse_body(app, ConnectAccountRequest))
    metrics.add_metric(name="AccountsConnected", unit="Count", value=1)
    return api.ok(account.to_wire(), status=201)


@app.get("/accounts/<shopId>")
def get_account(shopId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    return api.ok(accounts.get(shopId).to_wire())


@app.delete("/accounts/<shopId>")
def disconnect_account(shopId: str) -> Response[str]:  # noqa: N803
    accounts.disconnect(shopId)
    return api.ok({"message": "Account disconnected successfully"})


lambda_handler = logger.inject_lambda_context(metrics.log_metrics(api.entrypoint(app)))
