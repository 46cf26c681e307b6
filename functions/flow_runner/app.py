"""Flow runner: the Lambda the flow state machine (statemachines/flow.asl.json) invokes — ``run`` the
steps until the next wait or the end, ``park`` a callback task's token and ask the question, record an
``error`` end (flows/runner.py)."""

from __future__ import annotations

import os
import time
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.core.observability import logger
from mkt_whatsapp.flows import runner

# A send made inside a step ends this long before the Lambda does (or is left to the sender).
_MARGIN_SECONDS = 10.0


def _count(name: str) -> None:
    """One metric, flushed at once (EMF; the namespace from POWERTOOLS_METRICS_NAMESPACE): the step runner
    keeps no metric set between its calls."""
    with single_metric(name=name, unit=MetricUnit.Count, value=1) as metric:
        metric.add_dimension(name="service", value=os.environ.get("POWERTOOLS_SERVICE_NAME", "mkt-whatsapp-service"))


@logger.inject_lambda_context
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - _MARGIN_SECONDS
    action = event.get("action")
    state = dict(event.get("run") or {})
    if action == "run":
        result = runner.run(state, deadline=deadline)
        _count("FlowRunInvocations")
        if result.get("kind") == "end":
            _count(f"FlowExecutions_{result.get('outcome')}")
        return result
    if action == "park":
        return runner.park(state, str(event["token"]), deadline=deadline)
    if action == "error":
        return runner.failed(state)
    raise ValueError(f"unknown action {action!r}")
