"""Accounts: connect, read and disconnect a shop's WhatsApp Business number."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from mkt_whatsapp import accounts, api
from mkt_whatsapp.models.accounts import ConnectAccountRequest, ShopId
from mkt_whatsapp.observability import logger, metrics

app = api.create_resolver()


@app.post("/accounts")
def connect_account(request: ConnectAccountRequest) -> Response[str]:
    account = accounts.connect(request)
    metrics.add_metric(name="AccountsConnected", unit="Count", value=1)
    return api.ok(account.to_wire(), status=201)


@app.get("/accounts/<shopId>")
def get_account(shop_id: Annotated[ShopId, Path(alias="shopId")]) -> Response[str]:
    return api.ok(accounts.get(shop_id).to_wire())


@app.delete("/accounts/<shopId>")
def disconnect_account(shop_id: Annotated[ShopId, Path(alias="shopId")]) -> Response[str]:
    accounts.disconnect(shop_id)
    return api.ok({"message": "Account disconnected successfully"})


lambda_handler = logger.inject_lambda_context(metrics.log_metrics(api.entrypoint(app)))
