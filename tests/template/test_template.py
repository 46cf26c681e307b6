"""template.yaml: lint-clean, its routes and the route table agree, and every function answers its
events/ sample in-process (what `sam local invoke -e` would do with Docker)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from local import template as tpl
from local.make_events import events as sample_events
from mkt_whatsapp.http.routes import CATCH_ALL_PATH, ROUTES, head_routes
from tests.support import AwsStack, lambdas

ROOT = tpl.ROOT
BIN = Path(sys.executable).parent


def http_routes() -> set[tuple[str, str, str]]:
    """(function, method, path) of every HttpApi event in template.yaml."""
    found = set()
    for name, spec in tpl.functions().items():
        for event in spec.events.values():
            if event["Type"] == "HttpApi":
                props = event["Properties"]
                found.add((name, props["Method"].upper(), props["Path"]))
    return found


def logical_id(function_folder: str) -> str:
    return "".join(part.capitalize() for part in function_folder.split("_")) + "Function"


def test_cfn_lint_is_clean() -> None:
    result = subprocess.run([str(BIN / "cfn-lint"), "template.yaml"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_sam_validate_lint_passes_offline() -> None:
    result = subprocess.run(
        [str(BIN / "sam"), "validate", "--lint", "--region", "us-east-1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "SAM_CLI_TELEMETRY": "0"},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid" in (result.stdout + result.stderr).lower()


def test_every_route_in_the_template_is_in_the_route_table_and_vice_versa() -> None:
    expected = {(logical_id(route.function), route.method, route.full_path) for route in ROUTES + head_routes()}
    assert {method for _, method, _ in expected} >= {"GET", "HEAD"}
    expected.add(("SystemFunction", "ANY", CATCH_ALL_PATH))
    assert http_routes() == expected


def test_every_function_registers_a_handler_for_each_of_its_routes() -> None:
    for route in ROUTES:
        module = lambdas().module(logical_id(route.function))
        app = module.app
        registered = {(r.method, r.path) for r in app._static_routes + app._dynamic_routes}
        rule = route.path.replace("{", "<").replace("}", ">")
        assert (route.method, rule) in registered, f"{route.route_key} has no handler in {route.function}"


def test_functions_use_the_template_conventions() -> None:
    template = tpl.load()
    globals_ = template["Globals"]["Function"]
    assert globals_["Architectures"] == ["arm64"]
    assert globals_["Runtime"] in {"python3.11", "python3.12", "python3.13"}
    for spec in tpl.functions().values():
        assert spec.module_file.is_file(), spec.module_file
        assert (ROOT / "events").is_dir()
    table = template["Resources"]["Table"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    queue = template["Resources"]["OutboundQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["OutboundDeadLetterQueue", "Arn"]}
    assert set(template["Outputs"]) >= {"ApiUrl", "WebhookUrl"}


def test_no_secret_value_is_a_template_parameter() -> None:
    template = tpl.load()
    for name in template.get("Parameters", {}):
        assert "secret" not in name.lower(), name
        assert "token" not in name.lower(), name
    for name in ("JwtSecret", "MetaAppSecret", "WebhookVerifyToken"):
        assert template["Resources"][name]["Type"] == "AWS::SecretsManager::Secret"
        assert "SecretString" not in template["Resources"][name]["Properties"]


def test_functions_have_least_privilege_policies() -> None:
    for name, resource in tpl.resources().items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        statements = [s for p in resource["Properties"]["Policies"] for s in p["Statement"]]
        actions = [a for s in statements for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
        assert not any(a.endswith(":*") or a == "*" for a in actions), (name, actions)
        if name != "AccountsFunction":
            assert "kms:Encrypt" not in actions, name


def test_the_inbound_overflow_bucket_is_private_encrypted_expiring_and_reached_by_two_functions_only() -> None:
    resources = tpl.resources()
    bucket = resources["InboundOverflowBucket"]
    assert bucket["Type"] == "AWS::S3::Bucket"
    props = bucket["Properties"]
    [encryption] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert all(
        props["PublicAccessBlockConfiguration"][name] is True
        for name in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets")
    )
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    [rule] = props["LifecycleConfiguration"]["Rules"]
    # longer than SQS keeps a message (14 days, in the queue and then its dead-letter queue)
    assert rule["Status"] == "Enabled"
    assert 14 < rule["ExpirationInDays"] <= 90
    [deny] = resources["InboundOverflowBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})

    objects = {"Fn::Sub": "${InboundOverflowBucket.Arn}/inbound/*"}
    reaching: dict[str, list[str]] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for statement in (s for p in resource["Properties"]["Policies"] for s in p["Statement"]):
            if "InboundOverflowBucket" in json.dumps(statement["Resource"]):
                assert statement["Resource"] == objects, name  # objects under inbound/, never the bucket
                actions = statement["Action"]
                reaching.setdefault(name, []).extend(actions if isinstance(actions, list) else [actions])
    assert reaching == {"WebhooksFunction": ["s3:PutObject"], "InboundProcessorFunction": ["s3:GetObject"]}
    for name in reaching:
        assert tpl.functions()[name].environment["INBOUND_OVERFLOW_BUCKET"] == {"Ref": "InboundOverflowBucket"}


def test_events_are_up_to_date_with_their_generator() -> None:
    for name, event in sample_events().items():
        stored = json.loads((ROOT / "events" / f"{name}.json").read_text())
        assert stored == event, f"events/{name}.json is stale: run python -m local.make_events"


def function_for(sample: str) -> str:
    """The function an events/ sample is for: the folder name its file name starts with."""
    folder = sample.split("-")[0]
    [name] = [name for name, spec in tpl.functions().items() if spec.code_uri.name == folder]
    return name


SAMPLE_ANSWERS = {
    "webhooks-verify": 200,
    "webhooks-receive": 200,
    "webhooks-url-receive": 200,
    "accounts-connect": 201,
    "accounts-get": 200,
    "conversations-list": 200,
    "customers-list": 200,
    "flows-list": 200,
    "campaigns-list": 200,
    "templates-list": 200,
    "ai_agents-list": 200,
    "analytics-messages": 200,
    "system-health": 200,
    "system-not-found": 404,
    "inbound-changes": {"batchItemFailures": []},
    "sender-messages": {"batchItemFailures": []},
    "ai_responder-jobs": {"batchItemFailures": []},
    "flow_runner-run": "stopped",
    "campaign_runner-step": "end",
    "stats-records": None,  # the batch is counted: Lambda's success, no partial batch response
}
CORPUS_SAMPLES = sorted(name for name in sample_events() if name.startswith("webhooks-receive-"))


def test_every_function_has_a_sample_event() -> None:
    folders = {spec.code_uri.name for spec in tpl.functions().values()}
    covered = {name.split("-")[0] for name in SAMPLE_ANSWERS}
    assert folders == covered
    assert set(SAMPLE_ANSWERS) | set(CORPUS_SAMPLES) == set(sample_events())
    assert len(CORPUS_SAMPLES) >= 20  # a sample for every message type and status of the corpus


@pytest.mark.parametrize("sample", sorted(SAMPLE_ANSWERS))
def test_each_function_answers_its_sample_event(sample: str, aws: AwsStack, monkeypatch) -> None:
    from local import defaults

    for name in defaults.LOCAL_DEFAULTS:  # the samples are signed with the local stack's dev secrets
        monkeypatch.setenv(name, defaults.LOCAL_DEFAULTS[name])
    event = json.loads((ROOT / "events" / f"{sample}.json").read_text())
    if sample in ("accounts-get", "inbound-changes"):
        connect = json.loads((ROOT / "events" / "accounts-connect.json").read_text())
        assert lambdas().invoke("AccountsFunction", connect)["statusCode"] == 201

    result = lambdas().invoke(function_for(sample), event)

    if sample in ("inbound-changes", "sender-messages", "ai_responder-jobs"):
        assert result == SAMPLE_ANSWERS[sample]
        return
    if sample == "flow_runner-run":
        assert (result["kind"], result["outcome"]) == ("end", SAMPLE_ANSWERS[sample])
        return
    if sample == "campaign_runner-step":
        assert result["next"] == SAMPLE_ANSWERS[sample]
        return
    if sample == "stats-records":
        assert result is SAMPLE_ANSWERS[sample]
        return
    assert result["statusCode"] == SAMPLE_ANSWERS[sample], result
    if sample == "webhooks-verify":
        assert result["body"] == "1158201444"
    else:
        body = json.loads(result["body"])
        assert body["success"] is (result["statusCode"] < 400)


@pytest.mark.skipif(
    shutil.which("pyenv") is None and not Path.home().joinpath(".pyenv").exists(),
    reason="sam build without Docker needs a python3.12 interpreter (pyenv)",
)
def test_sam_build_builds_every_function_and_the_layer(tmp_path: Path) -> None:
    import os

    env = {
        **os.environ,
        "SAM_CLI_TELEMETRY": "0",
        "PYENV_VERSION": "3.12.1:3.11.7",
        "PATH": f"{Path.home() / '.pyenv' / 'shims'}:{os.environ['PATH']}",
    }
    build_dir = tmp_path / "build"
    result = subprocess.run(
        [str(BIN / "sam"), "build", "--build-dir", str(build_dir), "--parallel"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    layer = build_dir / "SharedLayer" / "python"
    assert (layer / "mkt_whatsapp" / "http" / "guard.py").is_file()
    assert (layer / "aws_lambda_powertools").is_dir()
    assert (layer / "pydantic").is_dir()
    for name in tpl.functions():
        assert (build_dir / name / "app.py").is_file(), name


@pytest.mark.parametrize("sample", CORPUS_SAMPLES)
def test_each_corpus_webhook_sample_is_accepted_and_processed(sample: str, aws: AwsStack, monkeypatch) -> None:
    from local import defaults
    from tests.support import drain_inbound, queue_depth

    for name in defaults.LOCAL_DEFAULTS:
        monkeypatch.setenv(name, defaults.LOCAL_DEFAULTS[name])
    connect = json.loads((ROOT / "events" / "accounts-connect.json").read_text())
    assert lambdas().invoke("AccountsFunction", connect)["statusCode"] == 201
    event = json.loads((ROOT / "events" / f"{sample}.json").read_text())
    assert lambdas().invoke("WebhooksFunction", event)["statusCode"] == 200
    assert drain_inbound(aws) >= 1
    assert queue_depth(aws, "InboundQueue") == 0


def test_one_standard_state_machine_runs_every_flow_from_its_asl_file() -> None:
    """The ASL lives in statemachines/ (DefinitionUri + DefinitionSubstitutions), Standard (waits up to 7
    days); waits take their seconds from the state (SecondsPath, TimeoutSecondsPath: the runner scales
    them), and every state's transitions are the ones docs/automation-flows.md draws."""
    machine = tpl.resources()["FlowStateMachine"]
    assert machine["Type"] == "AWS::Serverless::StateMachine"
    props = machine["Properties"]
    assert (props["Type"], props["DefinitionUri"]) == ("STANDARD", "statemachines/flow.asl.json")
    assert props["DefinitionSubstitutions"]["FlowRunnerArn"] == {"Fn::GetAtt": ["FlowRunnerFunction", "Arn"]}
    asl = json.loads(tpl.state_machine_definition("FlowStateMachine"))
    states = asl["States"]
    assert asl["StartAt"] == "Run"
    assert states["Delay"] == {"Type": "Wait", "SecondsPath": "$.seconds", "Next": "Run"}
    await_customer = states["AwaitCustomer"]
    assert await_customer["Resource"] == "arn:aws:states:::lambda:invoke.waitForTaskToken"
    assert await_customer["TimeoutSecondsPath"] == "$.seconds"
    assert await_customer["Parameters"]["Payload"]["token.$"] == "$$.Task.Token"
    assert [c["ErrorEquals"] for c in await_customer["Catch"]] == [["States.Timeout", "DeliveryFailed"], ["States.ALL"]]
    assert {c["Next"] for c in states["Route"]["Choices"]} | {states["Route"]["Default"]} == {
        "Delay",
        "AwaitCustomer",
        "Done",
    }
    for name, state in states.items():
        if state["Type"] == "Task":
            assert state["Parameters"]["FunctionName"] == tpl.function_arn("FlowRunnerFunction"), name
    # The step runner never runs steps in the webhook's or the inbound processor's time.
    inbound = tpl.functions()["InboundProcessorFunction"].environment
    assert inbound["FLOW_STATE_MACHINE_ARN"] == {"Ref": "FlowStateMachine"}
    assert tpl.functions()["FlowRunnerFunction"].environment["FLOW_TIME_SCALE"] == {"Ref": "FlowTimeScale"}
    assert tpl.parameter_defaults()["FlowTimeScale"] == "1"


