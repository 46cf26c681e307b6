"""Campaign runner: the Lambda the campaign state machine (statemachines/campaign.asl.json) invokes — one
``step`` of a campaign (a page of its audience, waking what waits, completion: campaigns/fanout.py), or the
``error`` end when a step failed past its retries (the campaign is paused, saying so)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from mkt_whatsapp.campaigns import fanout
from mkt_whatsapp.core.observability import log_metrics, logger


@logger.inject_lambda_context
@log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    action = event.get("action")
    run = dict(event.get("run") or {})
    if action == "step":
        return fanout.step(run)
    if action == "error":
        return fanout.failed(run, run.get("error"))
    raise ValueError(f"unknown action {action!r}")
