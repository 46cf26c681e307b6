"""What the ``make dev`` terminal shows: one line per request, one per worker job and one per log record
a handler writes at ``LOG_LEVEL`` (WARNING) or above — not the output a deployed function writes for
CloudWatch (an EMF metric document on every invocation, JSON log records)::

    GET /api/v1/whatsapp/health 200 3 ms
    POST /api/v1/whatsapp/webhooks 200 4 ms
    InboundQueue → InboundProcessorFunction 1 ok 0 failed 41 ms
    Step Functions → FlowRunnerFunction ok 35 ms  action=run kind=wait seconds=36
    WARNING WebhooksFunction signed webhook body is not JSON; acknowledged  bytes=9 sha256=3b2c…

Nothing is printed until the local stack's ``main()`` calls :func:`install`: tests run the same runners
in process and keep the handlers' own output. The handlers are not changed; only this process's copy of
Powertools is told not to print metrics and where its log records go.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

# Powertools' switch (aws-lambda-powertools 3.x) that stops Metrics printing EMF documents when it flushes.
METRICS_DISABLED = "POWERTOOLS_METRICS_DISABLED"

# Keys every Powertools log record carries; the line names the level, the function and the message instead.
_ROUTINE_KEYS = frozenset(
    {
        "level",
        "location",
        "message",
        "timestamp",
        "service",
        "sampling_rate",
        "cold_start",
        "function_name",
        "function_memory_size",
        "function_arn",
        "function_request_id",
        "xray_trace_id",
        "exception",
        "exception_name",
        "exception_notes",
        "stack_trace",
    }
)
# A name CloudFormation made up for a resource: <stack>-<LogicalId>-<12 or 13 random characters>.
_GENERATED_NAME = re.compile(r".+-([A-Za-z0-9]+)-[A-Z0-9]{12,13}")


# --- the lines ----------------------------------------------------------------------------------------


def request_line(method: str, path: str, status: int, milliseconds: float) -> str:
    return f"{method} {path} {status} {round(milliseconds)} ms"


def job_line(queue: str, function: str, ok: int, failed: int, milliseconds: float) -> str:
    return f"{queue} → {function} {ok} ok {failed} failed {round(milliseconds)} ms"


# What a Step Functions task line shows of the task's input (the state machine's ``Payload``) and result.
_TASK_INPUT_KEYS = ("action",)
_TASK_RESULT_KEYS = ("kind", "next", "seconds", "outcome", "reason", "parked")


def task_line(function: str, ok: bool, milliseconds: float, details: dict[str, Any]) -> str:
    """A Lambda task the state machine ran: ``Step Functions → Function ok 12 ms  action=run kind=wait``."""
    line = f"Step Functions → {function} {'ok' if ok else 'failed'} {round(milliseconds)} ms"
    if details:
        line += "  " + " ".join(f"{name}={_field(value)}" for name, value in details.items())
    return line


def log_line(record: dict[str, Any]) -> str:
    """One Powertools JSON log record as ``LEVEL Function message  key=value …`` (an exception as its last line)."""
    function = record.get("function_name") or record.get("service") or "-"
    fields = {name: value for name, value in record.items() if name not in _ROUTINE_KEYS}
    if record.get("exception"):
        fields["error"] = str(record["exception"]).strip().splitlines()[-1]
    line = f"{record.get('level', 'INFO')} {function} {_message(record.get('message'))}"
    if fields:
        line += "  " + " ".join(f"{name}={_field(value)}" for name, value in fields.items())
    return line


def queue_label(queue_url: str) -> str:
    """The queue's name, or its logical id when CloudFormation generated the name (``InboundQueue``)."""
    name = queue_url.rstrip("/").rsplit("/", 1)[-1]
    generated = _GENERATED_NAME.fullmatch(name)
    return generated.group(1) if generated else name


