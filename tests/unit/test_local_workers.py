"""The local stack's workers: SQS delivered like Lambda's event source mapping, and Step Functions Lambda
tasks run by in-process handlers."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from local import stepfunctions
from local.lambdas import LocalLambdas
from local.sqs_worker import EventSourceMapping, SqsPoller, failed_message_ids
from local.template import FunctionSpec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lambdas"


def spec(name: str, handler: str) -> FunctionSpec:
    return FunctionSpec(logical_id=name, code_uri=FIXTURES, handler=handler, environment={})


@pytest.fixture
def sqs():
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


_QUEUES = itertools.count(1)


def make_queue(sqs, max_receives: int = 2) -> tuple[str, str, str]:
    # Names of the test's own: inside the worker's session emulator, mock_aws() starts no fresh backend.
    number = next(_QUEUES)
    dlq = sqs.create_queue(QueueName=f"dlq-{number}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(
        QueueName=f"work-{number}",
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receives)}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return queue, arn, dlq


def bodies(sqs, url: str) -> list[str]:
    found = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30).get("Messages", [])
        if not messages:
            return sorted(found)
        found.extend(m["Body"] for m in messages)


def test_partial_batch_failures_leave_only_the_failed_message_which_reaches_the_dlq(sqs) -> None:
    queue, arn, dlq = make_queue(sqs, max_receives=2)
    for body in ("ok-1", "fail", "ok-2"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    lambdas = LocalLambdas({"Consumer": spec("Consumer", "consumer.handler")})
    poller = SqsPoller(
        lambdas,
        EventSourceMapping("Consumer", queue, arn, batch_size=10, report_batch_item_failures=True),
        sqs,
        "us-east-1",
        wait_seconds=0,
    )

    received = [poller.poll_once() for _ in range(4)]

    assert received[0] == 3
    assert received[1] == 1
    assert bodies(sqs, dlq) == ["fail"]
    assert bodies(sqs, queue) == []
    consumer = lambdas.module("Consumer")
    assert consumer.SEEN.count("fail") == 2
    assert consumer.SEEN.count("ok-1") == 1


def test_a_crash_fails_the_whole_batch(sqs) -> None:
    queue, arn, _dlq = make_queue(sqs, max_receives=5)
    for body in ("ok", "crash"):
        sqs.send_message(QueueUrl=queue, MessageBody=body)
    lambdas = LocalLambdas({"Consumer": spec("Consumer", "consumer.handler")})
    poller = SqsPoller(
        lambdas,
        EventSourceMapping("Consumer", queue, arn, report_batch_item_failures=True),
        sqs,
        "us-east-1",
        wait_seconds=0,
    )
    assert poller.poll_once() == 2
    assert bodies(sqs, queue) == ["crash", "ok"]


def test_records_have_lambdas_sqs_shape(sqs) -> None:
    queue, arn, _ = make_queue(sqs)
    sqs.send_message(
        QueueUrl=queue, MessageBody="ok", MessageAttributes={"shopId": {"DataType": "String", "StringValue": "shop-1"}}
    )
    captured = {}
    lambdas = LocalLambdas({"Consumer": spec("Consumer", "consumer.handler")})
    original = lambdas.invoke
    lambdas.invoke = lambda name, event: captured.setdefault("event", event) and original(name, event)
    SqsPoller(lambdas, EventSourceMapping("Consumer", queue, arn), sqs, "us-east-1", wait_seconds=0).poll_once()
    [record] = captured["event"]["Records"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == arn
    assert record["body"] == "ok"
    assert record["messageAttributes"]["shopId"]["stringValue"] == "shop-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"messageId", "receiptHandle", "md5OfBody", "awsRegion"} <= set(record)


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, {"b"}),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, {"a", "b"}),
        ({"batchItemFailures": "b"}, {"a", "b"}),
        ("nonsense", {"a", "b"}),
    ],
)
def test_batch_item_failures_are_read_as_lambda_reads_them(result, failed) -> None:
    assert failed_message_ids(result, ["a", "b"]) == failed


@pytest.fixture
def keep_step_functions_routing() -> Iterator[None]:
    """The worker's stack routes Lambda tasks to the template's handlers: put that back afterwards, or a
    later flow test on this worker would run its tasks against this test's fixture functions."""
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

    routing = lambda_eval_utils.boto_client_for
    yield
    lambda_eval_utils.boto_client_for = routing


@pytest.mark.usefixtures("keep_step_functions_routing")
def test_step_functions_run_lambda_tasks_in_process() -> None:
    lambdas = LocalLambdas({"Doubler": spec("Doubler", "consumer.double")})
    stepfunctions.install(lambdas, {"Doubler": "Doubler"})
    definition = {
        "StartAt": "Double",
        "States": {
            "Double": {
                "Type": "Task",
                "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {
                    "FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:Doubler",
                    "Payload.$": "$",
                },
                "OutputPath": "$.Payload",
                "Next": "Again",
            },
            "Again": {
                "Type": "Task",
                "Resource": "arn:aws:lambda:us-east-1:123456789012:function:Doubler",
                "End": True,
            },
        },
    }
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        client = boto3.client("stepfunctions", region_name="us-east-1")
        machine = client.create_state_machine(
            name="m", definition=json.dumps(definition), roleArn="arn:aws:iam::123456789012:role/sfn"
        )["stateMachineArn"]
        execution = client.start_execution(stateMachineArn=machine, input=json.dumps({"value": 3}))["executionArn"]
        deadline = time.monotonic() + 20
        while (described := client.describe_execution(executionArn=execution))["status"] == "RUNNING":
            assert time.monotonic() < deadline, "execution did not finish"
            time.sleep(0.05)
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == {"value": 12, "function": "Doubler"}
