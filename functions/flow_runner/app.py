"""Flow runner: the Lambda the flow state machine (statemachines/flow.asl.json) invokes — ``run`` the
steps until the next wait or the end, ``park`` a callback task's token and ask the question, record an
``error`` end (flows/runner.py)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.core.observability import logger, metrics
from mkt_whatsapp.flows import runner

# A send made inside a step ends this long before the Lambda does (or is left to the sender).
_MARGIN_SECONDS = 10.0


@logger.inject_lambda_context
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    action = event.get("action")
    state = dict(event.get("run") or {})
    if action == "run":
        result = runner.run(state, deadline=deadline)
        metrics.add_metric(name="FlowRunInvocations", unit="Count", value=1)
        if result.get("kind") == "end":
            metrics.add_metric(name=f"FlowExecutions_{result.get('outcome')}", unit="Count", value=1)
        return result
    if action == "park":
        return runner.park(state, str(event["token"]), deadline=deadline)
    if action == "error":
        return runner.failed(state)
    raise ValueError(f"unknown action {action!r}")
