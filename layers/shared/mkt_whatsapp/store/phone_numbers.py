"""Phone number claims: which shop owns a WhatsApp phone number id. Webhooks find the shop with one
GetItem; connecting an account claims the number in the same transaction (one number, one shop). The claim
also says whether the account's WhatsApp Business Account id is known (``wabaId``), so a webhook learns a
missing one without reading the account (store/accounts.learn_waba_id).

Kept apart from the account records so the webhook receiver does not load the account models."""

from __future__ import annotations

from dataclasses import dataclass

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import Item, Table


@dataclass(frozen=True, slots=True)
class PhoneClaim:
    phone_number_id: str
    shop_id: str
    account_id: str
    waba_id: str | None = None


def claim_item(phone_number_id: str, shop_id: str, account_id: str, waba_id: str | None = None) -> Item:
    item = {
        "PK": keys.phone_pk(phone_number_id),
        "SK": keys.PHONE_SK,
        "entity": "phoneClaim",
        "phoneNumberId": phone_number_id,
        "shopId": shop_id,
        "accountId": account_id,
    }
    if waba_id:
        item["wabaId"] = waba_id
    return item


def phone_claim(table: Table, phone_number_id: str) -> PhoneClaim | None:
    """Which shop owns a phone number id (one GetItem)."""
    item = table.get(keys.phone_pk(phone_number_id), keys.PHONE_SK)
    if not item:
        return None
    return PhoneClaim(
        phone_number_id=phone_number_id,
        shop_id=str(item["shopId"]),
        account_id=str(item["accountId"]),
        waba_id=str(item["wabaId"]) if item.get("wabaId") else None,
    )
