"""``make dev``'s terminal, end to end: the real ``python -m local.stack`` prints one line per request and
per worker job (the table's stream's included), and no EMF JSON (which stays as it is in AWS)."""

from __future__ import annotations

import contextlib
import subprocess

import httpx
import pytest

from local.defaults import LOCAL_DEFAULTS
from local.make_events import webhook_body
from mkt_whatsapp.whatsapp.signature import sign
from tests.e2e.conftest import start_stack

MS = r"\d+ ms"


@pytest.mark.e2e
def test_make_dev_prints_one_line_per_request_and_job_and_no_emf() -> None:
    stack = start_stack()  # its own: the stack's own Graph simulator and defaults, as `make dev` runs
    try:
        # Generous waits: a line comes as soon as it is printed, and a loaded test machine can be slow.
        stack.wait_for_line(rf"^GET /api/v1/whatsapp/health 200 {MS}$", timeout=30)  # start_stack's check
        assert httpx.get(f"{stack.api}/health", timeout=30).status_code == 200
        stack.wait_for_line(rf"^GET /api/v1/whatsapp/health 200 {MS}$", timeout=30)

        stack.connect("shop-1", "106540352242922")  # the webhook's number: its message is stored (and counted)
        raw = webhook_body()
        signature = sign(raw, LOCAL_DEFAULTS["META_APP_SECRET"])
        reply = httpx.post(f"{stack.api}/webhooks", content=raw, headers={"X-Hub-Signature-256": signature}, timeout=30)
        assert reply.json() == {"success": True}
        stack.wait_for_line(rf"^POST /api/v1/whatsapp/webhooks 200 {MS}$", timeout=30)
        stack.wait_for_line(rf"^InboundQueue → InboundProcessorFunction 1 ok 0 failed {MS}$", timeout=60)
        # The table's stream (the message, its conversation) delivered to the stats aggregator.
        stack.wait_for_line(rf"^Table → StatsFunction [1-9]\d* ok 0 failed {MS}$", timeout=60)
    finally:
        # Killed after 60 s if need be: how the stack stops is test_local_stack's to check (Ctrl-C,
        # SIGTERM), not this test's; on a loaded CI machine this stop once took over 20 s.
        with contextlib.suppress(subprocess.TimeoutExpired):
            stack.stop(timeout=60)
    printed = stack.printed()
    assert not [line for line in printed if line.startswith("{")], "\n".join(printed)
