"""template.yaml as the local stack reads it: functions, their events and environment, and the AWS
resources to create in the emulator — from the template's own definitions, not a second copy."""

from __future__ import annotations

import json
import secrets as random_secrets
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

# Resource types moto's CloudFormation creates for us. Secrets are created through the Secrets Manager
# API instead (moto's CloudFormation does not support them); TTL is applied after the stack (moto's
# CloudFormation ignores TimeToLiveSpecification). Bucket policies are not created: the inbound overflow
# bucket's only denies requests without TLS, and the emulator speaks plain HTTP.
_CLOUDFORMATION_TYPES = {
    "AWS::DynamoDB::Table",
    "AWS::SQS::Queue",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::S3::Bucket",
}


@dataclass(frozen=True)
class FunctionSpec:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, Any]
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    timeout_seconds: float = 3.0  # SAM's default

    @property
    def module_file(self) -> Path:
        return self.code_uri / (self.handler.rsplit(".", 1)[0].replace(".", "/") + ".py")

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@cache
def load(path: Path = TEMPLATE) -> dict[str, Any]:
    parsed: dict[str, Any] = yaml_parse(path.read_text())
    return parsed


def resources(template: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    return dict((template or load())["Resources"])


def functions(template: dict[str, Any] | None = None) -> dict[str, FunctionSpec]:
    template = template or load()
    globals_ = template.get("Globals", {}).get("Function", {})
    global_env = globals_.get("Environment", {}).get("Variables", {})
    specs: dict[str, FunctionSpec] = {}
    for logical_id, resource in resources(template).items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        env = {**global_env, **props.get("Environment", {}).get("Variables", {})}
        specs[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_uri=(ROOT / props["CodeUri"]).resolve(),
            handler=props.get("Handler", globals_.get("Handler", "app.lambda_handler")),
            environment=env,
            events=props.get("Events", {}),
            timeout_seconds=float(props.get("Timeout", globals_.get("Timeout", 3))),
        )
    return specs


def parameter_defaults(template: dict[str, Any] | None = None) -> dict[str, str]:
    template = template or load()
    return {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}


def deploy_resources(session: Any, stack_name: str, secret_values: dict[str, str]) -> dict[str, str]:
    """Create the template's data resources in the emulator the ``session`` points at; returns each
    logical id's physical id (table name, queue URL, key id, bucket name, secret ARN)."""
    all_resources = resources()
    stack_resources = {k: v for k, v in all_resources.items() if v["Type"] in _CLOUDFORMATION_TYPES}
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": stack_resources}),
    )
    physical: dict[str, str] = {}
    for described in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]:
        logical_id = described.get("LogicalResourceId")
        if logical_id in stack_resources:
            physical[logical_id] = described["PhysicalResourceId"]
    missing = set(stack_resources) - set(physical)
    if missing:
        raise RuntimeError(f"emulator did not create {sorted(missing)}")

    dynamodb = session.client("dynamodb")
    for logical_id, resource in stack_resources.items():
        ttl = resource["Type"] == "AWS::DynamoDB::Table" and resource["Properties"].get("TimeToLiveSpecification")
        if ttl:
            dynamodb.update_time_to_live(
                TableName=physical[logical_id],
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])},
            )

    secretsmanager = session.client("secretsmanager")
    for logical_id, resource in all_resources.items():
        if resource["Type"] != "AWS::SecretsManager::Secret":
            continue
        value = secret_values.get(logical_id) or random_secrets.token_urlsafe(32)
        created = secretsmanager.create_secret(Name=f"{stack_name}-{logical_id}", SecretString=value)
        physical[logical_id] = created["ARN"]
    return physical


def function_arn(logical_id: str, region: str = "us-east-1", account: str = "123456789012") -> str:
    """A template function's ARN in the emulator (the Step Functions seam runs it by its logical id)."""
    return f"arn:aws:lambda:{region}:{account}:function:{logical_id}"


def state_machine_definition(logical_id: str, region: str = "us-east-1", account: str = "123456789012") -> str:
    """The state machine's ASL file with its ``DefinitionSubstitutions`` applied, as CloudFormation would."""
    props = resources()[logical_id]["Properties"]
    text = (ROOT / props["DefinitionUri"]).read_text()
    for name, value in (props.get("DefinitionSubstitutions") or {}).items():
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            resolved = function_arn(target[0] if isinstance(target, list) else target.split(".")[0], region, account)
        elif isinstance(value, dict) and value.get("Ref") == "AWS::Partition":
            resolved = "aws"
        elif isinstance(value, dict) and value.get("Ref") == "AWS::Region":
            resolved = region
        else:
            resolved = str(value)
        text = text.replace("${" + name + "}", resolved)
    return text


def deploy_state_machines(
    session: Any, stack_name: str, region: str = "us-east-1", account: str = "123456789012"
) -> dict[str, str]:
    """Create the template's state machines in the emulator (moto's CloudFormation does not know the
    serverless type); returns each logical id's ARN."""
    client = session.client("stepfunctions")
    arns: dict[str, str] = {}
    for logical_id, resource in resources().items():
        if resource["Type"] != "AWS::Serverless::StateMachine":
            continue
        created = client.create_state_machine(
            name=f"{stack_name}-{logical_id}",
            definition=state_machine_definition(logical_id, region, account),
            roleArn=f"arn:aws:iam::{account}:role/{stack_name}-{logical_id}",
            type=str(resource["Properties"].get("Type", "STANDARD")),
        )
        arns[logical_id] = created["stateMachineArn"]
    return arns


def create_table(session: Any, logical_id: str, table_name: str) -> None:
    """Create another table like the template's ``logical_id`` (keys, indexes, billing, encryption, TTL,
    stream) in the emulator the ``session`` points at, through the DynamoDB API (faster than a stack)."""
    props = resources()[logical_id]["Properties"]
    definition: dict[str, Any] = {
        name: props[name]
        for name in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
        if name in props
    }
    if "SSESpecification" in props:
        definition["SSESpecification"] = {"Enabled": bool(props["SSESpecification"].get("SSEEnabled"))}
    if "StreamSpecification" in props:
        view = props["StreamSpecification"]["StreamViewType"]
        definition["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": view}
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(TableName=table_name, **definition)
    ttl = props.get("TimeToLiveSpecification")
    if ttl:
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])},
        )


def data_environment(physical: dict[str, str]) -> dict[str, str]:
    """The variables that name the deployed data resources, for functions run in this process."""
    return {
        "TABLE_NAME": physical["Table"],
        "TOKEN_KMS_KEY_ID": physical["TokenKey"],
        "INBOUND_QUEUE_URL": physical["InboundQueue"],
        "OUTBOUND_QUEUE_URL": physical["OutboundQueue"],
        "INBOUND_OVERFLOW_BUCKET": physical["InboundOverflowBucket"],
    }


def resolve(value: Any, physical: dict[str, str], parameters: dict[str, str], arns: dict[str, str]) -> str:
    """Resolve the intrinsics the template uses in environment variables (Ref, GetAtt Arn, Sub of one)."""
    if isinstance(value, dict):
        if "Ref" in value:
            name = value["Ref"]
            if name in parameters:
                return parameters[name]
            return physical[name]
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            logical_id = target[0] if isinstance(target, list) else target.split(".")[0]
            return arns[logical_id]
        raise ValueError(f"unsupported intrinsic in environment: {value}")
    return str(value)
