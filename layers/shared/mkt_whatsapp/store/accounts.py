"""Accounts and phone number claims."""

from __future__ import annotations

from datetime import datetime, timedelta

from mkt_whatsapp.models.accounts import AccountRecord
from mkt_whatsapp.store import business_accounts, keys, phone_numbers
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write


class AccountAlreadyConnected(ConditionFailed):
    """The shop has an active account already."""


class PhoneNumberClaimed(ConditionFailed):
    """Another shop has claimed this phone number."""


class NoConnectedAccount(ConditionFailed):
    """The account is not the connected one any more (disconnected or reconnected meanwhile)."""


class AlreadyCounted(ConditionFailed):
    """The customer's business-initiated 24 hours are still running: they count once in them."""


class LimitReached(ConditionFailed):
    """The messaging limit's unique customers in the moving 24 hours are reached (another send counted the
    last one meanwhile)."""


class WabaIdKnown(ConditionFailed):
    """The account has its WhatsApp Business Account id already (or is not the connected one any more)."""


def _to_record(item: Item) -> AccountRecord:
    data = {k: v for k, v in item.items() if k not in ("PK", "SK", "entity")}
    return AccountRecord.model_validate(data)


def _to_item(record: AccountRecord) -> Item:
    item: Item = record.model_dump(by_alias=True, exclude_none=True)
    item["connectedAt"] = record.connected_at.isoformat()
    if record.disconnected_at:
        item["disconnectedAt"] = record.disconnected_at.isoformat()
    item.update(PK=keys.shop_pk(record.shop_id), SK=keys.ACCOUNT_SK, entity="account")
    return item


def get_account_and_usage(table: Table, shop_id: str, now: datetime) -> tuple[AccountRecord | None, int]:
    """The shop's account and the business-initiated conversations started in the moving 24 hours
    before ``now`` (the current hourly usage bucket and the 23 before it), in one Query."""
    account, used, _this_hour = account_and_usage_by_hour(table, shop_id, now)
    return account, used


def account_and_usage_by_hour(table: Table, shop_id: str, now: datetime) -> tuple[AccountRecord | None, int, int]:
    """:func:`get_account_and_usage`, and how much of the usage is ``now``'s hour's (its bucket is the one a
    new conversation adds to)."""
    since_hour = (now - timedelta(hours=23)).strftime("%Y-%m-%dT%H")
    this_hour = now.strftime("%Y-%m-%dT%H")
    account: AccountRecord | None = None
    used = current = 0
    for item in table.query_prefix(keys.shop_pk(shop_id), keys.ACCOUNT_SK):
        if item["SK"] == keys.ACCOUNT_SK:
            account = _to_record(item)
        elif item["SK"].startswith(keys.USAGE_PREFIX) and item["SK"].removeprefix(keys.USAGE_PREFIX) >= since_hour:
            used += int(item.get("count", 0))
            if item["SK"].removeprefix(keys.USAGE_PREFIX) == this_hour:
                current += int(item.get("count", 0))
    return account, used, current


def business_initiated_ops(
    table: Table,
    shop_id: str,
    customer_key: str,
    at: str,
    day_ago: str,
    expires_at: int,
    *,
    ceiling: int | None = None,
) -> list[Write]:
    """Count a customer once per rolling 24 hours: start their period (only if none is running) and add
    one to this hour's usage bucket — while the bucket holds fewer than ``ceiling`` (the limit less the 23
    hours before: concurrent sends cannot pass the limit together; None: no limit). Fails with
    :class:`AlreadyCounted` if the customer's period is still running, :class:`LimitReached` if the bucket
    is full."""
    names = {"#count": "count"}
    values: dict[str, object] = {":one": 1, ":expires": expires_at}
    condition = None
    if ceiling is not None:
        condition = "attribute_not_exists(#count) OR #count < :ceiling"
        values[":ceiling"] = ceiling
    return [
        table.update_op(
            keys.shop_pk(shop_id),
            keys.business_initiated_sk(customer_key),
            "SET startedAt = :at",
            {":at": at, ":day_ago": day_ago},
            condition="attribute_not_exists(startedAt) OR startedAt <= :day_ago",
            fails_with=AlreadyCounted,
        ),
        table.update_op(
            keys.shop_pk(shop_id),
            keys.account_usage_sk(at[:13]),
            "ADD #count :one SET expiresAt = :expires",
            values,
            names=names,
            condition=condition,
            fails_with=LimitReached,
        ),
    ]


def business_period_started(table: Table, shop_id: str, customer_key: str) -> str | None:
    item = table.get(keys.shop_pk(shop_id), keys.business_initiated_sk(customer_key))
    return str(item["startedAt"]) if item else None


def get_account(table: Table, shop_id: str) -> AccountRecord | None:
    item = table.get(keys.shop_pk(shop_id), keys.ACCOUNT_SK)
    return _to_record(item) if item else None


