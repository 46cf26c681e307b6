"""WhatsApp Business Account (WABA) pointers: which shops send with numbers of a WABA.

Meta's template webhooks (``message_template_status_update`` and the like) name no phone number, only the
WABA (``entry[].id``): this is how one finds the shops whose templates they change. One item per shop in
the WABA's partition (``WABA#<id>`` / ``SHOP#<shopId>``), read with one Query: a WABA may hold the numbers
of several shops (an agency connecting its clients' numbers), and its templates are every one of them's.

Written with the account: connect puts it when the shop gives its ``wabaId``, the first webhook for the
number puts it when the shop did not (store/accounts.learn_waba_id), disconnect deletes it. Kept apart from
the account records so the webhook path does not load the account models.
"""

from __future__ import annotations

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import Item, Table, Write


def pointer_item(waba_id: str, shop_id: str, account_id: str) -> Item:
    return {
        "PK": keys.waba_pk(waba_id),
        "SK": keys.waba_shop_sk(shop_id),
        "entity": "wabaShop",
        "wabaId": waba_id,
        "shopId": shop_id,
        "accountId": account_id,
    }


def put_pointer_op(table: Table, waba_id: str, shop_id: str, account_id: str) -> Write:
    return table.put_op(pointer_item(waba_id, shop_id, account_id))


def delete_pointer_op(table: Table, waba_id: str, shop_id: str) -> Write:
    return table.delete_op(keys.waba_pk(waba_id), keys.waba_shop_sk(shop_id))


def shops_of(table: Table, waba_id: str) -> list[str]:
    """The shops that send with numbers of ``waba_id`` (one Query; usually one shop)."""
    items = table.query_prefix(keys.waba_pk(waba_id), keys.WABA_SHOP_PREFIX)
    return sorted(str(item["shopId"]) for item in items)
