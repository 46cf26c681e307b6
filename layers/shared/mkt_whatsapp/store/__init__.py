"""The single DynamoDB table: the only package that knows key and index names.

Access patterns of the account and request plumbing (docs/data-model.md has every entity's):

| entity | PK | SK | GSI | used by |
|---|---|---|---|---|
| Account (one per shop) | ``SHOP#<shopId>`` | ``ACCOUNT`` | – | ``GET/DELETE /accounts/{shopId}``, connect (conditional put), send rules |
| Usage bucket | ``SHOP#<shopId>`` | ``ACCOUNT#USAGE#<yyyy-mm-ddTHH>`` | – | ``messagesUsedToday``: the last 24 hourly buckets, read with the account in one Query (``begins_with(SK, "ACCOUNT")``) |
| Phone number claim | ``PHONE#<phoneNumberId>`` | ``PHONE`` | – | webhooks find the shop in one GetItem; connect claims it (one number, one shop) |
| Rate-limit window | ``RATE#<shopId>#<bucket>`` | ``<epoch minute>`` | – | every authenticated request: one UpdateItem ADD; TTL removes old windows |
| Health probe | ``HEALTH`` | ``HEALTH`` | – | ``GET /health``: one eventually consistent GetItem of an absent item |

Keys are strings; ``expiresAt`` (epoch seconds) is the table's TTL attribute. GSI1 (``GSI1PK``/``GSI1SK``)
and GSI2 (``GSI2PK``/``GSI2SK``) are overloaded indexes reserved for the conversation and customer
listings; their patterns are documented in docs/data-model.md as they are used.
"""

from mkt_whatsapp.store.table import Item, Table, TransactionCancelled, get_table

__all__ = ["Item", "Table", "TransactionCancelled", "get_table"]
