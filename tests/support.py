"""Test helpers: tokens, an in-process AWS stack built from template.yaml, and an HTTP client over SAM's
local API Gateway app (the same event construction `sam local start-api` uses)."""

from __future__ import annotations

import itertools
import json
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import jwt
from moto import mock_aws

from local import apigw_seams, function_urls, moto_seams, stepfunctions
from local import template as tpl
from local.graph_simulator import DEFAULT_TEMPLATES, GraphSimulator, template_id
from local.lambdas import LocalLambdas, SamRunner, ensure_layer_on_path, forget_container_state
from local.sqs_worker import EventSourceMapping, SqsPoller
from local.stream_worker import StreamPoller, stream_mapping

ensure_layer_on_path()

from mkt_whatsapp.core.settings import API_BASE_PATH  # noqa: E402
from mkt_whatsapp.whatsapp.signature import sign  # noqa: E402

JWT_SECRET = os.environ["JWT_SECRET"]
# The spec and Meta's conformance examples live beside the repo (../shared); tests that read them fail,
# never skip, when they are missing.
META_EXAMPLES = tpl.ROOT.parent / "shared" / "conformance" / "meta"
META_APP_SECRET = os.environ["META_APP_SECRET"]


def meta_example(name: str) -> Path:
    """One of Meta's conformance examples in ../shared; fails (at collection, if used there) when missing."""
    path = META_EXAMPLES / name
    assert path.is_file(), f"{path} is missing: the tests need ../shared (Meta's conformance examples)"
    return path


def meta_examples(pattern: str) -> list[str]:
    """The names of Meta's conformance examples matching ``pattern``; fails when there are none."""
    names = sorted(path.name for path in META_EXAMPLES.glob(pattern))
    assert names, f"no {pattern} in {META_EXAMPLES}: the tests need ../shared (Meta's conformance examples)"
    return names


def reset_caches() -> None:
    """Forget settings and per-container caches so the next request reads the current environment. The
    worker's emulator stays the same, so its boto3 session and clients are kept (a new session parses
    the services' models again); ``deploy_stack`` forgets them too."""
    forget_container_state(clients=False)


def make_token(
    shop_ids: list[str] | None = None,
    *,
    sub: str = "agent-1",
    secret: str = JWT_SECRET,
    algorithm: str = "HS256",
    expires_in: int = 3600,
    extra: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "shop_ids": shop_ids or ["shop-1"], "iat": now, "exp": now + expires_in}
    claims.update(extra or {})
    for name in drop:
        claims.pop(name, None)
    return jwt.encode(claims, secret, algorithm=algorithm)


def unsigned_token(shop_ids: list[str]) -> str:
    """A token with ``alg: none`` (no signature), as an attacker would send it."""
    return jwt.encode({"sub": "x", "shop_ids": shop_ids, "exp": int(time.time()) + 3600}, key=None, algorithm="none")


@dataclass
class AwsStack:
    physical: dict[str, str]
    session: boto3.session.Session

    @property
    def table_name(self) -> str:
        return self.physical["Table"]

    def client(self, service: str) -> Any:
        """One client per service and stack (creating one costs tens of milliseconds)."""
        key = (id(self.session), service)
        if key not in _CLIENTS:
            _CLIENTS[key] = self.session.client(service)
        return _CLIENTS[key]


_CLIENTS: dict[tuple[int, str], Any] = {}


@contextmanager
def counted_aws_calls() -> Iterator[Counter[str]]:
    """Count the service's AWS calls (``"dynamodb:UpdateItem"``…) made in the block, on its own clients
    (a client copies its session's event hooks when it is made, so hooks go on the clients)."""
    from mkt_whatsapp.core import aws

    counter: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        counter[f"{model.service_model.service_name}:{model.name}"] += 1

    clients = [aws.dynamodb(), aws.kms(), aws.sqs(), aws.s3(), aws.stepfunctions()]
    for client in clients:
        client.meta.events.register("before-call", count, unique_id="tests-aws-call-counter")
    try:
        yield counter
    finally:
        for client in clients:
            client.meta.events.unregister("before-call", unique_id="tests-aws-call-counter")


_STACK_NUMBERS = itertools.count(1)


