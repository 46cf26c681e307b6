"""The README's sessions, run as written (bash + curl + make) against a local stack."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import RunningStack, start_stack

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"


def bash_block(heading: str) -> str:
    """The first bash block of the README's section ``heading``."""
    section = README.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    found = re.search(r"```bash\n(.*?)```", section, re.S)
    assert found, f"no bash block in the README's {heading!r}"
    return found.group(1)


def first_session_script() -> str:
    return bash_block("A first session with curl")


def run_as_written(stack: RunningStack, script: str) -> list[str]:
    """The README's bash block run against ``stack`` (its port for 3000): the lines it printed."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script.replace("http://127.0.0.1:3000", f"http://127.0.0.1:{stack.port}")],
        cwd=README.parent,
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout.splitlines()


def test_the_readme_session_works_as_written(stack: RunningStack) -> None:
    script = first_session_script()
    assert "make -s token" in script
    lines = run_as_written(stack, script)
    (
        health,
        connected,
        account,
        challenge,
        signed,
        forged,
        listing,
        conversation,
        customer,
        refused,
        synced,
        approved,
        template,
    ) = lines
    assert '"status":"ok"' in health
    assert '"status":"active"' in connected
    assert '"messageTier":"tier_1"' in connected
    assert '"webhookUrl":"https://example.com/api/v1/whatsapp/webhooks"' in account
    assert challenge == "42"
    assert signed == '{"success":true}'
    assert forged == "401"
    assert '"totalCount":1' in listing
    assert '"text":"Xin chào, shop còn hàng không?"' in conversation
    assert '"name":"Nguyễn Văn A"' in customer
    assert '"code":"OUTSIDE_CUSTOMER_SERVICE_WINDOW"' in refused
    # The webhook's entry.id told the shop its WhatsApp Business Account: the sync read the simulator's templates.
    assert '"wabaId":"419561257915477","templates":12,' in synced
    assert '"complete":true' in synced
    assert "'order_update'" in approved
    assert "'summer_promo'" not in approved  # pending at Meta
    assert '"status":"sent"' in template


def ai_session_script() -> str:
    return bash_block("An AI sales agent")


def test_the_readme_ai_session_works_as_written(stack: RunningStack) -> None:
    """make dev with no OpenAI key: create, test and activate an agent; a customer's question is answered
    by the AI on WhatsApp; asking for a person hands off and flags the conversation."""
    script = ai_session_script()
    assert "make -s say" in script
    connected, tested, activated, said, answered, said_again, flagged = run_as_written(stack, script)
    assert connected == "201"
    assert '"generatedResponse":"Laptop' in tested
    assert '"tokensUsed":{"prompt":' in tested
    assert '"isActive":true' in activated
    assert said == said_again == '{"success":true}'
    assert answered.startswith("ai: ")
    assert "giao toàn quốc" in answered
    assert '"needsHuman":true' in flagged
    assert '"totalCount":1' in flagged


def flow_session_script() -> str:
    return bash_block("Flows in make dev")


def test_the_readme_flow_session_works_as_written(stack: RunningStack) -> None:
    """make dev: the welcome example flow created and activated with make flow; a customer says hi (make
    say), gets the greeting and the menu, presses "Mua hàng" (make press), is tagged and gets the catalog
    link; the flow's stats count one completed execution."""
    script = flow_session_script()
    assert "make -s flow" in script
    assert "make -s press" in script
    connected, activated, said, pressed, *conversation, customer, stats = run_as_written(stack, script)
    assert connected == "201"
    assert activated.startswith('{"success":true')
    assert '"isActive":true' in activated
    assert said == pressed == '{"success":true}'
    # Messages are listed by their whole-second timestamps, then their ids: one second's in any order.
    assert sorted(conversation) == sorted(
        [
            "inbound hi",
            "outbound Xin chào Nguyễn Văn A! Cảm ơn bạn đã nhắn cho shop.",
            "outbound Bạn cần shop giúp gì?",
            "inbound Mua hàng",
            "outbound Bạn xem sản phẩm mới tại https://shop.example/new — nhắn tên sản phẩm để shop tư vấn nhé!",
        ]
    )
    assert '"tags":["interested"]' in customer
    assert stats == "{'executionCount': 1, 'completionRate': 1.0, 'averageSteps': 5.0, 'fallbackRate': 0.0}"


def analytics_session_script() -> str:
    return bash_block("Analytics in make dev")


