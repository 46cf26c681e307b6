"""The benchmarks' in-process stack: moto with template.yaml's resources, the Graph simulator, the
functions loaded as Lambda would, and the service's AWS calls counted with botocore's event hooks."""

from __future__ import annotations

import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3
from moto import mock_aws

from local import template as tpl
from local.graph_simulator import GraphSimulator
from local.lambdas import LocalLambdas, ensure_layer_on_path, forget_container_state
from local.make_events import http_event

ensure_layer_on_path()

SHOP = "bench-shop"
PHONE_NUMBER_ID = "5550001"


def delivery(value: dict[str, Any]) -> bytes:
    """A webhook body as Meta sends it: one entry, one ``messages`` change for the bench's number."""
    change = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550001", "phone_number_id": PHONE_NUMBER_ID},
        **value,
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": change}]}],
    }
    return json.dumps(body, ensure_ascii=True).encode()


def bench_token() -> str:
    import jwt

    return jwt.encode(
        {"sub": "bench", "shop_ids": [SHOP], "exp": 4102444800}, os.environ["JWT_SECRET"], algorithm="HS256"
    )


def auth_headers() -> dict[str, str]:
    return {"authorization": f"Bearer {bench_token()}", "content-type": "application/json"}


def connect_account(lambdas: LocalLambdas, waba_id: str | None = None) -> None:
    """Connect the bench shop's number through the Accounts function (the Graph simulator answers), with its
    WhatsApp Business Account when ``waba_id`` is given (what a template sync and a campaign need)."""
    account = {"shopId": SHOP, "phoneNumberId": PHONE_NUMBER_ID, "accessToken": "EAAbench"}
    body = json.dumps({**account, **({"wabaId": waba_id} if waba_id else {})}).encode()
    event = http_event("POST", "/accounts", "/accounts", headers=auth_headers(), body=body)
    answer = lambdas.invoke("AccountsFunction", event)
    assert answer["statusCode"] == 201, answer


def queued_message(message_id: str, text: str, at: str) -> dict[str, Any]:
    """An outbound text message of the bench shop as the API stores it before sending: ``queued``."""
    return {
        "PK": f"MSG#{message_id}",
        "SK": "MESSAGE",
        "entity": "message",
        "id": message_id,
        "shopId": SHOP,
        "conversationId": "bench-conversation",
        "direction": "outbound",
        "content": {"type": "text", "text": text},
        "status": "queued",
        "statusRank": 0,
        "statusTimestamps": {"queued": at},
        "timestamp": at,
    }


@dataclass
class BenchStack:
    session: boto3.session.Session
    physical: dict[str, str]
    lambdas: LocalLambdas
    simulator: GraphSimulator
    calls: Counter[str] = field(default_factory=Counter)
    writes: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def auth_headers(self) -> dict[str, str]:
        return auth_headers()

    def connect_account(self, waba_id: str | None = None) -> None:
        connect_account(self.lambdas, waba_id)

    def reply_event(self, text: str) -> dict[str, Any]:
        """An agent's ``POST /conversations/{id}/messages`` of ``text`` to the shop's newest conversation (read
        with the API, as the front end would find it)."""
        listing = self.lambdas.invoke(
            "ConversationsFunction",
            http_event("GET", "/conversations", "/conversations", query={"shopId": SHOP}, headers=self.auth_headers()),
        )
        conversation_id = json.loads(listing["body"])["data"]["conversations"][0]["id"]
        return http_event(
            "POST",
            "/conversations/{conversationId}/messages",
            f"/conversations/{conversation_id}/messages",
            headers=self.auth_headers(),
            body=json.dumps({"content": {"type": "text", "text": text}}).encode(),
            path_parameters={"conversationId": conversation_id},
        )


@contextmanager
def bench_stack(stack_name: str, *, flows: bool = False, campaigns: bool = False) -> Iterator[BenchStack]:
    """``flows``: moto executes the flow state machine too (its Lambda tasks run in this process, as
    local/stepfunctions.py routes them), and the functions know its ARN. ``campaigns``: the campaign state
    machine exists and the functions know its ARN, but moto does not execute it: the bench steps its runner
    itself (bench/campaign_messages.py)."""
    from mkt_whatsapp.core import aws

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log line per simulated Graph call
    simulator = GraphSimulator().start()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "JWT_SECRET": "bench-jwt-secret-0123456789abcdef",
            "META_APP_SECRET": "bench-app-secret",
            "WEBHOOK_VERIFY_TOKEN": "bench-verify",
            "GRAPH_API_BASE_URL": simulator.url,
            "POWERTOOLS_METRICS_NAMESPACE": "Bench",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
            "RATE_LIMIT_PER_MINUTE": "100000",
        }
    )
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from local import moto_seams

    # As the tests and make dev run moto: transactions copy only the items they touch (not the whole
    # table, which made throughput fall as the bench's table grew), requests atomic, the stream as
    # DynamoDB Streams writes it.
    moto_seams.install()
    try:
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}) if flows else mock_aws():
            session = boto3.session.Session(region_name="us-east-1")
            physical = tpl.deploy_resources(session, stack_name, {})
            os.environ.update(tpl.data_environment(physical))
            if flows or campaigns:
                physical.update(tpl.deploy_state_machines(session, stack_name))
            if flows:
                os.environ["FLOW_STATE_MACHINE_ARN"] = physical["FlowStateMachine"]
            if campaigns:
                os.environ["CAMPAIGN_STATE_MACHINE_ARN"] = physical["CampaignStateMachine"]
            forget_container_state()
            stack = BenchStack(
                session=session, physical=physical, lambdas=LocalLambdas(tpl.functions()), simulator=simulator
            )
            if flows:
                from local import stepfunctions

                stepfunctions.install(stack.lambdas, {name: name for name in stack.lambdas.specs})

            counting = threading.Lock()  # the sender's sends run in threads of its own: no count lost between them

            def on_call(model: Any, **_: Any) -> None:
                with counting:
                    stack.calls[f"{model.service_model.service_name}:{model.name}"] += 1

            def on_parameters(model: Any, params: dict[str, Any], **_: Any) -> None:
                if model.name in ("TransactWriteItems", "PutItem", "UpdateItem", "DeleteItem"):
                    stack.writes.append((model.name, json.loads(json.dumps(params, default=str))))

            # Registered before any client exists: botocore clients copy the session's hooks when created.
            aws.session().events.register("before-call", on_call)
            aws.session().events.register("before-parameter-build.dynamodb", on_parameters)
            yield stack
    finally:
        moto_seams.uninstall()
        simulator.stop()
