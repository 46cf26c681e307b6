"""The layer's map holds: imports run one way (features → messaging → store, whatsapp → models → core),
and only ``http/`` knows there is a request (docs/architecture.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "layers" / "shared" / "mkt_whatsapp"

FEATURES = (
    "accounts",
    "inbound",
    "conversations",
    "customers",
    "ai",
    "flows",
    "system",
    "analytics",
    "campaigns",
    "templates",
)
DOMAIN = {"messaging", "store", "whatsapp", "models", "core"}
ALLOWED: dict[str, set[str]] = {
    "core": {"core"},
    "models": {"models", "core"},
    "store": {"store", "models", "core"},
    "whatsapp": {"whatsapp", "models", "core"},
    "messaging": {"messaging", "store", "whatsapp", "models", "core"},
    # http/operations names every request model the API reads, message content and Meta's webhook included.
    "http": {"http", "store", "whatsapp", "models", "core"},
    **{feature: {feature, *DOMAIN} for feature in FEATURES},
    # Flows orchestrate the other features: a step tags a customer, assigns or closes a conversation,
    # lets an AI agent answer. Nothing imports flows but the functions (no feature depends on it).
    "flows": {"flows", "ai", "conversations", "customers", *DOMAIN},
    # A campaign sends in the customer's conversation (opening one if none is open), reads customers' tags and
    # its messages' funnel (analytics counts it from the table's stream).
    "campaigns": {"campaigns", "conversations", "customers", "analytics", *DOMAIN},
}
# What only the HTTP layer may import: the request and its resolver.
REQUEST_MODULES = ("aws_lambda_powertools.event_handler", "mkt_whatsapp.http")


def modules() -> list[Path]:
    return sorted(path for path in PACKAGE.rglob("*.py") if path.parent != PACKAGE)


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


def folder(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0]


def test_every_module_lives_in_a_known_folder() -> None:
    assert {folder(path) for path in modules()} == set(ALLOWED)
    assert [path.name for path in PACKAGE.glob("*.py")] == ["__init__.py"]


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_run_one_way(path: Path) -> None:
    used = {
        name.split(".")[1]
        for name in imported(path)
        if name.startswith("mkt_whatsapp.") and (PACKAGE / name.split(".")[1]).is_dir()
    }
    assert used <= ALLOWED[folder(path)], f"{path.relative_to(PACKAGE)} imports {sorted(used - ALLOWED[folder(path)])}"


@pytest.mark.parametrize(
    "path", [p for p in modules() if folder(p) != "http"], ids=lambda path: str(path.relative_to(PACKAGE))
)
def test_only_http_knows_there_is_a_request(path: Path) -> None:
    text = path.read_text()
    reads = [name for name in imported(path) if name.startswith(REQUEST_MODULES)]
    assert not reads, f"{path.relative_to(PACKAGE)} imports {reads}"
    for marker in ("current_request", "current_event", "LambdaContext"):
        assert marker not in text, f"{path.relative_to(PACKAGE)} reads the request ({marker})"


def test_the_checks_see_a_violation(tmp_path: Path) -> None:
    """The import reader finds a request import written in either form."""
    probe = tmp_path / "probe.py"
    probe.write_text("from mkt_whatsapp import http\nfrom mkt_whatsapp.http.guard import actor\n")
    assert {"mkt_whatsapp.http", "mkt_whatsapp.http.guard"} <= imported(probe)
