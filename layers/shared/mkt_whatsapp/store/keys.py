"""Key builders for every entity of the single table (see the package docstring for the map)."""

from __future__ import annotations


def shop_pk(shop_id: str) -> str:
    return f"SHOP#{shop_id}"


ACCOUNT_SK = "ACCOUNT"


def account_usage_sk(day: str) -> str:
    return f"{ACCOUNT_SK}#USAGE#{day}"


def phone_pk(phone_number_id: str) -> str:
    return f"PHONE#{phone_number_id}"


PHONE_SK = "PHONE"


def rate_window_pk(shop_id: str, bucket: str) -> str:
    return f"RATE#{shop_id}#{bucket}"
