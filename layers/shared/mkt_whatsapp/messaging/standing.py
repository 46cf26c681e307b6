"""May this account send? One rule, asked by a send in a request, by the sender before each queued send
and when it prepares a batch.

An account sends while it is ``active`` with a token. Meta's account-level refusal (190, 0, 131031, 368,
131042) makes it ``action_required``: the shop's sends stop, saying why, until it reconnects."""

from __future__ import annotations

from mkt_whatsapp.models.accounts import AccountRecord

ACCOUNT_ACTION_REQUIRED = "ACCOUNT_ACTION_REQUIRED"
ACCOUNT_DISCONNECTED = "ACCOUNT_DISCONNECTED"


class CannotSend(Exception):
    """Why the shop's account cannot send now: a stable code and words an agent can act on."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def sendable(account: AccountRecord | None) -> AccountRecord:
    """``account``, if it may send; :class:`CannotSend` saying why otherwise."""
    if account is not None and account.status == "action_required":
        why = f": {account.last_error.title} (Meta code {account.last_error.code})" if account.last_error else ""
        raise CannotSend(
            ACCOUNT_ACTION_REQUIRED, f"WhatsApp refused the shop's account{why}. Reconnect it with a new access token."
        )
    if account is None or account.status != "active" or not account.encrypted_access_token:
        raise CannotSend(ACCOUNT_DISCONNECTED, "The shop has no connected WhatsApp account")
    return account
