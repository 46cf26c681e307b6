"""AI agents: a shop's sales assistants (docs/ai-agents.md). An agent named in the path is read and its
shop authorised before anything else; another shop's agent is AGENT_NOT_FOUND, like a missing one."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.ai import agents
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import log_metrics, logger, record_metric
from mkt_whatsapp.store.table import Item

app = http.create_resolver()


def _authorised(agent_id: str) -> tuple[str, Item]:
    return http.authorised_resource(agents.load(agent_id), agents.not_found())


@app.post("/ai-agents")
def create_agent() -> Response[str]:
    from mkt_whatsapp.models.ai_agents import CreateAgentRequest

    request = http.parse_body(app, CreateAgentRequest)
    created = agents.create(request.shop_id, request, actor=http.actor())
    record_metric(metric_names.AI_AGENTS_CREATED)
    return http.ok(created, status=201)


@app.get("/ai-agents")
def list_agents() -> Response[str]:
    from mkt_whatsapp.models.ai_agents import ListAgentsQuery

    query = http.parse_query(app, ListAgentsQuery)
    every = agents.list_for(query.shop_id)
    page = every[query.skip : query.skip + query.take]
    return http.ok(
        {"agents": page, "totalCount": len(every)},
        pagination=http.page_of(query, len(every)),
    )


@app.get("/ai-agents/<agentId>")
def get_agent(agentId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    shop_id, agent = _authorised(agentId)
    return http.ok(agents.detail(shop_id, agent))


@app.put("/ai-agents/<agentId>")
def update_agent(agentId: str) -> Response[str]:  # noqa: N803
    from mkt_whatsapp.models.ai_agents import UpdateAgentRequest

    shop_id, agent = _authorised(agentId)
    request = http.parse_body(app, UpdateAgentRequest)
    return http.ok(agents.update(shop_id, agent, request, actor=http.actor()))


@app.delete("/ai-agents/<agentId>")
def delete_agent(agentId: str) -> Response[str]:  # noqa: N803
    shop_id, agent = _authorised(agentId)
    return http.ok(agents.delete(shop_id, agent, actor=http.actor()))


@app.post("/ai-agents/<agentId>/activate")
def activate_agent(agentId: str) -> Response[str]:  # noqa: N803
    shop_id, agent = _authorised(agentId)
    return http.ok(agents.activate(shop_id, agent, actor=http.actor()))


@app.post("/ai-agents/<agentId>/deactivate")
def deactivate_agent(agentId: str) -> Response[str]:  # noqa: N803
    shop_id, agent = _authorised(agentId)
    return http.ok(agents.deactivate(shop_id, agent, actor=http.actor()))


@app.post("/ai-agents/<agentId>/test")
def test_agent(agentId: str) -> Response[str]:  # noqa: N803
    from mkt_whatsapp.ai import replies
    from mkt_whatsapp.models.ai_agents import TestAgentRequest

    shop_id, agent = _authorised(agentId)
    request = http.parse_body(app, TestAgentRequest)
    return http.ok(replies.simulate(shop_id, agent, request))


http.register_pending_routes(app, "ai_agents")

lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