def connect(table: Table, record: AccountRecord, previous: AccountRecord | None = None) -> None:
    """Store the account and claim its phone number atomically. A shop whose account is connected, or a
    number another shop has claimed, cancels the whole write. A shop reconnecting an account that needs
    action keeps its claim, or hands it back if it connects another number. The shop's pointer from its
    WhatsApp Business Account (template webhooks) is put with it, and the previous one's dropped."""
    operations = [
        table.put_op(
            _to_item(record),
            condition="attribute_not_exists(PK) OR #status IN (:disconnected, :action_required)",
            values={":disconnected": "disconnected", ":action_required": "action_required"},
            names={"#status": "status"},
            fails_with=AccountAlreadyConnected,
        ),
        table.put_op(
            phone_numbers.claim_item(record.phone_number_id, record.shop_id, record.account_id, record.waba_id),
            condition="attribute_not_exists(PK) OR shopId = :shop",
            values={":shop": record.shop_id},
            fails_with=PhoneNumberClaimed,
        ),
    ]
    if (
        previous is not None
        and previous.status != "disconnected"
        and previous.phone_number_id != record.phone_number_id
    ):
        operations.append(
            table.delete_op(
                keys.phone_pk(previous.phone_number_id),
                keys.PHONE_SK,
                condition="attribute_not_exists(PK) OR shopId = :shop",
                values={":shop": record.shop_id},
            )
        )
    previous_waba = previous.waba_id if previous is not None and previous.status != "disconnected" else None
    if previous_waba and previous_waba != record.waba_id:
        operations.append(business_accounts.delete_pointer_op(table, previous_waba, record.shop_id))
    if record.waba_id:
        operations.append(business_accounts.put_pointer_op(table, record.waba_id, record.shop_id, record.account_id))
    table.transact_write(operations)


def disconnect(table: Table, account: AccountRecord, at: datetime) -> None:
    """Mark the account disconnected, forget its token and release its phone number, atomically; its
    WhatsApp Business Account no longer points to the shop. Conversations, customers and templates are
    untouched."""
    pointer = [business_accounts.delete_pointer_op(table, account.waba_id, account.shop_id)] if account.waba_id else []
    table.transact_write(
        [
            table.update_op(
                keys.shop_pk(account.shop_id),
                keys.ACCOUNT_SK,
                "SET #status = :disconnected, disconnectedAt = :at REMOVE encryptedAccessToken",
                {
                    ":disconnected": "disconnected",
                    ":at": at.isoformat(),
                    ":account": account.account_id,
                    ":active": "active",
                    ":action_required": "action_required",
                },
                condition="accountId = :account AND #status IN (:active, :action_required)",
                names={"#status": "status"},
                fails_with=NoConnectedAccount,
            ),
            table.delete_op(
                keys.phone_pk(account.phone_number_id),
                keys.PHONE_SK,
                condition="attribute_not_exists(PK) OR shopId = :shop",
                values={":shop": account.shop_id},
                fails_with=NoConnectedAccount,
            ),
            *pointer,
        ]
    )


def learn_waba_id(table: Table, shop_id: str, account_id: str, phone_number_id: str, waba_id: str) -> None:
    """A webhook for the number named its WhatsApp Business Account: keep it on the account (which had
    none) and on the number's claim, and point the WABA to the shop, in one transaction. Raises
    :class:`WabaIdKnown` when the account has one already or is not the connected one any more (a
    concurrent webhook learnt it first, a reconnect): nothing is written then."""
    table.transact_write(
        [
            table.update_op(
                keys.shop_pk(shop_id),
                keys.ACCOUNT_SK,
                "SET wabaId = :waba",
                {":waba": waba_id, ":account": account_id, ":disconnected": "disconnected"},
                condition="accountId = :account AND attribute_not_exists(wabaId) AND #status <> :disconnected",
                names={"#status": "status"},
                fails_with=WabaIdKnown,
            ),
            table.update_op(
                keys.phone_pk(phone_number_id),
                keys.PHONE_SK,
                "SET wabaId = :waba",
                {":waba": waba_id, ":account": account_id},
                condition="accountId = :account",
                fails_with=WabaIdKnown,
            ),
            business_accounts.put_pointer_op(table, waba_id, shop_id, account_id),
        ]
    )


def flag_action_required(table: Table, account: AccountRecord, error: dict[str, object], at: datetime) -> bool:
    """Stop the shop's sends after Meta refused one for an account-level reason, keeping Meta's error.
    Only the connection that failed is flagged: a shop that has reconnected meanwhile is left alone.
    Returns whether the account was flagged (False: already flagged, reconnected or disconnected)."""
    flagged = table.update_if(
        keys.shop_pk(account.shop_id),
        keys.ACCOUNT_SK,
        "SET #status = :action_required, lastError = :error",
        {
            ":action_required": "action_required",
            ":error": {**error, "at": at.isoformat()},
            ":account": account.account_id,
            ":active": "active",
        },
        names={"#status": "status"},
        condition="accountId = :account AND #status = :active",
    )
    return flagged is not None
