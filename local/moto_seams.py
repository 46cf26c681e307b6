"""Seams in moto's internals, for an emulator whose table outlives one test.

moto 5.2.5's ``DynamoDBBackend.transact_write_items`` backs up every table a transaction touches with
``copy.deepcopy`` — once per item of the transaction — so each transaction costs time proportional to the
whole table. A table shared by a worker's tests, or the long-running ``make dev`` stack, grows until
transactions dominate. :func:`install` replaces it with the same algorithm backed by a snapshot of only
the items the transaction touches: all or nothing, and the same cancellation reasons, as moto's own.

A second seam makes DynamoDB requests atomic, as DynamoDB makes each one: moto in process checks a
condition and applies the write as separate Python steps with no lock, so two threads (the sender sends
a batch's records concurrently) can both pass ``#status = :queued`` and both claim one message — a send
twice that real DynamoDB's conditional writes exclude. :func:`install` runs moto's DynamoDB requests one
at a time in this process.

A third seam makes the table's stream hold what DynamoDB Streams holds: moto appends a record for every
write, but DynamoDB writes none for a put or an update that leaves the item as it was (a ``MODIFY``
with equal old and new images would be an event that never happened). Stream reads
(``dynamodbstreams``) take the same lock as DynamoDB requests, so a reader never sees the records of a
transaction that is cancelled a moment later (the transaction seam removes them again).

This patches moto's internals. moto is pinned (``moto[server]==5.2.5`` in requirements-dev.txt), so that
is acceptable; :func:`install` refuses any other version, so an upgrade re-checks the seam rather than
silently keeping a stale copy.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass, field
from typing import Any

import moto
from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    ConditionalCheckFailed,
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import StreamShard, Table
from moto.dynamodb.responses import DynamoHandler
from moto.dynamodbstreams.responses import DynamoDBStreamsHandler

PINNED_MOTO = "5.2.5"

_MOTO_TRANSACT_WRITE_ITEMS = DynamoDBBackend.transact_write_items
_MOTO_DYNAMODB_CALL_ACTION = DynamoHandler.call_action
_MOTO_STREAMS_CALL_ACTION = DynamoDBStreamsHandler.call_action
_MOTO_STREAM_SHARD_ADD = StreamShard.add
_DYNAMODB_REQUEST = threading.RLock()


def _one_request_at_a_time(self: DynamoHandler) -> Any:
    with _DYNAMODB_REQUEST:
        return _MOTO_DYNAMODB_CALL_ACTION(self)


def _one_stream_request_at_a_time(self: DynamoDBStreamsHandler) -> Any:
    with _DYNAMODB_REQUEST:
        return _MOTO_STREAMS_CALL_ACTION(self)


def _add_a_change(self: StreamShard, old: Item | None, new: Item | None) -> None:
    """moto's ``StreamShard.add``, except for a write that changed nothing: DynamoDB Streams records none."""
    if old is not None and new is not None and old.to_json() == new.to_json():
        return
    _MOTO_STREAM_SHARD_ADD(self, old, new)


