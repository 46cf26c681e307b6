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
    }
)
os.environ.pop("AWS_ENDPOINT_URL", None)
os.environ.pop("AWS_PROFILE", None)

from collections.abc import Iterator

import pytest

from local.graph_simulator import GraphSimulator
from tests.support import ApiClient, AwsStack, deploy_stack, graph_simulator, local_api


@pytest.fixture(scope="session")
def graph() -> Iterator[GraphSimulator]:
    with graph_simulator() as simulator:
        yield simulator


@pytest.fixture
def aws(graph: GraphSimulator) -> Iterator[AwsStack]:
    graph.state.faults.clear()
    graph.state.latency_seconds = 0.0
    with deploy_stack() as stack:
        yield stack


@pytest.fixture(scope="module")
def module_aws(graph: object) -> Iterator[AwsStack]:
    """One stack for a whole module, for tests that only read or never touch stored state."""
    with deploy_stack() as stack:
        yield stack


@pytest.fixture(scope="session")
def _sam_api() -> object:
    return local_api()


@pytest.fixture
def api(aws: AwsStack, _sam_api: object) -> ApiClient:
    return ApiClient(_sam_api)


@pytest.fixture(scope="module")
def module_api(module_aws: AwsStack, _sam_api: object) -> ApiClient:
    return ApiClient(_sam_api)