@contextmanager
def deploy_stack(rate_limit: int | None = None) -> Iterator[AwsStack]:
    """A stack of its own: moto entered for the block and the template's resources deployed in it."""
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        session = boto3.session.Session(region_name="us-east-1")
        stack_name = f"test-{next(_STACK_NUMBERS)}"
        physical = tpl.deploy_resources(session, stack_name, secret_values={})
        physical.update(tpl.deploy_state_machines(session, stack_name))
        os.environ.update(tpl.data_environment(physical))
        os.environ["FLOW_STATE_MACHINE_ARN"] = physical["FlowStateMachine"]
        os.environ["CAMPAIGN_STATE_MACHINE_ARN"] = physical["CampaignStateMachine"]
        # The flow and campaign state machines' Lambda tasks run the in-process handlers (local/stepfunctions.py).
        stepfunctions.install(lambdas(), {name: name for name in lambdas().specs})
        forget_container_state()
        try:
            yield AwsStack(physical=physical, session=session)
        finally:
            forget_container_state()
            for key in [key for key in _CLIENTS if key[0] == id(session)]:
                del _CLIENTS[key]


@contextmanager
def worker_stack() -> Iterator[AwsStack]:
    """The test worker's emulator: moto for the whole session, the template's resources deployed once, and
    moto's transactions backed by item snapshots (a table that lives for the session keeps them cheap)."""
    moto_seams.install()
    with deploy_stack() as stack:
        yield stack


@contextmanager
def fresh_table(stack: AwsStack) -> Iterator[AwsStack]:
    """``stack`` with a table of its own (created from the template's definition, deleted afterwards) and
    empty queues: what a test sees is what it wrote, whatever ids it uses."""
    name = f"{stack.physical['Table']}-{next(_STACK_NUMBERS)}"
    tpl.create_table(stack.session, "Table", name)
    previous = os.environ.get("TABLE_NAME")
    os.environ["TABLE_NAME"] = name
    empty_queues(stack)
    reset_caches()
    try:
        yield AwsStack(physical={**stack.physical, "Table": name}, session=stack.session)
    finally:
        if previous is None:
            os.environ.pop("TABLE_NAME", None)
        else:
            os.environ["TABLE_NAME"] = previous
        empty_queues(stack)
        reset_caches()
        stack.client("dynamodb").delete_table(TableName=name)
        for key in [key for key in _STREAM_POLLERS if key[1] == name]:
            del _STREAM_POLLERS[key]


def empty_queues(stack: AwsStack) -> None:
    """Empty every queue of the stack, in flight messages included. moto's PurgeQueue refuses a second
    purge within 60 s (as SQS does), so the emulator's queues are emptied directly."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    backend = sqs_backends[DEFAULT_ACCOUNT_ID][stack.session.region_name]
    for logical_id, resource in tpl.resources().items():
        if resource["Type"] == "AWS::SQS::Queue":
            queue = backend.get_queue(stack.physical[logical_id].rsplit("/", 1)[-1])
            queue._messages = []
            queue._pending_messages = set()


@dataclass(frozen=True)
class ShopIds:
    """A shop id and a WhatsApp phone number id no other test uses (numbers are claimed table-wide)."""

    shop_id: str
    phone_number_id: str


_SHOP_NUMBERS = itertools.count(1)
_current_shop: ShopIds | None = None


def new_shop_ids() -> ShopIds:
    number = next(_SHOP_NUMBERS)
    process = os.getpid() % 100_000
    return ShopIds(shop_id=f"shop-{process}-{number}", phone_number_id=f"1065{process:05d}{number:06d}")


def use_shop_ids(ids: ShopIds | None) -> None:
    """Make ``ids`` what :func:`connect_shop` connects when given no shop (the ``shop_ids`` fixture)."""
    global _current_shop
    _current_shop = ids


def connect_shop(
    api: ApiClient, shop_id: str | None = None, phone_number_id: str | None = None, *, waba_id: str | None = None
) -> ApiClient:
    """Give ``api`` a token for the shop and connect the shop's WhatsApp number (through the Graph simulator),
    with its WhatsApp Business Account when ``waba_id`` is given. Without a shop, the test's own (the
    ``shop_ids`` fixture's) shop and number."""
    if shop_id is None:
        ids = _current_shop or new_shop_ids()
        shop_id, phone_number_id = ids.shop_id, phone_number_id or ids.phone_number_id
    phone_number_id = phone_number_id or "106540352242922"
    api.token = make_token([shop_id])
    body = {"shopId": shop_id, "phoneNumberId": phone_number_id, "accessToken": "EAAtest-token"}
    reply = api.post("/accounts", json_body={**body, **({"wabaId": waba_id} if waba_id else {})})
    assert reply.status == 201, reply.text
    return api


