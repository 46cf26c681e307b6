"""Flow statistics for ``GET /flows`` and ``GET /analytics/automations`` (the guide's "Stats").

- ``executionCount``: executions started; ``completionRate``: those that reached an end step normally /
  those finished; ``averageSteps``: steps executed / finished; ``fallbackRate``: ended by a timeout, the
  loop guard, an ``else`` into ``assign_agent``, an AI handoff, a refused send or an error / finished. A
  stopped execution (an agent took the conversation, the flow was deleted) is finished, neither completed
  nor a fallback.
- All time: the flow item's counters. A range: the shop's day items (store/flow_runs.py), one per UTC day,
  however many flows and executions — a started execution counts on its start's day, a finished one on
  its end's day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from mkt_whatsapp.store import flow_runs, get_table
from mkt_whatsapp.store import flows as flow_store


def rates(started: int, finished: int, completed: int, fallback: int, steps: int) -> dict[str, Any]:
    return {
        "executionCount": started,
        "completionRate": round(completed / finished, 4) if finished else None,
        "averageSteps": round(steps / finished, 2) if finished else None,
        "fallbackRate": round(fallback / finished, 4) if finished else None,
    }


def of_flow(flow: Mapping[str, Any]) -> dict[str, Any]:
    """All-time stats from the flow item's counters."""
    return rates(
        int(flow.get("executionsStarted", 0)),
        int(flow.get("executionsFinished", 0)),
        int(flow.get("executionsCompleted", 0)),
        int(flow.get("executionsFallback", 0)),
        int(flow.get("stepsExecuted", 0)),
    )


def automations(shop_id: str, days: list[str] | None) -> list[dict[str, Any]]:
    """Every flow of the shop with its stats, all time (``days`` None) or over ``days`` (``yyyy-mm-dd``)."""
    table = get_table()
    flows = flow_store.list_flows(table, shop_id)
    if days is None:
        counted = {str(f["flowId"]): of_flow(f) | {"finishedCount": int(f.get("executionsFinished", 0))} for f in flows}
    else:
        sums: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for item in flow_runs.day_counters(table, shop_id, days):
            for name, value in item.items():
                if "#" in name and name not in ("PK", "SK"):
                    flow_id, counter = name.rsplit("#", 1)
                    sums[flow_id][counter] += int(value)
        counted = {
            flow_id: rates(s["started"], s["finished"], s["completed"], s["fallback"], s["steps"])
            | {"finishedCount": s["finished"]}
            for flow_id, s in sums.items()
        }
    names = {str(f["flowId"]): f for f in flows}
    answer = []
    for flow_id in [*names, *sorted(set(counted) - set(names))]:  # a deleted flow that ran in the range too
        flow = names.get(flow_id, {})
        stats = counted.get(flow_id) or rates(0, 0, 0, 0, 0) | {"finishedCount": 0}
        answer.append(
            {
                "flowId": flow_id,
                "flowName": flow.get("flowName", "(deleted flow)"),
                "isActive": bool(flow.get("isActive", False)),
                **stats,
            }
        )
    return answer
