"""Conversations: the shop's list, one conversation with its messages, sending, assigning, closing.

Routes that address a conversation read it and authorise the caller for the shop it belongs to (another
shop's conversation answers like a missing one), then hand it to the domain with the shop, the caller
(the actor the domain records) and the invocation's deadline.
"""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from mkt_whatsapp import http
from mkt_whatsapp.conversations import actions, reading
from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.observability import log_metrics, logger, record_metric
from mkt_whatsapp.flows import runs
from mkt_whatsapp.models.conversations import AssignRequest, ConversationQuery, ListConversationsQuery
from mkt_whatsapp.store.table import Item

app = http.create_resolver()


def _authorised(conversation_id: str) -> tuple[str, Item]:
    """The conversation and its shop, once the caller may act on it: 404 if there is none or it is
    another shop's (the two answer alike)."""
    conversation = reading.load(conversation_id)
    shop_id = str(conversation["shopId"])
    http.authorise_resource_shop(shop_id, reading.not_found())
    return shop_id, conversation


@app.get("/conversations")
def list_conversations() -> Response[str]:
    query = http.parse_query(app, ListConversationsQuery)
    data, total = reading.list_conversations(
        query.shop_id,
        query.status,
        query.assigned_agent_id,
        skip=query.skip,
        take=query.take,
        needs_human=query.needs_human,
    )
    return http.ok(data, pagination=http.page_of(query, total))


@app.get("/conversations/<conversationId>")
def get_conversation(conversationId: str) -> Response[str]:  # noqa: N803 - the route's own parameter name
    _, conversation = _authorised(conversationId)
    query = http.parse_query(app, ConversationQuery)
    return http.ok(reading.detail(conversation, query.before).to_wire())


@app.post("/conversations/<conversationId>/messages")
def send_message(conversationId: str) -> Response[str]:  # noqa: N803
    # The ~30 content models (about 25 ms to define) load with the container's first send, not with the
    # cold start of a list, a read, an assign or a close.
    from mkt_whatsapp.messaging import send
    from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest

    shop_id, conversation = _authorised(conversationId)
    request = http.parse_body(app, SendMessageRequest)
    key = app.current_event.headers.get("idempotency-key")
    actor, deadline = http.actor(), http.deadline()
    if key is not None:
        status, data = send.send_once(shop_id, conversation, request, key, actor=actor, deadline=deadline)
    else:
        status, data = send.send(shop_id, conversation, request, actor=actor, deadline=deadline)
    record_metric(metric_names.MESSAGES_SENT)
    return http.ok(data, status=status)


@app.post("/conversations/<conversationId>/assign")
def assign_conversation(conversationId: str) -> Response[str]:  # noqa: N803
    shop_id, conversation = _authorised(conversationId)
    request = http.parse_body(app, AssignRequest)
    assigned = actions.assign(shop_id, conversation, request.agent_id, actor=http.actor())
    runs.stop_on(conversation, reason="assigned to a human", actor=http.actor())
    return http.ok(assigned)


@app.post("/conversations/<conversationId>/close")
def close_conversation(conversationId: str) -> Response[str]:  # noqa: N803
    shop_id, conversation = _authorised(conversationId)
    closed = actions.close(shop_id, conversation, actor=http.actor())
    runs.stop_on(conversation, reason="conversation closed", actor=http.actor())
    return http.ok(closed)


lambda_handler = logger.inject_lambda_context(log_metrics(http.entrypoint(app)))