def seed_templates(shop_id: str, *templates: dict[str, Any]) -> None:
    """Store ``templates`` (Meta's shape; the Graph simulator's :data:`DEFAULT_TEMPLATES` without any) for the
    shop as a sync from Meta would: what a template send needs, for a shop connected without its WhatsApp
    Business Account (``POST /templates/sync`` reads them through the simulator otherwise)."""
    from mkt_whatsapp.core.clock import now_iso
    from mkt_whatsapp.store import get_table
    from mkt_whatsapp.store import templates as template_store
    from mkt_whatsapp.whatsapp.templates import definition_of

    for entry in templates or DEFAULT_TEMPLATES:
        definition = definition_of({"id": template_id("seeded", entry["name"], entry["language"]), **entry})
        assert definition is not None, entry
        template_store.put_synced(get_table(), shop_id, definition, at=int(time.time()), now=now_iso())


def drain_inbound(stack: AwsStack) -> int:
    """Deliver everything on the inbound queue to the inbound processor, as Lambda's event source mapping
    would; returns how many queue messages were delivered."""
    return drain(stack, "InboundQueue", "InboundProcessorFunction", batch_size=10)


def drain(stack: AwsStack, queue: str, function: str, *, batch_size: int) -> int:
    """Deliver everything visible on the template's ``queue`` to ``function`` (both logical ids), as
    Lambda's event source mapping would; returns how many queue messages were delivered."""
    sqs = stack.client("sqs")
    url = stack.physical[queue]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    mapping = EventSourceMapping(function, url, arn, batch_size=batch_size, report_batch_item_failures=True)
    poller = SqsPoller(lambdas(), mapping, sqs, "us-east-1", wait_seconds=0)
    delivered = 0
    while received := poller.poll_once():
        delivered += received
    return delivered


_STREAM_POLLERS: dict[tuple[int, str, str], StreamPoller] = {}


def stream_poller(stack: AwsStack, function: str = "StatsFunction") -> StreamPoller:
    """The poller that delivers the stack's table's stream to ``function`` as its template event says; one
    per table, so each shard's position is remembered between drains."""
    key = (id(stack.session), stack.table_name, function)
    if key not in _STREAM_POLLERS:
        [properties] = [
            event["Properties"] for event in tpl.functions()[function].events.values() if event["Type"] == "DynamoDB"
        ]
        mapping = stream_mapping(function, stack.table_name, properties)
        _STREAM_POLLERS[key] = StreamPoller(
            lambdas(), mapping, stack.client("dynamodb"), stack.client("dynamodbstreams"), "us-east-1"
        )
    return _STREAM_POLLERS[key]


def drain_stats(stack: AwsStack) -> int:
    """Deliver every stream record of the table written since the last drain (the filter's survivors) to
    StatsFunction, as Lambda's event source mapping would; returns how many records were delivered. A
    batch the function fails raises :class:`local.lambdas.FunctionError` and is delivered again, as it
    was, by the next drain."""
    poller = stream_poller(stack)
    delivered = 0
    while received := poller.poll_once():
        delivered += received
    return delivered


def queue_depth(stack: AwsStack, logical_id: str) -> int:
    attributes = stack.client("sqs").get_queue_attributes(
        QueueUrl=stack.physical[logical_id],
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def inbound_text_change(
    phone_number_id: str, wa_id: str, wamid: str, *, at: int | None = None, body: str = "hi", name: str = "Nguyễn Văn A"
) -> dict[str, Any]:
    """One ``messages`` change as the inbound queue carries it: a customer's text (``at``: epoch seconds,
    now by default), for ``processor.process_change``."""
    timestamp = str(int(time.time()) if at is None else at)
    message = {"from": wa_id, "id": wamid, "timestamp": timestamp, "type": "text", "text": {"body": body}}
    return {
        "field": "messages",
        "value": {
            "messaging_product": "whatsapp",
            "metadata": {"phone_number_id": phone_number_id},
            "contacts": [{"profile": {"name": name}, "wa_id": wa_id}],
            "messages": [message],
        },
    }


def whatsapp_delivery(phone_number_id: str, value: dict[str, Any]) -> dict[str, Any]:
    """A webhook body as Meta sends it: one entry with one ``messages`` change for ``phone_number_id``."""
    change = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": phone_number_id}, **value}
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "messages", "value": change}]}],
    }


