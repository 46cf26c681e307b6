"""Campaigns: a shop's campaigns, their launch, pause, resume and cancellation, and the dry run
(docs/campaigns.md). A campaign named in the path is read and its shop authorised before anything else;
another shop's campaign is CAMPAIGN_NOT_FOUND, like a missing one. Launched campaigns run on the campaign
state machine (functions/campaign_runner, campaigns/fanout.py); the sender sends their recipients."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.campaigns import definitions
from mkt_whatsapp.core.observability import log_metrics, logger
from mkt_whatsapp.store.table import Item

app = http.create_resolver()


def _authorised(campaign_id: str) -> tuple[str, Item]:
    return http.authorised_resource(definitions.load(campaign_id), definitions.not_found())


@app.get("/campaigns")
def list_campaigns() -> Response[str]:
    from mkt_whatsapp.models.campaigns import ListCampaignsQuery

    query = http.parse_query(app, ListCampaignsQuery)
    every = definitions.list_for(query.shop_id, query.status)
    page = every[query.skip : query.skip + query.take]
    return http.ok({"campaigns": page, "totalCount": len(every)}, pagination=http.page_of(query, len(every)))


@app.post("/campaigns")
def create_campaign() -> Response[str]:
    from mkt_whatsapp.models.campaigns import CreateCampaignRequest

    request = http.parse_body(app, CreateCampaignRequest)
    key = app.current_event.headers.get("idempotency-key")
    if key is not None:
        created = definitions.create_once(request.shop_id, request, key, actor=http.actor(), deadline=http.deadline())
    else:
        created = definitions.create(request.shop_id, request, actor=http.actor())
    return http.ok(created, status=201)


@app.get("/campaigns/<campaignId>")
def get_campaign(campaignId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    shop_id, campaign = _authorised(campaignId)
    return http.ok(definitions.detail(shop_id, campaign))


@app.get("/campaigns/<campaignId>/recipients")
def list_recipients(campaignId: str) -> Response[str]:  # noqa: N803
    from mkt_whatsapp.models.campaigns import ListRecipientsQuery

    shop_id, campaign = _authorised(campaignId)
    query = http.parse_query(app, ListRecipientsQuery)
    page = definitions.recipient_page(shop_id, campaign, query.status, query.skip, query.take)
    return http.ok(page, pagination=http.page_of(query, page["totalCount"]))


@app.put("/campaigns/<campaignId>")
def update_campaign(campaignId: str) -> Response[str]:  # noqa: N803
    from mkt_whatsapp.models.campaigns import UpdateCampaignRequest

    shop_id, campaign = _authorised(campaignId)
    request = http.parse_body(app, UpdateCampaignRequest)
    return http.ok(definitions.update(shop_id, campaign, request, actor=http.actor()))


@app.delete("/campaigns/<campaignId>")
def delete_campaign(campaignId: str) -> Response[str]:  # noqa: N803
    shop_id, campaign = _authorised(campaignId)
    return http.ok(definitions.delete(shop_id, campaign, actor=http.actor()))


@app.post("/campaigns/<campaignId>/launch")
def launch_campaign(campaignId: str) -> Response[str]:  # noqa: N803
    shop_id, campaign = _authorised(campaignId)
    return http.ok(definitions.launch(shop_id, campaign, actor=http.actor()))


@app.post("/campaigns/<campaignId>/pause")
def pause_campaign(campaignId: str) -> Response[str]:  # noqa: N803
    shop_id, campaign = _authorised(campaignId)
    return http.ok(definitions.pause(shop_id, campaign, actor=http.actor()))


@app.post("/campaigns/<campaignId>/resume")
def resume_campaign(campaignId: str) -> Response[str]:  # noqa: N803
    shop_id, campaign = _authorised(campaignId)
    return http.ok(definitions.resume(shop_id, campaign, actor=http.actor()))


@app.post("/campaigns/<campaignId>/cancel")
def cancel_campaign(campaignId: str) -> Response[str]:  # noqa: N803
    shop_id, campaign = _authorised(campaignId)
    return http.ok(definitions.cancel(shop_id, campaign, actor=http.actor()))


@app.post("/campaigns/<campaignId>/dry-run")
def dry_run_campaign(campaignId: str) -> Response[str]:  # noqa: N803
    from mkt_whatsapp.models.campaigns import DryRunQuery

    shop_id, campaign = _authorised(campaignId)
    query = http.parse_query(app, DryRunQuery)
    return http.ok(definitions.dry_run(shop_id, campaign, query.cursor, deadline=http.deadline()))


lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
