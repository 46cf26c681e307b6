"""What each function loads at import (deterministic guards behind the cold-start figures of
`make bench`): public functions load no JWT or pydantic code, and no function loads httpx before it
calls the Graph API."""

from __future__ import annotations

import json
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from local import template as tpl

PROBE = """
import importlib.util, json, sys
sys.path.insert(0, {layer!r})
spec = importlib.util.spec_from_file_location("app", {module!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(sorted(sys.modules)))
"""


FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "lambdas"


@cache
def modules_loaded_by(module_file: Path) -> frozenset[str]:
    """Every module a handler module has loaded once imported, in a fresh interpreter (once per session)."""
    code = PROBE.format(layer=str(tpl.ROOT / "layers" / "shared"), module=str(module_file))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"},
    )
    return frozenset(json.loads(result.stdout.strip().splitlines()[-1]))


def imported_modules(function: str) -> set[str]:
    """Every module the function's handler module has loaded once imported, in a fresh interpreter."""
    return set(modules_loaded_by(tpl.functions()[function].module_file))


def imported_packages(function: str) -> set[str]:
    return {name.split(".")[0] for name in imported_modules(function)}


def test_the_import_probe_sees_a_handler_that_loads_openai_and_httpx() -> None:
    """The guard below can fail: the same probe finds openai and httpx in a handler module that imports
    them at module level."""
    packages = {name.split(".")[0] for name in modules_loaded_by(FIXTURES / "imports_openai.py")}
    assert "openai" in packages
    assert "httpx" in packages


@pytest.mark.parametrize("function", sorted(tpl.functions()))
def test_no_function_loads_httpx_or_openai_at_import(function: str) -> None:
    packages = imported_packages(function)
    assert "httpx" not in packages
    assert "openai" not in packages


@pytest.mark.parametrize("function", ["WebhooksFunction", "SystemFunction"])
def test_public_functions_load_neither_jwt_nor_pydantic(function: str) -> None:
    packages = imported_packages(function)
    assert "jwt" not in packages
    assert "pydantic" not in packages


def test_no_function_loads_powertools_openapi_validation() -> None:
    for function in tpl.functions():
        modules = imported_modules(function)
        assert "aws_lambda_powertools.event_handler.middlewares.openapi_validation" not in modules, function


def test_content_models_load_only_with_a_send() -> None:
    """The outbound content models are the largest set of models: the sender gets ready Graph bodies and
    never loads them; the conversations function loads them with its first send, not at import."""
    for function in ("SenderFunction", "ConversationsFunction"):
        assert "mkt_whatsapp.whatsapp.outbound_content" not in imported_modules(function), function


def test_the_ai_agents_api_loads_no_models_at_import() -> None:
    """Its requests carry the largest models (knowledge of 2,500 entries): they load with the first request
    that parses one. Its routes never call the provider but the test one, which loads openai then."""
    packages = imported_packages("AiAgentsFunction")
    assert "pydantic" not in packages
    assert "openai" not in packages
