"""Deliver a DynamoDB table's stream to a function the way Lambda's DynamoDB event source mapping does:
the emulator's stream read shard by shard from ``StartingPosition``, the mapping's ``FilterCriteria``
applied, batches of up to ``BatchSize`` records in the event shape Lambda sends, and a batch the
function fails delivered again exactly as it was (same records, same order) until it succeeds — the
template's ``MaximumRetryAttempts: -1`` with no bisecting, so a batch that always fails holds its shard,
as it does in AWS.

Differences from Lambda, on purpose: ``MaximumBatchingWindowInSeconds`` is not waited for (records are
delivered as soon as they are read, so a terminal session sees them at once); only the filter rules the
template uses are understood — exact values and ``prefix`` — and any other rule raises rather than
silently keeping or dropping records.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from local import terminal
from local.lambdas import FunctionError, LocalLambdas

log = logging.getLogger("local.streams")


@dataclass(frozen=True)
class StreamMapping:
    function: str
    table_name: str
    batch_size: int = 100
    starting_position: str = "TRIM_HORIZON"  # the only one supported locally
    filters: tuple[Any, ...] = ()  # the FilterCriteria patterns, parsed; none keeps every record


def stream_mapping(function: str, table_name: str, properties: dict[str, Any]) -> StreamMapping:
    """The mapping a template ``Type: DynamoDB`` event's ``Properties`` describe."""
    position = str(properties.get("StartingPosition", "TRIM_HORIZON"))
    if position != "TRIM_HORIZON":
        raise ValueError(f"{function}: StartingPosition {position} is not supported locally")
    filters = tuple(
        json.loads(entry["Pattern"]) for entry in (properties.get("FilterCriteria") or {}).get("Filters", [])
    )
    return StreamMapping(
        function=function,
        table_name=table_name,
        batch_size=int(properties.get("BatchSize", 100)),
        starting_position=position,
        filters=filters,
    )


def matches(pattern: Any, value: Any) -> bool:
    """Whether ``value`` (a record, or a part of it) matches an event filter ``pattern``: every field the
    pattern names must be present and match; a list of rules matches when one of them does."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(
            name in value and matches(rule, value[name]) for name, rule in pattern.items()
        )
    if isinstance(pattern, list):
        return any(_matches_rule(rule, value) for rule in pattern)
    raise ValueError(f"a filter pattern's leaves are lists of rules, not {pattern!r}")


def _matches_rule(rule: Any, value: Any) -> bool:
    if isinstance(rule, dict):
        if set(rule) == {"prefix"} and isinstance(rule["prefix"], str):
            return isinstance(value, str) and value.startswith(rule["prefix"])
        raise NotImplementedError(f"filter rule {rule!r} is not supported by the local stream worker")
    return bool(value == rule)


def kept(record: dict[str, Any], filters: tuple[Any, ...]) -> bool:
    """Lambda's reading of ``FilterCriteria``: no filters keep everything; otherwise any one filter."""
    return not filters or any(matches(pattern, record) for pattern in filters)


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A record of ``GetRecords`` as a Lambda DynamoDB event carries it (times as epoch seconds)."""
    stream = dict(record["dynamodb"])
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = int(created.timestamp())
    converted = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", region),
        "dynamodb": stream,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:
        converted["userIdentity"] = record["userIdentity"]
    return converted


@dataclass
class _Pending:
    """A batch read and not yet delivered successfully, and where its shard continues after it."""

    shard_id: str
    records: list[dict[str, Any]]
    last_sequence_number: str


@dataclass
class StreamPoller:
    lambdas: LocalLambdas
    mapping: StreamMapping
    dynamodb: Any
    streams: Any
    region: str
    idle_seconds: float = 0.5
    # Each shard's last sequence number handled (delivered or filtered out), per stream.
    positions: dict[tuple[str, str], str] = field(default_factory=dict)
    batches_delivered: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-{self.mapping.function}", daemon=True)
        self._pending: _Pending | None = None
        self._stream_arn: str | None = None

    def start(self) -> StreamPoller:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.request_stop()
        self.join(self.idle_seconds + 5)

    def request_stop(self) -> None:
        """Read no more batches; a batch being delivered runs to its end."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout=timeout)

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                delivered = self.poll_once()
                failures = 0
            except FunctionError:
                failures += 1  # logged by poll_once; the same batch is tried again
                self._stop.wait(min(30.0, 0.5 * 2**failures))
                continue
            except Exception:
                if self._stop.is_set():
                    return  # the emulator stopped under a batch in flight: nothing to report
                log.exception("reading the stream of %s failed", self.mapping.table_name)
                self._stop.wait(1)
                continue
            if not delivered:
                self._stop.wait(self.idle_seconds)

    @property
    def stream_arn(self) -> str:
        arn = self.dynamodb.describe_table(TableName=self.mapping.table_name)["Table"].get("LatestStreamArn")
        if not arn:
            raise RuntimeError(f"table {self.mapping.table_name} has no stream")
        if arn != self._stream_arn:  # a new stream (the table was made again): its shards start afresh
            self._stream_arn, self._pending = arn, None
        return str(arn)

    def poll_once(self) -> int:
        """Deliver one batch (the failed one again, if the last delivery failed); returns how many records
        were delivered, 0 when the stream has nothing new past the filters. Raises :class:`FunctionError`
        when the function fails the batch, which is then kept to be delivered again as it was."""
        arn = self.stream_arn
        batch = self._pending or self._next_batch(arn)
        if batch is None:
            return 0
        self._pending = batch
        started = time.monotonic()
        try:
            self.lambdas.invoke(self.mapping.function, {"Records": batch.records})
        except FunctionError as error:
            log.warning("%s failed a batch of %d stream records: %s", self.mapping.function, len(batch.records), error)
            terminal.report_job(self.mapping.table_name, self.mapping.function, 0, len(batch.records), started)
            raise
        self._pending = None
        self.positions[(arn, batch.shard_id)] = batch.last_sequence_number
        self.batches_delivered += 1
        terminal.report_job(self.mapping.table_name, self.mapping.function, len(batch.records), 0, started)
        return len(batch.records)

    def _next_batch(self, arn: str) -> _Pending | None:
        """Read each shard from where it was left until a batch has records past the filters; records the
        filters drop are passed over (their position is kept, as Lambda does)."""
        for shard in self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]:
            shard_id = shard["ShardId"]
            while True:
                read = self._read(arn, shard_id)
                if not read:
                    break
                records = [lambda_record(record, arn, self.region) for record in read]
                kept_records = [record for record in records if kept(record, self.mapping.filters)]
                last = str(read[-1]["dynamodb"]["SequenceNumber"])
                if kept_records:
                    return _Pending(shard_id=shard_id, records=kept_records, last_sequence_number=last)
                self.positions[(arn, shard_id)] = last
        return None

    def _read(self, arn: str, shard_id: str) -> list[dict[str, Any]]:
        position = self.positions.get((arn, shard_id))
        if position is not None:
            request = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": position}
        else:
            request = {"ShardIteratorType": "TRIM_HORIZON"}
        iterator = self.streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, **request)["ShardIterator"]
        records: list[dict[str, Any]] = self.streams.get_records(ShardIterator=iterator, Limit=self.mapping.batch_size)[
            "Records"
        ]
        return records