@dataclass
class _ItemSnapshots:
    """Each touched item as it was before the transaction (``None``: it did not exist), and each touched
    table's stream length, to put back if the transaction fails."""

    items: dict[tuple[str, DynamoType, DynamoType | None], tuple[Table, Item | None]] = field(default_factory=dict)
    stream_lengths: dict[str, tuple[Table, int]] = field(default_factory=dict)

    def remember(self, backend: DynamoDBBackend, table_name: str, key: dict[str, Any], current: Item | None) -> None:
        table = backend.get_table(table_name)
        hash_key, range_key = backend.get_keys_value(table, key)
        self.items.setdefault((table_name, hash_key, range_key), (table, copy.deepcopy(current)))
        if table.stream_shard is not None:
            self.stream_lengths.setdefault(table_name, (table, len(table.stream_shard.items)))

    def restore(self) -> None:
        for (_, hash_key, range_key), (table, before) in reversed(self.items.items()):
            if range_key is None:
                if before is None:
                    table.items.pop(hash_key, None)
                else:
                    table.items[hash_key] = before
                continue
            if before is None:
                table.items[hash_key].pop(range_key, None)
                if not table.items[hash_key]:
                    del table.items[hash_key]
            else:
                table.items[hash_key][range_key] = before
        for table, length in self.stream_lengths.values():
            if table.stream_shard is not None:
                del table.stream_shard.items[length:]


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    """moto 5.2.5's ``transact_write_items`` with the whole-table backups replaced by item snapshots;
    everything else (checks, order, errors) is moto's code as it stands."""
    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    snapshots = _ItemSnapshots()

    target_items: set[tuple[str, str]] = set()

    def check_unicity(table_name: str, key: dict[str, Any]) -> None:
        item = (str(table_name), str(dict(sorted(key.items()))))
        if item in target_items:
            raise MultipleTransactionsException()
        target_items.add(item)

    errors: list[tuple[str, str, dict[str, Any]] | tuple[None, None, None]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(list(item.keys())) > 1:
            raise TransactWriteSingleOpException

        try:
            op_type, op = next(iter(item.items()))
            if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
                raise ValueError("Unsupported transaction operation")

            table_name = op["TableName"]
            condition_expression = op.get("ConditionExpression")
            expression_attribute_names = op.get("ExpressionAttributeNames")
            expression_attribute_values = op.get("ExpressionAttributeValues")
            return_values_on_condition_check_failure = op.get("ReturnValuesOnConditionCheckFailure")

            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]

            check_unicity(table_name, key)

            current = self.get_item(table_name, key)
            snapshots.remember(self, table_name, key, current)
            if condition_expression is not None:
                condition_op = get_filter_expression(
                    condition_expression, expression_attribute_names, expression_attribute_values
                )
                if not condition_op.expr(current):
                    if return_values_on_condition_check_failure == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise ConditionalCheckFailed(item=original_item)

            if op_type == "Put":
                self.put_item(
                    table_name,
                    op["Item"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Delete":
                self.delete_item(
                    table_name,
                    key,
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            elif op_type == "Update":
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    condition_expression=condition_expression,
                    expression_attribute_names=expression_attribute_names,
                    expression_attribute_values=expression_attribute_values,
                )
            errors.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            snapshots.restore()
            raise
        except ConditionalCheckFailed as e:
            errors.append(("ConditionalCheckFailed", str(e.message), original_item))  # type: ignore[arg-type]
        except Exception as e:  # noqa: BLE001 — moto reports any other failure as that item's reason
            errors.append((type(e).__name__, str(e), original_item))  # type: ignore[arg-type]

    if any(code is not None for code, _, _ in errors):
        snapshots.restore()
        raise TransactionCanceledException(errors)


def install() -> None:
    """Use the item-snapshot ``transact_write_items``, one DynamoDB (and stream) request at a time and
    streams without no-change records in this process's moto (idempotent)."""
    if moto.__version__ != PINNED_MOTO:
        raise RuntimeError(
            f"local.moto_seams copies moto {PINNED_MOTO}'s transact_write_items; moto is {moto.__version__}: "
            "compare the seam with the new version before changing PINNED_MOTO"
        )
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    DynamoHandler.call_action = _one_request_at_a_time  # type: ignore[method-assign]
    DynamoDBStreamsHandler.call_action = _one_stream_request_at_a_time  # type: ignore[method-assign]
    StreamShard.add = _add_a_change  # type: ignore[method-assign]


def uninstall() -> None:
    """Put moto's own ``transact_write_items``, request handling and stream records back (for comparing)."""
    DynamoDBBackend.transact_write_items = _MOTO_TRANSACT_WRITE_ITEMS  # type: ignore[method-assign]
    DynamoHandler.call_action = _MOTO_DYNAMODB_CALL_ACTION  # type: ignore[method-assign]
    DynamoDBStreamsHandler.call_action = _MOTO_STREAMS_CALL_ACTION  # type: ignore[method-assign]
    StreamShard.add = _MOTO_STREAM_SHARD_ADD  # type: ignore[method-assign]
