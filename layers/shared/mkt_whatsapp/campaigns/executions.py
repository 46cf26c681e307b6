"""The campaign state machine's executions (statemachines/campaign.asl.json): one per *generation* of a
campaign. A launch starts generation 1; a resume, a cancellation (to sweep what waits) and a change of a
scheduled campaign start the next. Every step compares its generation with the campaign's and ends when it is
not the campaign's any more, so two executions never drive one campaign; stopping the one replaced is only
tidiness (a scheduled one would otherwise wait out its Wait)."""

from __future__ import annotations

import contextlib
import json

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from mkt_whatsapp.core import aws
from mkt_whatsapp.core.settings import get_settings

logger = Logger(child=True)


def name_of(campaign_id: str, generation: int) -> str:
    return f"{campaign_id}-{generation}"


def start(campaign_id: str, generation: int) -> None:
    """Start the campaign's execution for ``generation`` (once: a name is used once)."""
    client = aws.stepfunctions()
    try:
        client.start_execution(
            stateMachineArn=get_settings().campaign_state_machine_arn,
            name=name_of(campaign_id, generation),
            input=json.dumps({"campaignId": campaign_id, "generation": generation}),
        )
    except client.exceptions.ExecutionAlreadyExists:
        logger.info("the campaign's execution had started already", extra={"campaignId": campaign_id})


def stop(campaign_id: str, generation: int, cause: str) -> None:
    """Stop the campaign's execution of ``generation`` if it still runs (best effort: it ends by itself at its
    next step)."""
    machine = get_settings().campaign_state_machine_arn
    arn = machine.replace(":stateMachine:", ":execution:", 1) + ":" + name_of(campaign_id, generation)
    client = aws.stepfunctions()
    with contextlib.suppress(client.exceptions.ExecutionDoesNotExist):
        try:
            client.stop_execution(executionArn=arn, error="CampaignChanged", cause=cause[:256])
        except (BotoCoreError, ClientError):
            logger.warning("could not stop a campaign's execution", extra={"campaignId": campaign_id}, exc_info=True)
