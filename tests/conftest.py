"""Shared fixtures: moto in-process with the template's own resources, the Graph API simulator as a real
HTTP server, and SAM's local API Gateway (HTTP API v2 events) in front of the real handlers."""

from __future__ import annotations

import os

# Settings are read once per process: fix the environment before any handler module is imported.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "SAM_CLI_TELEMETRY": "0",
        "POWERTOOLS_SERVICE_NAME": "mkt-whatsapp-service",
        "POWERTOOLS_METRICS_NAMESPACE": "MktWhatsAppTest",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "JWT_SECRET": "unit-test-jwt-secret-0123456789abcdef",
        "META_APP_SECRET": "unit-test-meta-app-secret",
        "WEBHOOK_VERIFY_TOKEN": "unit-test-verify-token",
        # Flows wait 1/1000 of their seconds (an hour's question timeout in 4 s, a minute's in 1 s).
        "FLOW_TIME_SCALE": "0.001",
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

from collections.abc import Iterator

import pytest

from local.graph_simulator import GraphSimulator
from local.openai_simulator import OpenAISimulator
from tests.support import (
    ApiClient,
    AwsStack,
    ShopIds,
    connect_shop,
    fresh_table,
    graph_simulator,
    local_api,
    make_token,
    new_shop_ids,
    reset_caches,
    use_shop_ids,
    worker_stack,
)


@pytest.fixture(scope="session")
def graph() -> Iterator[GraphSimulator]:
    with graph_simulator() as simulator:
        yield simulator


@pytest.fixture(scope="session")
def _worker_aws() -> Iterator[AwsStack]:
    """One emulator per test worker (xdist runs each worker in its own process)."""
    with worker_stack() as stack:
        yield stack


@pytest.fixture
def aws(graph: GraphSimulator, _worker_aws: AwsStack) -> Iterator[AwsStack]:
    """The worker's stack with a table of the test's own and empty queues."""
    graph.state.faults.clear()
    graph.state.latency_seconds = 0.0
    with fresh_table(_worker_aws) as stack:
        yield stack


@pytest.fixture(scope="module")
def module_aws(graph: object, _worker_aws: AwsStack) -> Iterator[AwsStack]:
    """One table for a whole module, for tests that only read or never touch stored state."""
    with fresh_table(_worker_aws) as stack:
        yield stack


@pytest.fixture
def shop_ids() -> Iterator[ShopIds]:
    """A shop and phone number id of the test's own; ``connect_shop(api)`` connects them."""
    ids = new_shop_ids()
    use_shop_ids(ids)
    yield ids
    use_shop_ids(None)


@pytest.fixture(scope="session")
def _sam_api() -> object:
    return local_api()


@pytest.fixture
def api(aws: AwsStack, _sam_api: object, shop_ids: ShopIds) -> ApiClient:
    return ApiClient(_sam_api)


@pytest.fixture(scope="module")
def module_api(module_aws: AwsStack, _sam_api: object) -> ApiClient:
    return ApiClient(_sam_api)


@pytest.fixture(scope="module")
def openai() -> Iterator[OpenAISimulator]:
    """An OpenAI-compatible simulator over real HTTP (the AI agents' and the flows' AI steps)."""
    simulator = OpenAISimulator().start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture
def connected_shop(api: ApiClient, aws: AwsStack, graph: GraphSimulator, shop_ids: ShopIds) -> dict[str, object]:
    """The test's shop with its number connected, a token for it, and the Graph simulator's log empty."""
    connect_shop(api)
    api.token = make_token([shop_ids.shop_id])
    graph.state.requests.clear()
    return {"api": api, "aws": aws, "graph": graph, **vars(shop_ids)}


@pytest.fixture
def ai_provider(openai: OpenAISimulator, monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenAISimulator]:
    """The AI provider pointed at the simulator (emptied), with a generous timeout: a loaded test machine
    must not turn a slow simulator into a handoff."""
    from mkt_whatsapp.ai import provider

    monkeypatch.setenv("OPENAI_BASE_URL", openai.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local")
    monkeypatch.setenv("AI_TIMEOUT_SECONDS", "15")
    reset_caches()
    provider.reset()
    openai.reset()
    yield openai
    monkeypatch.undo()
    reset_caches()
    provider.reset()
