"""Accounts: the connect request, the stored record and the API's view of it."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BeforeValidator, Field, SecretStr
from pydantic_core import PydanticCustomError

from mkt_whatsapp.models import EXAMPLE_SHOP_ID, ApiModel, WireModel

ShopId = Annotated[
    str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", examples=[EXAMPLE_SHOP_ID])
]
PhoneNumberId = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[0-9]+$", examples=["123456789"])]
# The WhatsApp Business Account (WABA) the number belongs to: Meta's numeric id, what template webhooks name
# (``entry[].id``) and what ``GET /{waba-id}/message_templates`` reads.
WABA_ID_PATTERN = r"^[0-9]{1,32}$"
WabaId = Annotated[str, Field(min_length=1, max_length=32, pattern=WABA_ID_PATTERN, examples=["102290129340398"])]
# action_required: Meta refused a send for an account-level reason (an expired or revoked token, a
# restricted account…): the shop's sends stop until it reconnects with POST /accounts.
AccountStatus = Literal["active", "action_required", "disconnected"]

# Meta's access tokens are visible ASCII; the token goes into the Graph API's Authorization header, where
# anything else cannot be sent (a non-ASCII token was a 500, a line break a 502 blaming Meta).
ACCESS_TOKEN_PATTERN = "^[!-~]+$"
_ACCESS_TOKEN = re.compile(ACCESS_TOKEN_PATTERN, re.ASCII)


def _visible_ascii(value: object) -> object:
    """``pattern`` cannot constrain a ``SecretStr``: this checks it (an empty token is left to ``min_length``)."""
    if isinstance(value, str) and value and not _ACCESS_TOKEN.fullmatch(value):
        raise PydanticCustomError(
            "string_pattern_mismatch", "String should match pattern '{pattern}'", {"pattern": ACCESS_TOKEN_PATTERN}
        )
    return value


AccessToken = Annotated[
    SecretStr,
    Field(min_length=1, max_length=4096, examples=["EAAxxxxx"], json_schema_extra={"pattern": ACCESS_TOKEN_PATTERN}),
    BeforeValidator(_visible_ascii),
]


class ConnectAccountRequest(WireModel):
    shop_id: ShopId
    phone_number_id: PhoneNumberId
    access_token: AccessToken
    webhook_url: Annotated[str | None, Field(max_length=2048, pattern=r"^https://[^\s/$.?#][^\s]*$")] = None
    # Optional: without it, the first webhook for the number tells it (``entry[].id``).
    waba_id: WabaId | None = None


class AccountError(ApiModel):
    """Meta's account-level refusal that stopped the shop's sends."""

    code: int | str
    title: str
    at: datetime


class ConnectedAccount(ApiModel):
    """``POST /accounts`` answer: what every view of an account shows."""

    account_id: str
    shop_id: str
    phone_number_id: str
    status: AccountStatus
    message_tier: str
    daily_limit: int | None
    display_phone_number: str | None = None
    verified_name: str | None = None
    # Null until the shop gives it (``POST /accounts``) or a webhook for the number names it.
    waba_id: str | None = None
    connected_at: datetime


class AccountRecord(ConnectedAccount):
    """The stored account. ``encrypted_access_token`` is the KMS ciphertext; it never leaves the store
    except to be decrypted for a Graph API call."""

    meta_messaging_limit: str | None = None
    quality_rating: str | None = None
    webhook_url: str | None = None
    disconnected_at: datetime | None = None
    last_error: AccountError | None = None
    encrypted_access_token: bytes | None = Field(default=None, repr=False)


class AccountView(ConnectedAccount):
    """``GET /accounts/{shopId}`` answer."""

    webhook_url: str | None
    quality_rating: str | None
    messages_used_today: int
    disconnected_at: datetime | None
    last_error: AccountError | None = None


class DisconnectedAccount(ApiModel):
    """``DELETE /accounts/{shopId}`` answer."""

    message: Literal["Account disconnected successfully"]
