"""bench/flows.py's counting, small: one execution of the welcome example (docs/flows/welcome-menu.json: "hi",
greeting, question, ``menu_buy``, tag, catalog) costs at most 3 state transitions per wait plus 3 and one
step-runner invocation per run and per park; 10 more non-waiting steps cost not one transition or
invocation more."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from bench import flows as bench_flows
from mkt_whatsapp.flows.runs import execution_arn
from tests.support import lambdas
from tests.unit.flow_helpers import conversation_of, create_flow, ended, presses, says, wait_for, waiting


@pytest.fixture
def shop(connected_shop: dict[str, Any]) -> dict[str, Any]:
    return connected_shop


@pytest.fixture
def runner_invocations(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[str, str]]:
    """The step runner's invocations by the state machine, by (execution, action)."""
    counted: Counter[tuple[str, str]] = Counter()
    functions = lambdas()
    original = functions.invoke

    def invoke(name: str, event: dict[str, Any]) -> Any:
        if name == "FlowRunnerFunction":
            counted[(str((event.get("run") or {}).get("execution")), str(event.get("action")))] += 1
        return original(name, event)

    monkeypatch.setattr(functions, "invoke", invoke)
    return counted


def _one_execution(shop: dict[str, Any], body: dict[str, Any], keyword: str, wa_id: str) -> dict[str, Any]:
    flow_id = create_flow(shop["api"], body)
    says(shop, keyword, wa_id=wa_id)
    conversation_id = conversation_of(shop, wa_id)["id"]
    wait_for(lambda: waiting(conversation_id), what="the question's wait")
    presses(shop, "menu_buy", "Mua hàng", wa_id=wa_id)
    [run] = ended(flow_id)
    assert run["outcome"] == "completed", run
    execution = str(run["SK"]).removeprefix("RUN#")
    client = shop["aws"].client("stepfunctions")
    arn = execution_arn(shop["aws"].physical["FlowStateMachine"], execution)
    wait_for(lambda: client.describe_execution(executionArn=arn)["status"] != "RUNNING", what="the execution's end")
    assert client.describe_execution(executionArn=arn)["status"] == "SUCCEEDED"
    return {
        "steps": int(run["steps"]),
        "execution": execution,
        **bench_flows.count_history(bench_flows.history(client, arn)),
    }


def test_transitions_and_invocations_per_execution_do_not_grow_with_steps(
    shop: dict[str, Any], runner_invocations: Counter[tuple[str, str]]
) -> None:
    welcome = bench_flows.welcome(shop["shop_id"])
    longer = bench_flows.with_extra_steps(bench_flows.welcome(shop["shop_id"]))
    longer["trigger"] = {"type": "keyword", "keywords": ["menu dài"], "match": "exact"}

    first = _one_execution(shop, welcome, "hi", "84907770011")
    second = _one_execution(shop, longer, "menu dài", "84907770012")

    waits = 1
    assert first["states"] == ["Run", "Route", "AwaitCustomer", "Run", "Route", "Done"]
    assert first["state_transitions"] <= bench_flows.transition_target(waits) == 6
    assert (first["steps"], second["steps"]) == (5, 5 + bench_flows.EXTRA_STEPS)
    assert second["states"] == first["states"]
    for counted in (first, second):
        by_action = {
            action: n for (execution, action), n in runner_invocations.items() if execution == counted["execution"]
        }
        assert by_action == {"run": 1 + waits, "park": waits}
        assert counted["lambda_tasks_scheduled"] == 1 + 2 * waits
