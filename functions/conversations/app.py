"""Conversations: the shop's list, one conversation with its messages, sending, assigning, closing."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import api, conversation_actions, conversations
from mkt_whatsapp.models.conversations import AssignRequest
from mkt_whatsapp.observability import logger, metrics
from mkt_whatsapp.pagination import PageRequest

app = api.create_resolver()


@app.get("/conversations")
def list_conversations() -> Response[str]:
    query = app.current_event.query_string_parameters or {}
    page = PageRequest.parse(query.get("skip"), query.get("take"))
    data, pagination = conversations.list_conversations(
        api.required_query(query, "shopId"), query.get("status") or None, query.get("assignedAgentId") or None, page
    )
    return api.ok(data, pagination=pagination)


@app.get("/conversations/<conversationId>")
def get_conversation(conversationId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    query = app.current_event.query_string_parameters or {}
    return api.ok(conversations.get_conversation(conversationId, query.get("before") or None).to_wire())


@app.post("/conversations/<conversationId>/messages")
def send_message(conversationId: str) -> Response[str]:  # noqa: N803
    # The ~30 content models (about 25 ms to define) load with the container's first send, not with the
    # cold start of a list, a read, an assign or a close.
    from mkt_whatsapp import outbound
    from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest

    request = api.parse_body(app, SendMessageRequest)
    key = app.current_event.headers.get("idempotency-key")
    if key is not None:
        status, data = outbound.send_once(conversationId, request, key)
    else:
        status, data = outbound.send(conversationId, request)
    metrics.add_metric(name="MessagesSent", unit="Count", value=1)
    return api.ok(data, status=status)


@app.post("/conversations/<conversationId>/assign")
def assign_conversation(conversationId: str) -> Response[str]:  # noqa: N803
    return api.ok(conversation_actions.assign(conversationId, api.parse_body(app, AssignRequest)))


@app.post("/conversations/<conversationId>/close")
def close_conversation(conversationId: str) -> Response[str]:  # noqa: N803
    return api.ok(conversation_actions.close(conversationId))


api.register_pending_routes(app, "conversations")

lambda_handler = logger.inject_lambda_context(metrics.log_metrics(api.entrypoint(app)))
