"""Start the local stack (`python -m local.stack`, what `make dev` runs) as a subprocess on a free port: one
per test worker, shared by the e2e tests (each uses shop and number ids of its own), and its own for a test
that stops a stack or needs other settings."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from local.defaults import LOCAL_DEFAULTS
from local.devtools import mint_token
from local.graph_simulator import GraphSimulator

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RunningStack:
    process: subprocess.Popen[str]
    port: int
    ready_line: str
    env: dict[str, str]
    # What the stack prints after its banner, a line at a time (read by a thread, so the pipe never fills).
    output: queue.Queue[str] = field(default_factory=queue.Queue)
    seen: list[str] = field(default_factory=list)

    def wait_for_line(self, pattern: str, timeout: float = 10) -> str:
        """The next line the stack prints that matches ``pattern`` (a regular expression)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.output.get(timeout=max(0.0, deadline - time.monotonic())).rstrip("\n")
            except queue.Empty:
                break
            self.seen.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"no line matching {pattern!r} in:\n" + "\n".join(self.seen))

    def printed(self) -> list[str]:
        """Every line printed after the banner so far."""
        while True:
            try:
                self.seen.append(self.output.get_nowait().rstrip("\n"))
            except queue.Empty:
                return list(self.seen)

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/whatsapp"

    def token(self, *shops: str) -> str:
        """What ``make token SHOP=...`` prints for this stack (minted here: the README test runs make)."""
        return mint_token(list(shops), secret=self.env.get("JWT_SECRET") or LOCAL_DEFAULTS["JWT_SECRET"])

    def connect(self, shop_id: str, phone_number_id: str, access_token: str = "EAAe2e-token") -> dict[str, str]:
        """Connect the shop's number over HTTP; returns the shop's Authorization header."""
        auth = {"Authorization": f"Bearer {self.token(shop_id)}"}
        reply = httpx.post(
            f"{self.api}/accounts",
            headers=auth,
            json={"shopId": shop_id, "phoneNumberId": phone_number_id, "accessToken": access_token},
        )
        assert reply.status_code == 201, reply.text
        return auth

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the stack and wait for it to exit (a stack that is still running after ``timeout``
        seconds, generous for a loaded test machine, is killed and the test fails)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                return self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return int(self.process.returncode)


def _copy_lines(source: Iterable[str], lines: queue.Queue[str]) -> None:
    for line in source:
        lines.put(line)


def start_stack(extra_env: dict[str, str] | None = None, timeout: float = 90) -> RunningStack:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "PYTHONUNBUFFERED": "1"}
    # A user's shell: none of the unit tests' settings, so the stack's own defaults apply.
    for name in (
        "TABLE_NAME",
        "TOKEN_KMS_KEY_ID",
        "OUTBOUND_QUEUE_URL",
        "AWS_ENDPOINT_URL",
        "GRAPH_API_BASE_URL",
        "JWT_SECRET",
        "META_APP_SECRET",
        "WEBHOOK_VERIFY_TOKEN",
        "POWERTOOLS_METRICS_NAMESPACE",
        "FLOW_TIME_SCALE",
        "CAMPAIGN_PAGE_SIZE",
        "CAMPAIGN_POLL_SECONDS",
    ):
        if name not in (extra_env or {}):
            env.pop(name, None)
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + timeout
    assert process.stdout is not None
    lines: list[str] = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            if process.poll() is not None:
                raise RuntimeError("local stack exited:\n" + "".join(lines))
            continue
        lines.append(line)
        if "Ctrl-C" in line:  # the last line of the ready banner
            banner = "".join(lines[next(i for i, text in enumerate(lines) if "ready:" in text) :])
            stack = RunningStack(process=process, port=port, ready_line=banner, env=env)
            threading.Thread(target=_copy_lines, args=(process.stdout, stack.output), daemon=True).start()
            httpx.get(f"{stack.api}/health", timeout=10).raise_for_status()
            return stack
    process.kill()
    raise RuntimeError("local stack did not become ready:\n" + "".join(lines))


@pytest.fixture(scope="session")
def e2e_graph() -> Iterator[GraphSimulator]:
    """The Graph API simulator the shared stack calls, in this process so tests can read it."""
    simulator = GraphSimulator().start()
    try:
        yield simulator
    finally:
        simulator.stop()


@pytest.fixture(scope="session")
def _shared_stack(e2e_graph: GraphSimulator) -> Iterator[RunningStack]:
    running = start_stack({"GRAPH_API_BASE_URL": e2e_graph.url})
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def stack(_shared_stack: RunningStack, e2e_graph: GraphSimulator) -> RunningStack:
    """The worker's running stack, with the simulator's record and faults cleared for the test."""
    assert _shared_stack.process.poll() is None, "the shared local stack has exited"
    e2e_graph.state.requests.clear()
    e2e_graph.state.faults.clear()
    e2e_graph.state.latency_seconds = 0.0
    return _shared_stack
