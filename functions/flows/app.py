"""Automation flows: a shop's flows, their versions and their activation (docs/automation-flows.md). A flow
named in the path is read and its shop authorised before anything else; another shop's flow is
FLOW_NOT_FOUND, like a missing one. Flows run on the flow state machine (functions/flow_runner,
flows/runner.py); messages start and resume them in the inbound processor (flows/runs.py)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import log_metrics, logger, record_metric
from mkt_whatsapp.flows import definitions
from mkt_whatsapp.store.table import Item

app = http.create_resolver()


def _authorised(flow_id: str) -> tuple[str, Item]:
    return http.authorised_resource(definitions.load(flow_id), definitions.not_found())


@app.get("/flows")
def list_flows() -> Response[str]:
    from mkt_whatsapp.whatsapp.flow_models import ListFlowsQuery

    query = http.parse_query(app, ListFlowsQuery)
    every = definitions.list_for(query.shop_id, query.is_active)
    page = every[query.skip : query.skip + query.take]
    return http.ok({"flows": page, "totalCount": len(every)}, pagination=http.page_of(query, len(every)))


@app.post("/flows")
def create_flow() -> Response[str]:
    from mkt_whatsapp.whatsapp.flow_models import CreateFlowRequest

    request = http.parse_body(app, CreateFlowRequest)
    created = definitions.create(request.shop_id, request, actor=http.actor())
    record_metric(metric_names.FLOWS_CREATED)
    return http.ok(created, status=201)


@app.get("/flows/<flowId>")
def get_flow(flowId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    shop_id, flow = _authorised(flowId)
    return http.ok(definitions.detail(shop_id, flow))


@app.put("/flows/<flowId>")
def update_flow(flowId: str) -> Response[str]:  # noqa: N803
    from mkt_whatsapp.whatsapp.flow_models import UpdateFlowRequest

    shop_id, flow = _authorised(flowId)
    request = http.parse_body(app, UpdateFlowRequest)
    return http.ok(definitions.update(shop_id, flow, request, actor=http.actor()))


@app.delete("/flows/<flowId>")
def delete_flow(flowId: str) -> Response[str]:  # noqa: N803
    shop_id, flow = _authorised(flowId)
    return http.ok(definitions.delete(shop_id, flow, actor=http.actor()))


@app.post("/flows/<flowId>/activate")
def activate_flow(flowId: str) -> Response[str]:  # noqa: N803
    shop_id, flow = _authorised(flowId)
    return http.ok(definitions.activate(shop_id, flow, actor=http.actor()))


@app.post("/flows/<flowId>/deactivate")
def deactivate_flow(flowId: str) -> Response[str]:  # noqa: N803
    shop_id, flow = _authorised(flowId)
    return http.ok(definitions.deactivate(shop_id, flow, actor=http.actor()))


http.register_pending_routes(app, "flows")

lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
