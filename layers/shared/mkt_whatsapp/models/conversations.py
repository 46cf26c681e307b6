"""Conversations and messages as the API shows them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from mkt_whatsapp.models import ApiModel, PageQuery, ShopIdField, WireModel

ConversationStatus = Literal["active", "expired", "closed"]


class ConversationSummary(ApiModel):
    id: str
    shop_id: str
    customer_wa_id: str | None
    customer_name: str | None
    status: ConversationStatus
    assigned_agent_id: str | None = None
    needs_human: bool = False
    last_message_at: str
    message_count: int
    tags: list[str]
    created_at: str
    expires_at: str


class MessageView(ApiModel):
    id: str
    whats_app_message_id: str | None
    direction: Literal["inbound", "outbound"]
    content: dict[str, Any]
    status: str
    timestamp: str
    context: dict[str, Any] | None = None
    referral: dict[str, Any] | None = None
    errors: list[dict[str, Any]] | None = None
    # Who sent an outbound message: an agent id, flow:<id>, ai:<id>, campaign:<id> or system.
    sent_by: str | None = None
    # An AI agent's reply: the agent, model, tokens, estimated cost (USD) and provider latency.
    ai: dict[str, Any] | None = None


class ConversationCustomer(ApiModel):
    id: str | None
    wa_id: str | None
    bsuid: str | None = None
    name: str | None
    tags: list[str]


class ConversationDetail(ApiModel):
    id: str
    shop_id: str
    customer: ConversationCustomer
    status: ConversationStatus
    assigned_agent_id: str | None = None
    # Set when an AI agent handed the conversation over (its reason and when): humans take it from here.
    needs_human: bool = False
    handoff: dict[str, Any] | None = None
    ai_stopped: bool = False
    messages: list[MessageView]
    message_count: int
    older_messages_cursor: str | None
    last_message_at: str
    created_at: str
    expires_at: str
    closed_at: str | None = None


class ConversationPage(ApiModel):
    """``GET /conversations`` answer's ``data``: a page of the shop's conversations and how many match."""

    conversations: list[ConversationSummary]
    total_count: int


# A message's delivery status: stored ``queued``, ``sending`` while a sender holds it, then as Meta reports.
MessageStatus = Literal["queued", "sending", "sent", "delivered", "read", "played", "failed"]


class SentMessage(ApiModel):
    """``POST /conversations/{conversationId}/messages`` answer: the message as the send left it (201 sent or
    failed, 202 queued for the sender, 200 already settled by an earlier attempt); ``errors`` only when it
    failed (Meta's code and title)."""

    message_id: str
    whats_app_message_id: str | None
    status: MessageStatus
    timestamp: str | None
    errors: list[dict[str, Any]] | None = None


class ConversationAssignment(ApiModel):
    """``POST /conversations/{conversationId}/assign`` answer."""

    conversation_id: str
    assigned_agent_id: str
    assigned_at: str


class ConversationClosure(ApiModel):
    """``POST /conversations/{conversationId}/close`` answer (closing a closed conversation answers when it
    was closed)."""

    conversation_id: str
    status: Literal["closed"]
    closed_at: str | None


class AssignRequest(WireModel):
    agent_id: Annotated[str, Field(min_length=1, max_length=128, examples=["agent-001"])]


class ListConversationsQuery(PageQuery):
    """``GET /conversations``'s query."""

    shop_id: ShopIdField
    status: ConversationStatus | None = None
    assigned_agent_id: str | None = None
    needs_human: bool | None = None


class ConversationQuery(WireModel):
    """``GET /conversations/{id}``'s query: ``before``, the cursor of an older page of messages."""

    before: str | None = None