def _message(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _field(value: Any) -> str:
    """A plain word as it is, anything else as JSON (a number looks the same): spaces and quotes stay unambiguous."""
    if isinstance(value, str) and value and not any(char.isspace() or char == '"' for char in value):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


# --- the reporter ---------------------------------------------------------------------------------------


@dataclass
class Terminal:
    """Where the lines go: ``stream``, or whatever ``sys.stdout`` is when a line is printed."""

    stream: TextIO | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def print(self, line: str) -> None:
        stream = self.stream or sys.stdout
        with self._lock:
            stream.write(line + "\n")
            stream.flush()


class _HandlerLogStream:
    """The stream of the handlers' Powertools log handler while the terminal is installed: each JSON
    record it is handed is printed as one line (anything else as it is)."""

    def __init__(self, terminal: Terminal) -> None:
        self.terminal = terminal

    def write(self, text: str) -> int:
        try:
            record = json.loads(text)
        except ValueError:
            record = None
        if isinstance(record, dict):
            self.terminal.print(log_line(record))
        elif text.strip():
            self.terminal.print(text.rstrip("\n"))
        return len(text)

    def flush(self) -> None:
        pass


@dataclass
class _Installed:
    terminal: Terminal
    metrics: Any
    handler: logging.StreamHandler[Any]
    handler_stream: Any
    handler_level: int
    metrics_switch: str | None


_installed: _Installed | None = None


def install(stream: TextIO | None = None, log_level: str | int = "WARNING") -> Terminal:
    """Print the concise lines on ``stream`` (stdout). Call it once the functions' environment is set:
    it loads the handlers' shared Logger and Metrics."""
    global _installed
    uninstall()
    from local.lambdas import ensure_layer_on_path

    ensure_layer_on_path()
    from mkt_whatsapp.core.observability import logger, metrics

    terminal = Terminal(stream)
    handler = logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        raise TypeError(f"the handlers' log handler is a {type(handler).__name__}, not a stream handler")
    installed = _Installed(
        terminal=terminal,
        metrics=metrics,
        handler=handler,
        handler_stream=handler.stream,
        handler_level=handler.level,
        metrics_switch=os.environ.get(METRICS_DISABLED),
    )
    os.environ[METRICS_DISABLED] = "true"
    _set_stream(handler, _HandlerLogStream(terminal))
    handler.setLevel(log_level.upper() if isinstance(log_level, str) else log_level)
    _installed = installed
    return terminal


def uninstall() -> None:
    """Give the handlers their own output back."""
    global _installed
    installed, _installed = _installed, None
    if installed is None:
        return
    _set_stream(installed.handler, installed.handler_stream)
    installed.handler.setLevel(installed.handler_level)
    if installed.metrics_switch is None:
        os.environ.pop(METRICS_DISABLED, None)
    else:
        os.environ[METRICS_DISABLED] = installed.metrics_switch


def _set_stream(handler: logging.StreamHandler[Any], stream: Any) -> None:
    # Not setStream: it flushes the stream it replaces, which may be closed (a finished test's stdout).
    handler.acquire()
    try:
        handler.stream = stream
    finally:
        handler.release()


def after_invocation() -> None:
    """Powertools keeps the metrics it did not flush, and prints them anyway once a metric holds 100
    values: with flushing switched off, forget them after each invocation as a flush would."""
    if _installed is not None:
        _installed.metrics.clear_metrics()


def report_request(event: dict[str, Any], status: int, started: float) -> None:
    """One line for an HTTP API (payload 2.0) request; ``started`` is a ``time.monotonic()`` reading."""
    http = event.get("requestContext", {}).get("http", {})
    report_path(http.get("method", "?"), event.get("rawPath") or http.get("path", "?"), status, started)


def report_path(method: str, path: str, status: int, started: float) -> None:
    """One line for a request to ``path`` (an API's, or the Graph simulator's controls on the API's port)."""
    if _installed is not None:
        _installed.terminal.print(request_line(method, path, status, _since(started)))


def report_job(queue_url: str, function: str, ok: int, failed: int, started: float) -> None:
    """One line for a batch a worker delivered to a function."""
    if _installed is not None:
        _installed.terminal.print(job_line(queue_label(queue_url), function, ok, failed, _since(started)))


def report_task(function: str, event: Any, result: Any, error: str | None, started: float) -> None:
    """One line for a Lambda task a state machine ran: what it was asked (``action``) and what it answered
    (a flow's next ``kind`` of state and its ``seconds``, how it ended), or the error it raised."""
    if _installed is None:
        return
    details: dict[str, Any] = {}
    if isinstance(event, dict):
        details.update({name: event[name] for name in _TASK_INPUT_KEYS if event.get(name) is not None})
    if isinstance(result, dict):
        details.update({name: result[name] for name in _TASK_RESULT_KEYS if result.get(name) is not None})
    if error is not None:
        details["error"] = error
    _installed.terminal.print(task_line(function, error is None, _since(started), details))


def _since(started: float) -> float:
    return (time.monotonic() - started) * 1000