def _dashboard() -> dict[str, Any]:
    """The dashboard's body with every ${...} of its Fn::Sub kept as the name it stands for."""
    body = tpl.resources()["ServiceDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    return dict(json.loads(re.sub(r"\$\{([^}]+)\}", r"\1", body)))


def _alarms() -> dict[str, dict[str, Any]]:
    return {name: r["Properties"] for name, r in tpl.resources().items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def _alarm_metrics(alarm: dict[str, Any]) -> list[dict[str, Any]]:
    """(Namespace, MetricName, Dimensions) of an alarm, single metric or metric math."""
    if "MetricName" in alarm:
        return [alarm]
    return [query["MetricStat"]["Metric"] for query in alarm["Metrics"] if "MetricStat" in query]


def test_every_dead_letter_queue_has_an_alarm_and_is_on_the_dashboard() -> None:
    resources = tpl.resources()
    dlqs = {
        r["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::Queue" and "RedrivePolicy" in r["Properties"]
    }
    queues = {name for name, r in resources.items() if r["Type"] == "AWS::SQS::Queue"}
    assert len(dlqs) == 3
    assert dlqs <= queues
    alarmed = {
        dimension["Value"]["Fn::GetAtt"][0]
        for alarm in _alarms().values()
        for metric in _alarm_metrics(alarm)
        if metric["MetricName"] == "ApproximateNumberOfMessagesVisible"
        for dimension in metric["Dimensions"]
    }
    assert alarmed == dlqs
    body = json.dumps(_dashboard())
    for queue in queues:
        assert f"{queue}.QueueName" in body, queue
    shown_ages = {
        row[3]
        for widget in _dashboard()["widgets"]
        for row in widget["properties"].get("metrics", [])
        if row[:2] == ["AWS/SQS", "ApproximateAgeOfOldestMessage"]
    }
    assert shown_ages == {f"{q}.QueueName" for q in queues - dlqs}


def test_every_function_shows_its_errors_throttles_and_p99_duration_on_the_dashboard() -> None:
    rows = [row for widget in _dashboard()["widgets"] for row in widget["properties"].get("metrics", [])]
    for function in tpl.functions():
        for metric in ("Errors", "Throttles", "Duration"):
            assert ["AWS/Lambda", metric, "FunctionName", function] in [row[:4] for row in rows], (function, metric)
    for metric in ("ExecutionsStarted", "ExecutionsFailed", "ExecutionsTimedOut"):
        assert ["AWS/States", metric, "StateMachineArn", "FlowStateMachine"] in [row[:4] for row in rows]


def test_every_catalogue_metric_and_dimension_value_is_on_the_dashboard() -> None:
    from mkt_whatsapp.core.metric_names import CATALOGUE

    shown = {
        (row[1], tuple(row[2:-1] if isinstance(row[-1], dict) else row[2:]))
        for widget in _dashboard()["widgets"]
        for row in widget["properties"].get("metrics", [])
        if row[0] == "MktWhatsApp"
    }
    expected = set()
    for metric in CATALOGUE.values():
        if not metric.dimensions:
            expected.add((metric.name, ("service", "mkt-whatsapp-service")))
        for dimension in metric.dimensions:
            for value in dimension.values:
                expected.add((metric.name, (dimension.name, value, "service", "mkt-whatsapp-service")))
    assert expected <= shown
    assert {name for name, _ in shown} <= set(CATALOGUE)


def test_every_alarm_notifies_the_alarm_topic_whose_email_is_optional() -> None:
    for name, alarm in _alarms().items():
        assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
        assert alarm["OKActions"] == [{"Ref": "AlarmTopic"}], name
    resources = tpl.resources()
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    subscription = resources["AlarmEmailSubscription"]
    assert subscription["Condition"] == "HasAlarmEmail"
    assert subscription["Properties"]["Endpoint"] == {"Ref": "AlarmEmail"}
    assert tpl.parameter_defaults()["AlarmEmail"] == ""


def test_the_alarms_cover_error_rate_throttles_queue_age_webhook_latency_and_flow_failures() -> None:
    alarms = _alarms()
    watched = {
        (metric["MetricName"], str(dimension["Value"]))
        for alarm in alarms.values()
        for metric in _alarm_metrics(alarm)
        for dimension in metric["Dimensions"]
    }
    for function in ("Webhooks", "InboundProcessor", "Sender", "AiResponder", "FlowRunner", "Conversations"):
        ref = str({"Ref": f"{function}Function"})
        assert {("Errors", ref), ("Invocations", ref), ("Throttles", ref)} <= watched, function
        rate = alarms[f"{function}ErrorRateAlarm"]
        assert [q["Expression"] for q in rate["Metrics"] if "Expression" in q] == [
            "IF(invocations > 0, 100 * errors / invocations, 0)"
        ]
        assert (rate["Threshold"], rate["Metrics"][0]["MetricStat"]["Period"]) == (5, 300)
    for queue in ("InboundQueue", "OutboundQueue", "AiQueue"):
        age = alarms[f"{queue}AgeAlarm"]
        assert (age["MetricName"], age["Threshold"]) == ("ApproximateAgeOfOldestMessage", 300)
    latency = alarms["WebhookLatencyAlarm"]
    assert (latency["MetricName"], latency["ExtendedStatistic"], latency["Threshold"]) == ("Duration", "p99", 3000)
    assert latency["Dimensions"][0]["Value"] == {"Ref": "WebhooksFunction"}
    assert ("ExecutionsFailed", str({"Ref": "FlowStateMachine"})) in watched


def transformed_template() -> dict:
    """template.yaml after the SAM transform (what CloudFormation deploys), code locations stubbed."""
    import copy
    import os
    from unittest.mock import Mock

    from samtranslator.translator.transform import transform

    template = copy.deepcopy(tpl.load())
    for resource in template["Resources"].values():
        for key in ("CodeUri", "DefinitionUri", "ContentUri"):
            if key in resource.get("Properties", {}):
                resource["Properties"][key] = "s3://bucket/key"
    loader = Mock()
    loader.load.return_value = {}
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    return transform(template, {}, loader)


def test_meta_calls_the_webhooks_function_url_at_the_webhook_path() -> None:
    from local import function_urls
    from mkt_whatsapp.core.settings import API_BASE_PATH

    resources = transformed_template()["Resources"]
    assert resources["WebhooksFunctionUrl"] == {
        "Type": "AWS::Lambda::Url",
        "Properties": {"TargetFunctionArn": {"Ref": "WebhooksFunction"}, "AuthType": "NONE", "InvokeMode": "BUFFERED"},
    }
    # Public, as AuthType NONE needs: both permissions (InvokeFunction only through the URL).
    public = {
        (
            r["Properties"]["Action"],
            r["Properties"].get("FunctionUrlAuthType"),
            r["Properties"].get("InvokedViaFunctionUrl"),
        )
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission"
        and r["Properties"]["FunctionName"] == {"Ref": "WebhooksFunction"}
        and r["Properties"]["Principal"] == "*"
    }
    assert public == {("lambda:InvokeFunctionUrl", "NONE", None), ("lambda:InvokeFunction", None, True)}
    # No other function has a URL.
    assert [k for k, r in resources.items() if r["Type"] == "AWS::Lambda::Url"] == ["WebhooksFunctionUrl"]

    outputs = tpl.load()["Outputs"]
    path = API_BASE_PATH + "/webhooks"
    assert outputs["WebhookUrl"]["Value"] == {"Fn::Sub": "${WebhooksFunctionUrl.FunctionUrl}" + path.lstrip("/")}
    assert outputs["ApiWebhookUrl"]["Value"]["Fn::Sub"].endswith("/" + path.lstrip("/"))
    # The local stack serves the function URL at the same path, from the same output.
    assert function_urls.mounts() == {path: "WebhooksFunction"}


def test_webhook_concurrency_is_reserved_only_when_asked() -> None:
    template = tpl.load()
    assert template["Parameters"]["WebhookReservedConcurrency"]["Default"] == 0
    reserved = template["Resources"]["WebhooksFunction"]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["ReserveWebhookConcurrency", {"Ref": "WebhookReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
