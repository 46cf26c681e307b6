"""Flow runner: the Lambda the flow state machine (statemachines/flow.asl.json) invokes — ``run`` the
steps until the next wait or the end, ``park`` a callback task's token and ask the question, record an
``error`` end (flows/runner.py)."""

from __future__ import annotations

import time
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import emit_now, log_metrics, logger
from mkt_whatsapp.flows import runner

# A send made inside a step ends this long before the Lambda does (or is left to the sender).
_MARGIN_SECONDS = 10.0


# The step runner's own counts are single EMF metrics, printed at once (Powertools' single_metric, through
# observability.emit_now): no metric set is shared with other in-process handlers. What the layer records
# during a step (a send's outcome, an AI call) is printed by log_metrics when the step returns.


@logger.inject_lambda_context
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    action = event.get("action")
    state = dict(event.get("run") or {})
    if action == "run":
        result = runner.run(state, deadline=deadline)
        emit_now(metric_names.FLOW_RUN_INVOCATIONS)
        if result.get("kind") == "end":
            emit_now(metric_names.FLOW_EXECUTIONS, outcome=result.get("outcome"))
        return result
    if action == "park":
        return runner.park(state, str(event["token"]), deadline=deadline)
    if action == "error":
        recorded = runner.failed(state)
        emit_now(metric_names.FLOW_EXECUTIONS, outcome="error")
        return recorded
    raise ValueError(f"unknown action {action!r}")
