"""Connecting, reading and disconnecting a shop's WhatsApp Business account.

An account whose sends Meta refused for an account-level reason (``action_required``: an expired or
revoked token, a restricted account) shows Meta's error as ``lastError``; the shop reconnects it with
``POST /accounts`` (a new token, the same or another number) or disconnects it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from aws_lambda_powertools import Logger

from mkt_whatsapp.core import token_vault
from mkt_whatsapp.core.errors import BusinessRuleViolation, Conflict, NotFound, UpstreamError
from mkt_whatsapp.models.accounts import AccountRecord, AccountView, ConnectAccountRequest, ConnectedAccount
from mkt_whatsapp.store import accounts as account_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.whatsapp import graph
from mkt_whatsapp.whatsapp.tiers import tier_for

logger = Logger(child=True)

# Meta error codes that mean "this token cannot be used" vs "this number does not exist for you".
_TOKEN_ERRORS = {190, 102, 10, 200}
_NUMBER_ERRORS = {100, 803}


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _graph_rejection(error: graph.GraphApiError) -> BusinessRuleViolation:
    if error.code in _TOKEN_ERRORS:
        code, field = "INVALID_ACCESS_TOKEN", "accessToken"
    elif error.code in _NUMBER_ERRORS:
        code, field = "PHONE_NUMBER_NOT_FOUND", "phoneNumberId"
    else:
        code, field = "GRAPH_API_ERROR", None
    return BusinessRuleViolation(
        f"WhatsApp rejected the account: {error.message} (Meta code {error.code})", code=code, field=field
    )


def connect(request: ConnectAccountRequest) -> ConnectedAccount:
    table = get_table()
    existing = account_store.get_account(table, request.shop_id)
    if existing is not None and existing.status == "active":
        raise Conflict(
            "This shop already has a connected WhatsApp account", code="ACCOUNT_ALREADY_CONNECTED", field="shopId"
        )

    token = request.access_token.get_secret_value()
    try:
        number = graph.get_phone_number(request.phone_number_id, token)
    except graph.GraphApiError as error:
        logger.info("graph rejected account", extra={"metaCode": error.code, "shopId": request.shop_id})
        raise _graph_rejection(error) from error
    except graph.GraphUnavailable as error:
        raise UpstreamError("WhatsApp Graph API is unavailable; try again", code="GRAPH_API_UNAVAILABLE") from error

    tier = tier_for(number.messaging_limit)
    # The number's WhatsApp Business Account: as given, else as known for the same number before (a
    # reconnect with a new token), else learnt from the number's first webhook (docs/campaigns.md).
    same_number = existing is not None and existing.phone_number_id == request.phone_number_id
    waba_id = request.waba_id or (existing.waba_id if same_number and existing is not None else None)
    record = AccountRecord(
        account_id=str(uuid.uuid4()),
        shop_id=request.shop_id,
        phone_number_id=request.phone_number_id,
        status="active",
        message_tier=tier.name,
        daily_limit=tier.daily_limit,
        meta_messaging_limit=number.messaging_limit,
        display_phone_number=number.display_phone_number,
        verified_name=number.verified_name,
        quality_rating=number.quality_rating,
        webhook_url=request.webhook_url,
        waba_id=waba_id,
        connected_at=_now(),
        encrypted_access_token=token_vault.encrypt_access_token(
            token, shop_id=request.shop_id, phone_number_id=request.phone_number_id
        ),
    )
    try:
        account_store.connect(table, record, previous=existing)
    except account_store.AccountAlreadyConnected as error:
        raise Conflict(
            "This shop already has a connected WhatsApp account", code="ACCOUNT_ALREADY_CONNECTED", field="shopId"
        ) from error
    except account_store.PhoneNumberClaimed as error:
        raise Conflict(
            "This phone number is connected to another shop", code="PHONE_NUMBER_IN_USE", field="phoneNumberId"
        ) from error
    logger.info("account connected", extra={"shopId": record.shop_id, "accountId": record.account_id})
    return ConnectedAccount.model_validate(record.model_dump())


def get(shop_id: str) -> AccountView:
    account, used_today = account_store.get_account_and_usage(get_table(), shop_id, _now())
    if account is None:
        raise NotFound("No WhatsApp account is connected for this shop", code="ACCOUNT_NOT_FOUND", field="shopId")
    return AccountView.model_validate({**account.model_dump(), "messages_used_today": used_today})


def disconnect(shop_id: str) -> None:
    table = get_table()
    account = account_store.get_account(table, shop_id)
    if account is None or account.status == "disconnected":
        raise NotFound("No connected WhatsApp account for this shop", code="ACCOUNT_NOT_FOUND", field="shopId")
    try:
        account_store.disconnect(table, account, _now())
    except account_store.NoConnectedAccount as error:
        raise NotFound(
            "No connected WhatsApp account for this shop", code="ACCOUNT_NOT_FOUND", field="shopId"
        ) from error
    logger.info("account disconnected", extra={"shopId": shop_id, "accountId": account.account_id})