def post_webhook(api: ApiClient, payload: Any) -> Reply:
    """POST a webhook body signed as Meta signs it (non-ASCII escaped, over the raw bytes)."""
    raw = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=True).encode()
    return api.post(
        "/webhooks",
        data=raw,
        token="",
        headers={"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, META_APP_SECRET)},
    )


def deliver(api: ApiClient, stack: AwsStack, payload: Any) -> int:
    """Meta's delivery end to end: signed POST, 200, then the inbound processor drains the queue."""
    reply = post_webhook(api, payload)
    assert reply.status == 200, reply.text
    return drain_inbound(stack)


@contextmanager
def graph_simulator() -> Iterator[GraphSimulator]:
    simulator = GraphSimulator().start()
    os.environ["GRAPH_API_BASE_URL"] = simulator.url
    reset_caches()
    try:
        yield simulator
    finally:
        simulator.stop()


_LAMBDAS: LocalLambdas | None = None


def lambdas() -> LocalLambdas:
    global _LAMBDAS
    if _LAMBDAS is None:
        _LAMBDAS = LocalLambdas(tpl.functions())
    return _LAMBDAS


def local_api(*, with_function_urls: bool = False) -> Any:
    """SAM's LocalApigwService Flask app over the in-process handlers (HTTP API events); with
    ``with_function_urls``, a function URL's path gets function-URL events instead, as in the local stack."""
    from samcli.lib.providers.api_provider import ApiProvider
    from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
    from samcli.local.apigw.local_apigw_service import LocalApigwService

    apigw_seams.install()
    stacks, _ = SamLocalStackProvider.get_stacks(str(tpl.TEMPLATE))
    service = LocalApigwService(ApiProvider(stacks).api, SamRunner(lambdas()), port=0, host="127.0.0.1")
    service.create()
    if with_function_urls:
        function_urls.install(service._app, lambdas())
    return service._app


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    text: str

    @property
    def json(self) -> Any:
        return json.loads(self.text)

    @property
    def data(self) -> Any:
        return self.json["data"]

    @property
    def code(self) -> str | None:
        return self.json.get("details", {}).get("code")

    @property
    def field(self) -> str | None:
        return self.json.get("details", {}).get("field")


class ApiClient:
    """Requests to the API through SAM's local API Gateway app (relative paths get the base path)."""

    def __init__(self, flask_app: Any, token: str | None = None) -> None:
        self._client = flask_app.test_client()
        self.token = token

    def as_shops(self, *shop_ids: str) -> ApiClient:
        return ApiClient.__new__(ApiClient)._init_from(self, make_token(list(shop_ids)))

    def _init_from(self, other: ApiClient, token: str | None) -> ApiClient:
        self._client = other._client
        self.token = token
        return self

    def request(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        data: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Reply:
        all_headers = dict(headers or {})
        bearer = token if token is not None else self.token
        if bearer:
            all_headers.setdefault("Authorization", f"Bearer {bearer}")
        if json_body is not None:
            data = json.dumps(json_body)
            all_headers.setdefault("Content-Type", "application/json")
        url = path if path.startswith("/") and path.startswith(API_BASE_PATH) else API_BASE_PATH + path
        response = self._client.open(url, method=method, data=data, headers=all_headers, query_string=query)
        return Reply(status=response.status_code, headers=dict(response.headers), text=response.get_data(as_text=True))

    def get(self, path: str, **kwargs: Any) -> Reply:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Reply:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Reply:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Reply:
        return self.request("DELETE", path, **kwargs)


def poll_until(predicate: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Poll ``predicate`` every 50 ms until it returns something truthy (what a state machine running in
    moto's own thread makes true), and return that; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
