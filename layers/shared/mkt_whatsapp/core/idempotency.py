"""``Idempotency-Key``: a retried request gets the first answer for 24 hours instead of acting twice
(Powertools idempotency, its records in the table under ``IDEMPOTENCY#<scope>``, expiring through the
table's TTL). The same key with a different request is refused (409 ``IDEMPOTENCY_KEY_REUSED``); a key
whose first request is still running is 409 ``IDEMPOTENCY_IN_PROGRESS``.

One mechanism for every POST that honours the header (a message's send, a campaign's creation): the caller
names its scope, who owns the key (the conversation, the shop: a key is never shared across them) and the
request as received."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import cache
from typing import Any

from mkt_whatsapp.core import aws
from mkt_whatsapp.core.errors import BadRequest, Conflict
from mkt_whatsapp.core.settings import get_settings

RECORD_SECONDS = 24 * 3600


@cache
def _idempotency(table_name: str, scope: str) -> tuple[Any, Any]:
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

    persistence = DynamoDBPersistenceLayer(
        table_name=table_name,
        key_attr="PK",
        sort_key_attr="SK",
        static_pk_value=f"IDEMPOTENCY#{scope}",
        expiry_attr="expiresAt",
        boto3_client=aws.dynamodb(),
    )
    config = IdempotencyConfig(
        event_key_jmespath="[owner, idempotencyKey]",
        payload_validation_jmespath="request",
        expires_after_seconds=RECORD_SECONDS,
    )
    return persistence, config


class _Deadline:
    """What Powertools' idempotency reads of a Lambda context: an in-progress record expires when the
    invocation that made it ends."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.time()) * 1000))


def check_key(idempotency_key: str) -> None:
    """1 to 255 printable characters (the header's documented pattern)."""
    if not 1 <= len(idempotency_key) <= 255 or not idempotency_key.isprintable():
        raise BadRequest(
            "Idempotency-Key must be 1 to 255 printable characters", code="INVALID_FORMAT", field="Idempotency-Key"
        )


def once(
    scope: str,
    owner: str,
    idempotency_key: str,
    request: Any,
    call: Callable[[], dict[str, Any]],
    *,
    deadline: float | None,
) -> dict[str, Any]:
    """``call()``'s answer, made once per (``owner``, ``idempotency_key``) in ``scope`` for 24 hours: a retry
    with the same ``request`` gets the stored answer (``call`` is not run again). ``call`` returns plain JSON."""
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyValidationError,
    )

    check_key(idempotency_key)
    persistence, config = _idempotency(get_settings().table_name, scope)
    if deadline is not None:
        config.register_lambda_context(_Deadline(deadline))  # in-progress records expire with the invocation

    @idempotent_function(data_keyword_argument="attempt", persistence_store=persistence, config=config)  # type: ignore[untyped-decorator]
    def once(attempt: dict[str, Any]) -> dict[str, Any]:
        return call()

    try:
        result: dict[str, Any] = once(attempt={"owner": owner, "idempotencyKey": idempotency_key, "request": request})
    except IdempotencyValidationError as error:
        raise Conflict(
            "This Idempotency-Key was used with a different request",
            code="IDEMPOTENCY_KEY_REUSED",
            field="Idempotency-Key",
        ) from error
    except IdempotencyAlreadyInProgressError as error:
        raise Conflict(
            "A request with this Idempotency-Key is in progress",
            code="IDEMPOTENCY_IN_PROGRESS",
            field="Idempotency-Key",
        ) from error
    return result