def test_the_readme_analytics_session_reports_the_traffic_exactly(stack: RunningStack) -> None:
    """make dev, issue 13's "done when": a new shop's traffic through webhooks, a flow, an agent's reply and
    the AI agent, then the four analytics endpoints report it exactly (counted from the table's stream)."""
    script = analytics_session_script()
    lines = run_as_written(stack, script)
    connected, flow, said_hi, pressed, said_thanks, replied, closed_a, activated, said_b, closed_b, *reports = lines
    assert (connected, flow, activated) == ("201", '{"success":true', "200")
    assert said_hi == pressed == said_thanks == said_b == '{"success":true}'
    assert (replied, closed_a, closed_b) == ("sent", "closed", "closed")
    messages, conversations, automations, ai = reports
    # in: hi, the press, the thanks, B's question; out: greeting, menu, catalog link, the agent's reply, the AI's
    assert messages == "{'totalInbound': 4, 'totalOutbound': 5, 'totalFailed': 0, 'averagePerDay': 0.3}"
    # A: resolved with a human (the agent replied); B: resolved by the AI alone; nobody handed off
    assert conversations == (
        "[0.5, 1.0, 0.0] {'responses': 4, 'resolved': 2, 'resolvedByAutomation': 1, 'resolvedWithAi': 1, "
        "'resolvedByAi': 1, 'opened': 2, 'handedOff': 0} {'human': 1, 'flow': 2, 'ai': 1}"
    )
    assert automations == "Welcome and menu 1 1.0"
    assert ai == "1 0 True True"


@pytest.fixture(scope="module")
def campaign_stack() -> Iterator[RunningStack]:
    """``CAMPAIGN_POLL_SECONDS=1 make dev``, as the campaigns section suggests: its own Graph simulator (whose
    controls the stack serves on its port: ``make statuses``), a campaign looked at every second."""
    running = start_stack({"CAMPAIGN_POLL_SECONDS": "1"})
    try:
        yield running
    finally:
        running.stop()


def test_the_readme_campaign_session_fills_the_funnel_as_written(campaign_stack: RunningStack) -> None:
    """make dev, issue 14's "done when": a new shop syncs its templates from the simulator, customers opt in
    (START) and are tagged, a campaign for the tag is dry-run, launched, paused, resumed and completed, and
    the funnel fills from the simulator's statuses (make statuses) and a customer's reply."""
    script = bash_block("Campaigns in make dev")
    assert "make -s statuses" in script
    lines = run_as_written(campaign_stack, script)
    assert len(lines) == 24, "\n".join(lines)
    connected, synced, spring, *said = lines[:7]
    vip, dry_run, actions, completed = lines[7:10], lines[10], lines[11:14], lines[14]
    sends, delivered, read, replied = lines[15:17], lines[17], lines[18], lines[19]
    funnel, recipients = lines[20], lines[21:]
    assert (connected, synced, spring) == ("201", "12 True", "spring_sale APPROVED MARKETING")
    assert said == ['{"success":true}'] * 4
    assert sorted(vip) == [
        "84907000001 Lan ['vip'] opted_in",
        "84907000002 Minh ['vip'] opted_in",
        "84907000003 Hùng ['vip'] unknown",
    ]
    assert dry_run == "marketing 3 2 {'total': 1, 'noConsent': 1}"
    assert actions == ["running", "paused", "running"]
    assert completed == "completed {'recipients': 3, 'sent': 2, 'failed': 0, 'skipped': 1}"
    # One send per opted-in vip customer, their name in it; nothing to Hùng (no consent) or Tú (not vip).
    assert sorted(sends) == ["84907000001 spring_sale Lan", "84907000002 spring_sale Minh"]
    recorded = httpx.get(f"http://127.0.0.1:{campaign_stack.port}/_simulator/requests").json()["requests"]
    accepted = [r["body"]["to"] for r in recorded if r.get("wamid") and "/106540352242926/" in r["path"]]
    assert sorted(accepted) == ["84907000001", "84907000002"]
    assert delivered == "posted 2 delivered statuses: 84907000001, 84907000002"
    assert read == "posted 1 read status: 84907000001"
    assert replied == '{"success":true}'
    assert funnel == (
        "{'messages': 2, 'sent': 2, 'delivered': 2, 'read': 1, 'failed': 0, 'failedByCode': {}, "
        "'limitedByMeta': 0, 'replied': 1, 'billable': {'marketing': 2}, 'estimatedMetaChargeUsd': 0.1464}"
    )
    assert sorted(recipients) == [
        "84907000001 sent read",
        "84907000002 sent delivered",
        "84907000003 skipped no_consent",
    ]
    # make dev's terminal: every webhook named the shop's own WhatsApp Business Account, nothing failed.
    assert [line for line in campaign_stack.printed() if line.startswith(("WARNING", "ERROR"))] == []
