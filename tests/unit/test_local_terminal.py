"""The `make dev` terminal (local/terminal.py): one line per request, per worker job and per handler
warning, and none of the EMF documents a deployed function prints for CloudWatch."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local import stepfunctions, terminal
from local.lambdas import LocalLambdas, SamRunner
from local.sqs_worker import EventSourceMapping, SqsPoller
from local.template import FunctionSpec
from tests.support import ApiClient, post_webhook, whatsapp_delivery

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "lambdas"
MS = r"\d+ ms"


@pytest.fixture
def shown(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """The terminal installed as `python -m local.stack` installs it, printing to (the captured) stdout."""
    terminal.install()
    try:
        yield capsys
    finally:
        terminal.uninstall()


def text_delivery() -> dict[str, object]:
    return whatsapp_delivery(
        "106540352242922",
        {"messages": [{"from": "5511999990000", "id": "wamid.T1", "timestamp": "1700000000", "type": "text"}]},
    )


# --- the lines ----------------------------------------------------------------------------------------


def test_a_request_line_names_method_path_status_and_milliseconds() -> None:
    assert (
        terminal.request_line("POST", "/api/v1/whatsapp/webhooks", 200, 4.4)
        == "POST /api/v1/whatsapp/webhooks 200 4 ms"
    )


def test_a_job_line_names_queue_function_outcome_and_milliseconds() -> None:
    line = terminal.job_line("InboundQueue", "InboundProcessorFunction", 3, 0, 41.2)
    assert line == "InboundQueue → InboundProcessorFunction 3 ok 0 failed 41 ms"


def test_a_generated_queue_name_is_shown_as_its_logical_id() -> None:
    url = "http://127.0.0.1:5000/123456789012/mkt-whatsapp-local-InboundQueue-4F8K2M9Q1Z7B"
    assert terminal.queue_label(url) == "InboundQueue"
    assert terminal.queue_label("http://127.0.0.1:5000/123456789012/work") == "work"


def test_a_log_record_is_one_line_with_level_function_message_and_its_own_fields() -> None:
    record = {
        "level": "WARNING",
        "location": "receive:93",
        "message": "upstream or service error",
        "timestamp": "2025-01-01 00:00:00,000+0000",
        "service": "mkt-whatsapp-service",
        "cold_start": False,
        "function_name": "AccountsFunction",
        "function_request_id": "b7d0",
        "xray_trace_id": None,
        "code": "GRAPH_API_ERROR",
        "status": 502,
        "reason": "Meta said no",
    }
    assert terminal.log_line(record) == (
        'WARNING AccountsFunction upstream or service error  code=GRAPH_API_ERROR status=502 reason="Meta said no"'
    )


def test_an_exception_is_shown_as_its_last_line() -> None:
    record = {
        "level": "ERROR",
        "message": "unhandled error",
        "service": "mkt-whatsapp-service",
        "exception": "Traceback (most recent call last):\n  File \"x.py\", line 1\nKeyError: 'shopId'",
        "exception_name": "KeyError",
        "stack_trace": {"frames": []},
    }
    assert terminal.log_line(record) == "ERROR mkt-whatsapp-service unhandled error  error=\"KeyError: 'shopId'\""


# --- with the reporter on -----------------------------------------------------------------------------


def test_nothing_is_printed_unless_the_local_stack_installs_the_terminal(
    api: ApiClient, capsys: pytest.CaptureFixture[str]
) -> None:
    assert post_webhook(api, text_delivery()).status == 200

    out = capsys.readouterr().out
    assert "POST /api/v1/whatsapp/webhooks" not in out
    assert '"_aws"' in out  # the handler's own EMF document, as a deployed function prints it


def test_a_request_prints_one_line_and_no_emf(api: ApiClient, shown: pytest.CaptureFixture[str]) -> None:
    assert post_webhook(api, text_delivery()).status == 200

    lines = shown.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(rf"POST /api/v1/whatsapp/webhooks 200 {MS}", lines[0])


def test_no_emf_even_after_a_hundred_values_of_one_metric(api: ApiClient, shown: pytest.CaptureFixture[str]) -> None:
    # Powertools prints a metric that reaches 100 values whether flushing is switched off or not.
    for _ in range(101):
        assert post_webhook(api, {"object": "page"}).status == 200

    lines = shown.readouterr().out.splitlines()
    assert len(lines) == 101
    assert not [line for line in lines if '"_aws"' in line]


def test_a_handler_warning_is_one_line(api: ApiClient, shown: pytest.CaptureFixture[str]) -> None:
    assert post_webhook(api, b"not json").status == 200

    lines = shown.readouterr().out.splitlines()
    digest = hashlib.sha256(b"not json").hexdigest()
    assert (
        lines[0] == f"WARNING WebhooksFunction signed webhook body is not JSON; acknowledged  bytes=8 sha256={digest}"
    )
    assert re.fullmatch(rf"POST /api/v1/whatsapp/webhooks 200 {MS}", lines[1])
    assert len(lines) == 2


def test_a_handler_that_raises_prints_its_request_as_502_and_the_error_as_one_line(
    shown: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    consumer = FunctionSpec(logical_id="Consumer", code_uri=FIXTURES, handler="consumer.handler", environment={})
    event = {"version": "2.0", "rawPath": "/api/v1/whatsapp/boom", "requestContext": {"http": {"method": "PUT"}}}

    SamRunner(LocalLambdas({"Consumer": consumer})).invoke("Consumer", json.dumps(event))

    lines = shown.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(rf"PUT /api/v1/whatsapp/boom 502 {MS}", lines[0])
    assert [(r.name, r.levelname, r.getMessage()) for r in caplog.records] == [
        ("local.lambdas", "ERROR", "Consumer: KeyError: 'Records'")
    ]


@pytest.fixture
def work_queue() -> Iterator[tuple[object, str, str]]:
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="work", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        yield sqs, url, arn


def test_a_worker_batch_prints_one_job_line_with_its_counts(
    work_queue: tuple[object, str, str], shown: pytest.CaptureFixture[str]
) -> None:
    sqs, url, arn = work_queue
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)  # type: ignore[attr-defined]
    consumer = FunctionSpec(logical_id="Consumer", code_uri=FIXTURES, handler="consumer.handler", environment={})
    mapping = EventSourceMapping("Consumer", url, arn, batch_size=10, report_batch_item_failures=True)
    poller = SqsPoller(LocalLambdas({"Consumer": consumer}), mapping, sqs, "us-east-1", wait_seconds=0)

    assert poller.poll_once() == 3

    lines = shown.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(rf"work → Consumer 2 ok 1 failed {MS}", lines[0])


def test_a_step_functions_task_line_names_function_outcome_milliseconds_and_what_it_did() -> None:
    details = {"action": "run", "kind": "wait", "seconds": 36}
    line = terminal.task_line("FlowRunnerFunction", True, 35.4, details)
    assert line == "Step Functions → FlowRunnerFunction ok 35 ms  action=run kind=wait seconds=36"


def test_a_lambda_task_of_a_state_machine_prints_one_line(shown: pytest.CaptureFixture[str]) -> None:
    """What moto's interpreter calls for a Lambda task: the in-process client of local/stepfunctions.py."""
    doubler = FunctionSpec(logical_id="Doubler", code_uri=FIXTURES, handler="consumer.double", environment={})
    client = stepfunctions.InProcessLambdaClient(LocalLambdas({"Doubler": doubler}), {"Doubler": "Doubler"})
    arn = "arn:aws:lambda:us-east-1:123456789012:function:Doubler"

    answer = client.invoke(FunctionName=arn, Payload=json.dumps({"action": "run", "value": 3}).encode())
    failed = client.invoke(FunctionName=arn, Payload=b"{}")

    assert json.load(answer["Payload"]) == {"value": 6, "function": "Doubler"}
    assert failed["FunctionError"] == "Unhandled"
    first, second = shown.readouterr().out.splitlines()
    assert re.fullmatch(rf"Step Functions → Doubler ok {MS}  action=run", first)
    assert re.fullmatch(rf"Step Functions → Doubler failed {MS}  error=\"KeyError: 'value'\"", second)


# --- the real process ---------------------------------------------------------------------------------
