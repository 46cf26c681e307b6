"""What each route of the table takes and answers: the metadata the OpenAPI document
(:mod:`mkt_whatsapp.http.openapi`) is generated from, keyed by the route table's own keys.

Design:

- **Beside the route table, not on** :class:`~mkt_whatsapp.http.routes.Route`. The table is read at every
  cold start by the guard; an operation names pydantic models, and importing them loads pydantic (see
  docs/cold-start.md). This module is imported only to build the document (``make openapi``,
  ``GET /openapi.json``, tests).
- **Only what a route cannot tell.** What follows from the route itself is derived by the generator, never
  repeated here: the bearer scheme, 401, 429 and the rate-limit headers (every route but the public ones),
  403 ``SHOP_ACCESS_DENIED`` (a route that names its shop in its path, query or body), 400 with the
  validation codes (a body or query model), 413 and 415 (a body), 500 (every route), and a route's path
  parameters. An entry adds the summary, the models, the success answers and the domain's own error codes.
- **By construction.** The generator walks :data:`~mkt_whatsapp.http.routes.ROUTES`: a route with no entry
  here (or an entry with no answers) is documented as the handlers serve a route not built yet
  (``http.register_pending_routes``): its shop read as every route reads it, then 501. Adding a Route adds
  an operation; building it means giving its entry answers.
- **One catalogue of error codes** (:data:`ERROR_CODES`: the stable code, its status and meaning), which
  entries name; ``tests/unit/test_openapi.py`` holds it to the codes the package raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Annotated, Any

from pydantic import BaseModel, Field

from mkt_whatsapp.http.routes import Route, ShopSource
from mkt_whatsapp.http.validation import _CODE_BY_PYDANTIC_TYPE
from mkt_whatsapp.models import ShopBody, ShopQuery
from mkt_whatsapp.models.accounts import (
    AccountView,
    ConnectAccountRequest,
    ConnectedAccount,
    DisconnectedAccount,
    ShopId,
)
from mkt_whatsapp.models.ai_agents import (
    AgentActivation,
    AgentCreated,
    AgentDeactivation,
    AgentDeletion,
    AgentDetail,
    AgentPage,
    AgentSummary,
    AgentTestResult,
    CreateAgentRequest,
    ListAgentsQuery,
    TestAgentRequest,
    UpdateAgentRequest,
)
from mkt_whatsapp.models.analytics import (
    AiQuery,
    AiStatistics,
    AutomationsAnswer,
    AutomationsQuery,
    ConversationMetrics,
    ConversationsQuery,
    MessagesQuery,
    MessageStatistics,
)
from mkt_whatsapp.models.campaigns import (
    CampaignCreated,
    CampaignDeletion,
    CampaignDetail,
    CampaignPage,
    CampaignTransition,
    CreateCampaignRequest,
    DryRunQuery,
    DryRunResult,
    ListCampaignsQuery,
    ListRecipientsQuery,
    RecipientPage,
    UpdateCampaignRequest,
)
from mkt_whatsapp.models.conversations import (
    AssignRequest,
    ConversationAssignment,
    ConversationClosure,
    ConversationDetail,
    ConversationPage,
    ConversationQuery,
    ListConversationsQuery,
    SentMessage,
)
from mkt_whatsapp.models.customers import (
    ConsentChange,
    CustomerPage,
    CustomerProfile,
    CustomerTags,
    ListCustomersQuery,
    OptInRequest,
    UpdateTagsRequest,
    WaId,
)
from mkt_whatsapp.models.system import Health
from mkt_whatsapp.models.templates import (
    ListTemplatesQuery,
    SyncTemplatesRequest,
    TemplateName,
    TemplatePage,
    TemplateQuery,
    TemplateSync,
    TemplateView,
)
from mkt_whatsapp.models.webhooks import SubscriptionQuery, WebhookAcknowledgement
from mkt_whatsapp.whatsapp.flow_models import (
    CreateFlowRequest,
    FlowActivation,
    FlowCreated,
    FlowDeactivation,
    FlowDeletion,
    FlowDetail,
    FlowPage,
    FlowSummary,
    ListFlowsQuery,
    UpdateFlowRequest,
)
from mkt_whatsapp.whatsapp.outbound_content import SendMessageRequest
from mkt_whatsapp.whatsapp.webhook_models import WebhookDelivery

# --- error codes -----------------------------------------------------------------------------------------

# What a body or query that fails its model answers (400): the codes of http.validation's one mapping of
# pydantic's errors and the two it falls back to (UNSUPPORTED_MEDIA_TYPE there is for Powertools' validation
# middleware, which the API does not use: a wrong content type is 415).
_VALIDATION_MEANINGS = {
    "INVALID_JSON": "The body is not JSON (or not UTF-8)",
    "REQUIRED_FIELD": "A required field is missing or empty",
    "INVALID_TYPE": "A field has the wrong type",
    "INVALID_FORMAT": "A field does not match its pattern",
    "INVALID_VALUE": "A field's value is not one of those allowed",
    "TOO_SHORT": "A field is shorter, or a list has fewer items, than allowed",
    "TOO_LONG": "A field is longer, or a list has more items, than allowed",
    "OUT_OF_RANGE": "A number is outside its bounds",
}
VALIDATION_CODES: tuple[str, ...] = tuple(
    sorted({*_CODE_BY_PYDANTIC_TYPE.values(), "INVALID_TYPE", "INVALID_VALUE"} - {"UNSUPPORTED_MEDIA_TYPE"})
)

ERROR_CODES: Mapping[str, tuple[int, str]] = {
    # A code the validation mapping gains without a meaning here fails at import (and in the tests).
    **{code: (400, _VALIDATION_MEANINGS[code]) for code in VALIDATION_CODES},
    "MISSING_TOKEN": (401, "No `Authorization: Bearer <JWT>` header"),
    "INVALID_TOKEN": (401, "The token is not a valid JWT of this service (signature, algorithm, claims)"),
    "TOKEN_EXPIRED": (401, "The token's `exp` has passed"),
    "INVALID_SIGNATURE": (401, "`X-Hub-Signature-256` is missing or does not sign the raw body"),
    "SHOP_ACCESS_DENIED": (403, "The token's `shop_ids` do not hold the shop the request names"),
    "VERIFICATION_FAILED": (403, "`hub.mode` is not `subscribe` or `hub.verify_token` is not this service's"),
    "ROUTE_NOT_FOUND": (404, "No route has this path"),
    "ACCOUNT_NOT_FOUND": (404, "The shop has no (connected) WhatsApp account"),
    "CONVERSATION_NOT_FOUND": (404, "No conversation of the caller's shops has this id"),
    "CUSTOMER_NOT_FOUND": (404, "No customer of the shop has this phone number or business-scoped user id"),
    "AGENT_NOT_FOUND": (404, "No AI agent of the caller's shops has this id"),
    "NOT_FOUND": (404, "No resource of the caller's shops has this id"),
    "FLOW_NOT_FOUND": (404, "No automation flow of the caller's shops has this id"),
    "TEMPLATE_NOT_FOUND": (404, "The shop has no template of this name in this language (a sync reads Meta's)"),
    "CAMPAIGN_NOT_FOUND": (404, "No campaign of the caller's shops has this id"),
    "METHOD_NOT_ALLOWED": (405, "The path is served, not with this method (`Allow` lists the methods)"),
    "ACCOUNT_ALREADY_CONNECTED": (409, "The shop already has a connected account"),
    "PHONE_NUMBER_IN_USE": (409, "The phone number is connected to another shop"),
    "IDEMPOTENCY_KEY_REUSED": (409, "The `Idempotency-Key` was used with a different request"),
    "IDEMPOTENCY_IN_PROGRESS": (409, "A request with this `Idempotency-Key` is in progress"),
    "AGENT_IS_ACTIVE": (409, "Deactivate the agent before deleting it"),
    "FLOW_IS_ACTIVE": (409, "Deactivate the flow before deleting it"),
    "FLOW_NAME_TAKEN": (409, "Another flow of the shop has this name (case and accents aside)"),
    "TRIGGER_CLAIMED": (409, "Another active flow claims one of this flow's keywords or button ids (named)"),
    "CONCURRENT_UPDATE": (409, "Another request changed the same items at that moment; nothing was written: retry"),
    "CAMPAIGN_NOT_EDITABLE": (409, "Only a draft or a scheduled campaign is changed"),
    "CAMPAIGN_NOT_DRAFT": (409, "Only a draft is deleted (cancel a launched campaign)"),
    "CAMPAIGN_ALREADY_LAUNCHED": (409, "Only a draft is launched"),
    "CAMPAIGN_NOT_RUNNING": (409, "Only a running campaign is paused"),
    "CAMPAIGN_NOT_PAUSED": (409, "Only a paused campaign is resumed"),
    "CAMPAIGN_FINISHED": (409, "The campaign is completed or cancelled already"),
    "WABA_ID_UNKNOWN": (
        409,
        "The shop's WhatsApp Business Account id is not known yet: connect with `wabaId`, or wait for a webhook",
    ),
    "NESTING_TOO_DEEP": (400, "The body's JSON nests deeper than the parser reads (200 levels are read)"),
    "UNSUPPORTED_TIMEZONE": (400, "The time zone is not a whole number of hours from UTC over the range"),
    "DUPLICATE_PARAMETER": (400, "A query parameter is given more than once"),
    "PAYLOAD_TOO_LARGE": (
        413,
        "The body is larger than the route reads (1 MiB; 5 MiB where an agent's knowledge travels)",
    ),
    "UNSUPPORTED_MEDIA_TYPE": (415, "The body is not `application/json`"),
    "INVALID_ACCESS_TOKEN": (422, "Meta refused the access token"),
    "PHONE_NUMBER_NOT_FOUND": (422, "Meta knows no such phone number for this token"),
    "GRAPH_API_ERROR": (422, "Meta refused the account for another reason (its code is in the message)"),
    "WABA_NOT_FOUND": (422, "Meta knows no such WhatsApp Business Account for this token"),
    "UNKNOWN_TEMPLATE": (422, "The shop has no template of this name and language (`POST /templates/sync`)"),
    "TEMPLATE_NOT_APPROVED": (422, "The template's status at Meta is not `APPROVED` (the message says which)"),
    "TEMPLATE_PARAMETERS_MISMATCH": (
        422,
        "The parameters do not fit the template's components (the field and the message name the component)",
    ),
    "CONVERSATION_CLOSED": (422, "The conversation is closed (only a template can be sent on it)"),
    "OUTSIDE_CUSTOMER_SERVICE_WINDOW": (422, "24 hours since the customer's last message: only a template"),
    "CUSTOMER_OPTED_OUT": (422, "No marketing template to a customer who opted out"),
    "DAILY_LIMIT_REACHED": (422, "The account reached its messaging limit of customers in 24 hours"),
    "ACCOUNT_ACTION_REQUIRED": (422, "Meta refused the account's sends; reconnect it with a new access token"),
    "ACCOUNT_DISCONNECTED": (422, "The shop has no connected account to send with"),
    "TAG_LIMIT_EXCEEDED": (422, "A customer has at most 50 tags"),
    "AGENT_LIMIT_REACHED": (422, "A shop has at most 20 AI agents"),
    "FLOW_LIMIT_REACHED": (422, "A shop has at most 100 flows"),
    "INVALID_PLACEHOLDER": (
        422,
        "A `{{…}}` in the template's parameters is not `customer.name`, `customer.waId` or `customer.fields.<name>` "
        "(with a non-empty fallback after `|`)",
    ),
    "TEMPLATE_TOO_LARGE": (422, "A campaign's template parameters take at most 16 KB of JSON"),
    "INVALID_AUDIENCE": (422, "The audience's `lastContactedAfter` is not earlier than its `lastContactedBefore`"),
    "INVALID_QUIET_HOURS": (422, "Quiet hours start and end at the same time"),
    "INVALID_SCHEDULE": (422, "`scheduledAt` is more than a year ahead (a campaign's execution lasts at most a year)"),
    "RATE_LIMIT_EXCEEDED": (429, "Too many requests this minute (`Retry-After` says when the window ends)"),
    "INTERNAL_ERROR": (500, "An unexpected error (logged); never an answer to bad input"),
    "NOT_IMPLEMENTED": (501, "The route is declared; its feature lands in a later release"),
    "GRAPH_API_UNAVAILABLE": (502, "The WhatsApp Graph API is unreachable or failing: retry"),
    "AI_PROVIDER_ERROR": (502, "The AI provider failed or timed out (after its retries)"),
    "AI_PROVIDER_NOT_CONFIGURED": (503, "No AI provider is configured (OPENAI_API_KEY / its secret)"),
    "TABLE_UNREACHABLE": (503, "The service cannot reach its table"),
    "QUEUE_UNAVAILABLE": (503, "The message is stored but could not be queued: retry"),
    "STATE_MACHINE_UNAVAILABLE": (503, "Step Functions refused to start the campaign's run; nothing changed, retry"),
}

# Every authenticated route may answer these; what a route reads adds its own (see the module docstring).
AUTHENTICATION_CODES = ("MISSING_TOKEN", "INVALID_TOKEN", "TOKEN_EXPIRED")
BODY_LIMIT_CODES = ("PAYLOAD_TOO_LARGE", "UNSUPPORTED_MEDIA_TYPE")


# --- operations ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Enveloped:
    """A success answer whose ``data`` is ``model`` in the api-v1 envelope (``pagination`` set on lists)."""

    model: type[BaseModel]
    paginated: bool = False


@dataclass(frozen=True, slots=True)
class Bare:
    """A success answer outside the envelope: Meta's handshake, a webhook's acknowledgement, this document.
    ``model`` None: a plain string (``text/plain``) or any JSON object."""

    media_type: str
    description: str
    model: type[BaseModel] | None = None


Answer = Enveloped | Bare


@dataclass(frozen=True, slots=True)
class Header:
    """A request header the route reads (the ``Authorization`` header is the security scheme's)."""

    name: str
    description: str
    schema: Mapping[str, Any]
    required: bool = False


@dataclass(frozen=True, slots=True)
class Operation:
    """What a route takes and answers, beyond what the route table says."""

    operation_id: str
    summary: str
    description: str = ""
    body: type[BaseModel] | None = None
    # The body is read as raw bytes, not by a model (signed webhooks): no 400 and no 415 for it.
    raw_body: bool = False
    query: type[BaseModel] | None = None
    headers: tuple[Header, ...] = ()
    answers: Mapping[int, Answer] = field(default_factory=dict)
    errors: tuple[str, ...] = ()

    @property
    def built(self) -> bool:
        return bool(self.answers)


# The ids the path names, as the service issues and stores them.
ConversationId = Annotated[
    str, Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")  # uuid4, as issued
]
# An id of a feature not built yet (a flow, an agent): unreserved URL characters (RFC 3986).
ResourceId = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._~-]+$")]

# A path parameter's schema and meaning, by its name in the route table's paths (any other: a ResourceId).
PATH_PARAMETERS: Mapping[str, tuple[Any, str]] = {
    "shopId": (ShopId, "The shop's id, as the token's `shop_ids` name it"),
    "conversationId": (ConversationId, "A conversation's id (another shop's answers like a missing one: 404)"),
    "waId": (WaId, "The customer's phone number (digits, WhatsApp's `wa_id`) or business-scoped user id"),
    "flowId": (ResourceId, "An automation flow's id"),
    "agentId": (ResourceId, "An AI agent's id"),
    "name": (TemplateName, "A message template's name, as Meta keeps it"),
    "campaignId": (ResourceId, "A campaign's id"),
}

TAGS: Mapping[str, str] = {
    "system": "System",
    "webhooks": "Webhooks",
    "accounts": "Accounts",
    "conversations": "Conversations",
    "customers": "Customers",
    "flows": "Automation flows",
    "templates": "Message templates",
    "campaigns": "Campaigns",
    "ai_agents": "AI agents",
    "analytics": "Analytics",
}

IDEMPOTENCY_KEY = Header(
    "Idempotency-Key",
    "A retried request with the same key (same conversation, same body) gets the first answer for 24 hours "
    "instead of a second send; the same key with another body is 409 `IDEMPOTENCY_KEY_REUSED`.",
    # What send_once takes: 1 to 255 printable characters (str.isprintable of the Latin-1 text a header is), and
    # no space at either end, which HTTP strips.
    {
        "type": "string",
        "minLength": 1,
        "maxLength": 255,
        "pattern": r"^[!-~\xa1-\xac\xae-\xff]([ -~\xa1-\xac\xae-\xff]*[!-~\xa1-\xac\xae-\xff])?$",
    },
)
CREATE_IDEMPOTENCY_KEY = replace(
    IDEMPOTENCY_KEY,
    description="A retried request with the same key (same shop, same body) gets the first answer — the same "
    "campaign — for 24 hours instead of a second campaign; the same key with another body is 409 "
    "`IDEMPOTENCY_KEY_REUSED`.",
)
HUB_SIGNATURE = Header(
    "X-Hub-Signature-256",
    "`sha256=` + the hex HMAC-SHA256 of the raw body bytes with the Meta app secret (a body parsed and "
    "serialised again no longer matches: Meta escapes non-ASCII and `/`).",
    {"type": "string", "pattern": "^sha256=[0-9a-f]{64}$"},
    required=True,
)

_MESSAGE_RULES = (
    "UNKNOWN_TEMPLATE",
    "TEMPLATE_NOT_APPROVED",
    "TEMPLATE_PARAMETERS_MISMATCH",
    "CONVERSATION_CLOSED",
    "OUTSIDE_CUSTOMER_SERVICE_WINDOW",
    "CUSTOMER_OPTED_OUT",
    "DAILY_LIMIT_REACHED",
    "ACCOUNT_ACTION_REQUIRED",
    "ACCOUNT_DISCONNECTED",
)

_TEMPLATE_RULES = ("UNKNOWN_TEMPLATE", "TEMPLATE_NOT_APPROVED", "TEMPLATE_PARAMETERS_MISMATCH")

OPERATIONS: Mapping[str, Operation] = {
    "GET /health": Operation(
        "getHealth",
        "Health check",
        "200 when the service can reach its table.",
        answers={200: Enveloped(Health)},
        errors=("TABLE_UNREACHABLE",),
    ),
    "GET /openapi.json": Operation(
        "getOpenApiDocument",
        "This OpenAPI document",
        "Generated from the route table and the API's pydantic models (`make openapi` writes the same "
        "document to docs/openapi.json).",
        answers={200: Bare("application/json", "The OpenAPI 3.1 document")},
    ),
    "GET /webhooks": Operation(
        "verifyWebhook",
        "Verify webhook",
        "Meta's subscription handshake: the challenge echoed as plain text when `hub.mode` is `subscribe` "
        "and `hub.verify_token` is this service's.",
        query=SubscriptionQuery,
        answers={200: Bare("text/plain", "`hub.challenge`, as sent")},
        errors=("VERIFICATION_FAILED",),
    ),
    "POST /webhooks": Operation(
        "receiveWebhook",
        "Receive events",
        "Meta's signed deliveries. The signature is checked over the raw body bytes; each `messages` change "
        "and each template change (status, quality, category) is queued and applied exactly once (a duplicate "
        "delivery changes nothing). Any signed body is "
        "acknowledged with 200 — one that is not JSON or not in Meta's shape is logged and not processed — "
        "because Meta retries anything else for days.",
        body=WebhookDelivery,
        raw_body=True,
        headers=(HUB_SIGNATURE,),
        answers={200: Bare("application/json", "Acknowledged", WebhookAcknowledgement)},
        errors=("INVALID_SIGNATURE",),
    ),
    "POST /accounts": Operation(
        "connectAccount",
        "Connect account",
        "Connect the shop's WhatsApp Business number: the number and token are checked with Meta, the token "
        "is encrypted at rest and never returned. `wabaId` (optional) is the number's WhatsApp Business "
        "Account, whose message templates the shop sends; without it the first webhook for the number tells "
        "it. A shop whose account Meta stopped (`action_required`) reconnects here.",
        body=ConnectAccountRequest,
        answers={201: Enveloped(ConnectedAccount)},
        errors=(
            "ACCOUNT_ALREADY_CONNECTED",
            "PHONE_NUMBER_IN_USE",
            "CONCURRENT_UPDATE",
            "INVALID_ACCESS_TOKEN",
            "PHONE_NUMBER_NOT_FOUND",
            "GRAPH_API_ERROR",
            "GRAPH_API_UNAVAILABLE",
        ),
    ),
    "GET /accounts/{shopId}": Operation(
        "getAccount",
        "Get account",
        "The shop's account with today's usage (`messagesUsedToday`: customers reached by business-initiated "
        "conversations in the last 24 hours, against `dailyLimit`).",
        answers={200: Enveloped(AccountView)},
        errors=("ACCOUNT_NOT_FOUND",),
    ),
    "DELETE /accounts/{shopId}": Operation(
        "disconnectAccount",
        "Disconnect account",
        answers={200: Enveloped(DisconnectedAccount)},
        errors=("ACCOUNT_NOT_FOUND", "CONCURRENT_UPDATE"),
    ),
    "GET /conversations": Operation(
        "listConversations",
        "List conversations",
        "The shop's conversations, newest message first.",
        query=ListConversationsQuery,
        answers={200: Enveloped(ConversationPage, paginated=True)},
    ),
    "GET /conversations/{conversationId}": Operation(
        "getConversation",
        "Get conversation",
        "The conversation with its newest 100 messages (oldest first); `olderMessagesCursor` is the `before` "
        "of the next older page.",
        query=ConversationQuery,
        answers={200: Enveloped(ConversationDetail)},
        errors=("CONVERSATION_NOT_FOUND",),
    ),
    "POST /conversations/{conversationId}/messages": Operation(
        "sendMessage",
        "Send message",
        "Checked against WhatsApp's limits and the rules (a template is one of the shop's, `APPROVED`, with "
        "as many parameters as its components take; 24-hour window, consent, daily limit), stored, then "
        "sent: 201 sent (or failed, with Meta's reason), 202 queued for a retry, 200 an earlier attempt's "
        "answer.",
        body=SendMessageRequest,
        headers=(IDEMPOTENCY_KEY,),
        answers={201: Enveloped(SentMessage), 202: Enveloped(SentMessage), 200: Enveloped(SentMessage)},
        errors=(
            "CONVERSATION_NOT_FOUND",
            *_MESSAGE_RULES,
            "IDEMPOTENCY_KEY_REUSED",
            "IDEMPOTENCY_IN_PROGRESS",
            "CONCURRENT_UPDATE",
            "QUEUE_UNAVAILABLE",
        ),
    ),
    "POST /conversations/{conversationId}/assign": Operation(
        "assignConversation",
        "Assign conversation",
        "Hand the conversation to a human agent (automation stops on it).",
        body=AssignRequest,
        answers={200: Enveloped(ConversationAssignment)},
        errors=("CONVERSATION_NOT_FOUND", "CONVERSATION_CLOSED", "CONCURRENT_UPDATE"),
    ),
    "POST /conversations/{conversationId}/close": Operation(
        "closeConversation",
        "Close conversation",
        "The customer's next message opens a new conversation.",
        answers={200: Enveloped(ConversationClosure)},
        errors=("CONVERSATION_NOT_FOUND", "CONCURRENT_UPDATE"),
    ),
    "GET /customers": Operation(
        "listCustomers",
        "List customers",
        "The shop's customers, newest first: `search` by name or phone digits, `tags` all required.",
        query=ListCustomersQuery,
        answers={200: Enveloped(CustomerPage, paginated=True)},
    ),
    "GET /customers/{waId}": Operation(
        "getCustomer",
        "Get customer",
        query=ShopQuery,
        answers={200: Enveloped(CustomerProfile)},
        errors=("CUSTOMER_NOT_FOUND",),
    ),
    "PUT /customers/{waId}/tags": Operation(
        "updateCustomerTags",
        "Update customer tags",
        "Add and remove tags in one step; tags are kept lowercase kebab-case (`VIP Buyer` → `vip-buyer`).",
        query=ShopQuery,
        body=UpdateTagsRequest,
        answers={200: Enveloped(CustomerTags)},
        errors=("CUSTOMER_NOT_FOUND", "TAG_LIMIT_EXCEEDED", "CONCURRENT_UPDATE"),
    ),
    "PUT /customers/{waId}/opt-in": Operation(
        "updateCustomerConsent",
        "Update opt-in status",
        "Record the customer's consent (kept with its trail).",
        query=ShopQuery,
        body=OptInRequest,
        answers={200: Enveloped(ConsentChange)},
        errors=("CUSTOMER_NOT_FOUND", "CONCURRENT_UPDATE"),
    ),
    "GET /flows": Operation(
        "listFlows",
        "List flows",
        "The shop's flows with their stats, oldest first (`isActive` filters).",
        query=ListFlowsQuery,
        answers={200: Enveloped(FlowPage, paginated=True)},
    ),
    "POST /flows": Operation(
        "createFlow",
        "Create flow",
        "The flow definition is the Automation Guide's; an invalid one is 422 naming its JSON path "
        "(`steps[2].next`). A new flow is inactive.",
        body=CreateFlowRequest,
        answers={201: Enveloped(FlowCreated)},
        errors=("FLOW_NAME_TAKEN", "FLOW_LIMIT_REACHED", "CONCURRENT_UPDATE"),
    ),
    "GET /flows/{flowId}": Operation(
        "getFlow",
        "Get flow",
        "The flow and its current version's steps and settings.",
        answers={200: Enveloped(FlowDetail)},
        errors=("FLOW_NOT_FOUND",),
    ),
    "PUT /flows/{flowId}": Operation(
        "updateFlow",
        "Update flow",
        "A new immutable version from the fields given (running executions finish on theirs).",
        body=UpdateFlowRequest,
        answers={200: Enveloped(FlowSummary)},
        errors=("FLOW_NOT_FOUND", "FLOW_NAME_TAKEN", "TRIGGER_CLAIMED", "CONCURRENT_UPDATE"),
    ),
    "DELETE /flows/{flowId}": Operation(
        "deleteFlow",
        "Delete flow",
        "Only an inactive flow is deleted.",
        answers={200: Enveloped(FlowDeletion)},
        errors=("FLOW_NOT_FOUND", "FLOW_IS_ACTIVE"),
    ),
    "POST /flows/{flowId}/activate": Operation(
        "activateFlow",
        "Activate flow",
        "Its trigger's keywords and button ids are claimed: another active flow holding one is 409, named.",
        answers={200: Enveloped(FlowActivation)},
        errors=("FLOW_NOT_FOUND", "TRIGGER_CLAIMED", "CONCURRENT_UPDATE"),
    ),
    "POST /flows/{flowId}/deactivate": Operation(
        "deactivateFlow",
        "Deactivate flow",
        "No new executions start; running ones finish.",
        answers={200: Enveloped(FlowDeactivation)},
        errors=("FLOW_NOT_FOUND", "CONCURRENT_UPDATE"),
    ),
    "GET /ai-agents": Operation(
        "listAiAgents",
        "List AI agents",
        "The shop's agents without their knowledge, oldest first.",
        query=ListAgentsQuery,
        answers={200: Enveloped(AgentPage, paginated=True)},
    ),
    "POST /ai-agents": Operation(
        "createAiAgent",
        "Create AI agent",
        "The agent definition is the AI Chatbot Guide's. Its limits (temperature, maxTokens, 500 FAQ entries, "
        "2,000 products) are 422 naming the field; bodies of up to 5 MiB.",
        body=CreateAgentRequest,
        answers={201: Enveloped(AgentCreated)},
        errors=("AGENT_LIMIT_REACHED", "CONCURRENT_UPDATE"),
    ),
    "GET /ai-agents/{agentId}": Operation(
        "getAiAgent",
        "Get AI agent",
        "The agent with its whole knowledge (another shop's agent answers like a missing one: 404).",
        answers={200: Enveloped(AgentDetail)},
        errors=("AGENT_NOT_FOUND", "CONCURRENT_UPDATE"),
    ),
    "PUT /ai-agents/{agentId}": Operation(
        "updateAiAgent",
        "Update AI agent",
        "Any subset of the fields; a new knowledgeBase or products replaces that part as a new knowledge version.",
        body=UpdateAgentRequest,
        answers={200: Enveloped(AgentSummary)},
        errors=("AGENT_NOT_FOUND", "CONCURRENT_UPDATE"),
    ),
    "DELETE /ai-agents/{agentId}": Operation(
        "deleteAiAgent",
        "Delete AI agent",
        "Only an inactive agent is deleted.",
        answers={200: Enveloped(AgentDeletion)},
        errors=("AGENT_NOT_FOUND", "AGENT_IS_ACTIVE"),
    ),
    "POST /ai-agents/{agentId}/activate": Operation(
        "activateAiAgent",
        "Activate AI agent",
        "The shop's one active agent: the one active before is deactivated in the same write.",
        answers={200: Enveloped(AgentActivation)},
        errors=("AGENT_NOT_FOUND", "CONCURRENT_UPDATE"),
    ),
    "POST /ai-agents/{agentId}/deactivate": Operation(
        "deactivateAiAgent",
        "Deactivate AI agent",
        answers={200: Enveloped(AgentDeactivation)},
        errors=("AGENT_NOT_FOUND", "CONCURRENT_UPDATE"),
    ),
    "POST /ai-agents/{agentId}/test": Operation(
        "testAiAgent",
        "Test AI agent",
        "What the agent would answer: nothing is sent to WhatsApp or recorded in a conversation.",
        body=TestAgentRequest,
        answers={200: Enveloped(AgentTestResult)},
        errors=("AGENT_NOT_FOUND", "AI_PROVIDER_ERROR", "AI_PROVIDER_NOT_CONFIGURED"),
    ),
    "GET /templates": Operation(
        "listTemplates",
        "List message templates",
        "The shop's message templates as Meta last told us (a sync, or Meta's template webhooks since), by name "
        "then language; `status` and `category` filter by Meta's values.",
        query=ListTemplatesQuery,
        answers={200: Enveloped(TemplatePage, paginated=True)},
    ),
    "POST /templates/sync": Operation(
        "syncTemplates",
        "Sync message templates",
        "Read the shop's templates again from Meta (`GET /{waba-id}/message_templates`, every page) and keep "
        "them; a template Meta no longer lists is marked `DELETED`. Needs the shop's WhatsApp Business Account "
        "id (`POST /accounts` `wabaId`, or learnt from a webhook). Safe to repeat: the same answer and state.",
        body=SyncTemplatesRequest,
        answers={200: Enveloped(TemplateSync)},
        errors=(
            "ACCOUNT_NOT_FOUND",
            "WABA_ID_UNKNOWN",
            "INVALID_ACCESS_TOKEN",
            "WABA_NOT_FOUND",
            "GRAPH_API_ERROR",
            "GRAPH_API_UNAVAILABLE",
        ),
    ),
    "GET /templates/{name}": Operation(
        "getTemplate",
        "Get message template",
        "One template in one language, with its components as Meta defines them.",
        query=TemplateQuery,
        answers={200: Enveloped(TemplateView)},
        errors=("TEMPLATE_NOT_FOUND",),
    ),
    "GET /campaigns": Operation(
        "listCampaigns",
        "List campaigns",
        "The shop's campaigns, newest first (`status` filters).",
        query=ListCampaignsQuery,
        answers={200: Enveloped(CampaignPage, paginated=True)},
    ),
    "POST /campaigns": Operation(
        "createCampaign",
        "Create campaign",
        "A draft: one of the shop's templates (checked at launch: approved by Meta, its parameters fitting), "
        "per-customer parameters from placeholders (`{{customer.name|bạn}}`), an audience (tags any/all, "
        "excluded tags, last contact, or up to 10,000 waIds), an optional schedule and quiet hours.",
        body=CreateCampaignRequest,
        headers=(CREATE_IDEMPOTENCY_KEY,),
        answers={201: Enveloped(CampaignCreated)},
        errors=(
            "INVALID_PLACEHOLDER",
            "TEMPLATE_TOO_LARGE",
            "INVALID_AUDIENCE",
            "INVALID_QUIET_HOURS",
            "INVALID_SCHEDULE",
            "IDEMPOTENCY_KEY_REUSED",
            "IDEMPOTENCY_IN_PROGRESS",
            "CONCURRENT_UPDATE",
        ),
    ),
    "GET /campaigns/{campaignId}": Operation(
        "getCampaign",
        "Get campaign",
        "The campaign, its audience and its stats: recipients by state (queued, sent, failed, cancelled, "
        "paused, waiting for the tier or the quiet hours) and skipped customers by reason, exact.",
        answers={200: Enveloped(CampaignDetail)},
        errors=("CAMPAIGN_NOT_FOUND",),
    ),
    "GET /campaigns/{campaignId}/recipients": Operation(
        "listCampaignRecipients",
        "List campaign recipients",
        "What the campaign did with each customer it considered (queued, waiting, sent, failed, cancelled, "
        "skipped with its reason) and what Meta did with the message (its status, a failure's code), in "
        "customer order; `status` keeps one state. `totalCount` is exact (the recipients' counters).",
        query=ListRecipientsQuery,
        answers={200: Enveloped(RecipientPage)},
        errors=("CAMPAIGN_NOT_FOUND",),
    ),
    "PUT /campaigns/{campaignId}": Operation(
        "updateCampaign",
        "Update campaign",
        "A draft or a scheduled campaign: the fields given replace the campaign's (`scheduledAt` and "
        "`quietHours` may be null); a scheduled campaign waits for its `scheduledAt` again.",
        body=UpdateCampaignRequest,
        answers={200: Enveloped(CampaignDetail)},
        errors=(
            "CAMPAIGN_NOT_FOUND",
            "CAMPAIGN_NOT_EDITABLE",
            "INVALID_PLACEHOLDER",
            "TEMPLATE_TOO_LARGE",
            "INVALID_AUDIENCE",
            "INVALID_QUIET_HOURS",
            "INVALID_SCHEDULE",
            *_TEMPLATE_RULES,
            "CONCURRENT_UPDATE",
            "STATE_MACHINE_UNAVAILABLE",
        ),
    ),
    "DELETE /campaigns/{campaignId}": Operation(
        "deleteCampaign",
        "Delete campaign",
        "Only a draft is deleted; a launched campaign is cancelled instead (its history stays).",
        answers={200: Enveloped(CampaignDeletion)},
        errors=("CAMPAIGN_NOT_FOUND", "CAMPAIGN_NOT_DRAFT"),
    ),
    "POST /campaigns/{campaignId}/launch": Operation(
        "launchCampaign",
        "Launch campaign",
        "A draft starts now, or waits until its `scheduledAt` (`scheduled`). Its audience is enumerated a page "
        "at a time and sent at the number's rate and the messaging tier's limit, once per customer.",
        answers={200: Enveloped(CampaignTransition)},
        errors=("CAMPAIGN_NOT_FOUND", "CAMPAIGN_ALREADY_LAUNCHED", *_TEMPLATE_RULES, "STATE_MACHINE_UNAVAILABLE"),
    ),
    "POST /campaigns/{campaignId}/pause": Operation(
        "pauseCampaign",
        "Pause campaign",
        "What is not sent yet waits (within seconds) until the campaign is resumed.",
        answers={200: Enveloped(CampaignTransition)},
        errors=("CAMPAIGN_NOT_FOUND", "CAMPAIGN_NOT_RUNNING"),
    ),
    "POST /campaigns/{campaignId}/resume": Operation(
        "resumeCampaign",
        "Resume campaign",
        "A paused campaign goes on where it stopped; what waited for the resume is sent.",
        answers={200: Enveloped(CampaignTransition)},
        errors=("CAMPAIGN_NOT_FOUND", "CAMPAIGN_NOT_PAUSED", *_TEMPLATE_RULES, "STATE_MACHINE_UNAVAILABLE"),
    ),
    "POST /campaigns/{campaignId}/cancel": Operation(
        "cancelCampaign",
        "Cancel campaign",
        "Nothing more is sent: what is not sent yet is marked cancelled.",
        answers={200: Enveloped(CampaignTransition)},
        errors=("CAMPAIGN_NOT_FOUND", "CAMPAIGN_FINISHED", "CONCURRENT_UPDATE"),
    ),
    "POST /campaigns/{campaignId}/dry-run": Operation(
        "dryRunCampaign",
        "Dry-run campaign",
        "Who the campaign would send to now, and who it would skip by reason (opted out, no consent, invalid "
        "parameters, duplicate, not a customer, excluded); nothing is stored or sent. A large audience may "
        "answer `complete: false` with a `nextCursor` to continue from (`?cursor=`).",
        query=DryRunQuery,
        answers={200: Enveloped(DryRunResult)},
        errors=("CAMPAIGN_NOT_FOUND", *_TEMPLATE_RULES),
    ),
    "GET /analytics/messages": Operation(
        "getMessageStatistics",
        "Message statistics",
        "Inbound, outbound (accepted by Meta) and failed messages by `hour`, `day` or ISO `week` in `timezone` "
        "(IANA, default UTC), every bucket present; the last 30 days unless `startDate`/`endDate` say "
        "otherwise (at most 366 days, 31 for hours). Read from counters (docs/analytics.md).",
        query=MessagesQuery,
        answers={200: Enveloped(MessageStatistics)},
        errors=("UNSUPPORTED_TIMEZONE",),
    ),
    "GET /analytics/conversations": Operation(
        "getConversationMetrics",
        "Conversation metrics",
        "Average response and resolution times (`2m 30s`, and in seconds), automation and AI resolution "
        "rates and the human handoff rate, with the counts they come from, over the days "
        "`startDate`..`endDate` in `timezone` (IANA, default UTC; the last 30 days unless said, at most "
        "366). Definitions: docs/analytics.md, Conversations. Read from counters.",
        query=ConversationsQuery,
        answers={200: Enveloped(ConversationMetrics)},
        errors=("UNSUPPORTED_TIMEZONE",),
    ),
    "GET /analytics/automations": Operation(
        "getAutomationPerformance",
        "Automation performance",
        "Every flow of the shop with its executions, completion rate, average steps and fallback rate "
        "(docs/automation-flows.md, Stats): all time, or over `startDate`..`endDate` (UTC days, both "
        "included, at most 366; an open end is today, an open start 30 days before the end). Read from "
        "counters: one item a day of the range, however many executions.",
        query=AutomationsQuery,
        answers={200: Enveloped(AutomationsAnswer)},
    ),
    "GET /analytics/ai": Operation(
        "getAiStatistics",
        "AI statistics",
        "The AI agents' replies, handoffs by reason, prompt/completion tokens and estimated cost per day in "
        "`timezone` (IANA, default UTC), every day present; per agent and in total. The last 30 days unless "
        "`startDate`/`endDate` say otherwise (at most 366 days). Read from counters (docs/analytics.md, AI).",
        query=AiQuery,
        answers={200: Enveloped(AiStatistics)},
        errors=("UNSUPPORTED_TIMEZONE",),
    ),
}


def key_of(route: Route) -> str:
    return f"{route.method} {route.path}"


def operation_for(route: Route) -> Operation:
    """The route's operation. A HEAD route without an entry of its own is its GET's, answered without a
    body; a route without an entry (or with no answers) is one not built yet."""
    found = OPERATIONS.get(key_of(route))
    if found is None and route.method == "HEAD":
        get = operation_for(replace(route, method="GET"))
        return replace(get, operation_id=get.operation_id + "Head", summary=get.summary + " (headers only)")
    if found is None:
        found = Operation(_derived_id(route), f"{route.method} {route.path}")
    if found.built:
        return found
    # Not built yet: read as http.register_pending_routes reads it, then 501.
    return Operation(
        found.operation_id,
        found.summary,
        (found.description + " " if found.description else "") + "Not implemented yet: answers 501 once the "
        "caller is authenticated and, where the request names its shop, authorised.",
        body=ShopBody if route.shop_source is ShopSource.BODY else None,
        query=ShopQuery if route.shop_source is ShopSource.QUERY else None,
        errors=("NOT_IMPLEMENTED",),
    )


def _derived_id(route: Route) -> str:
    words = [route.method.lower()]
    for segment in route.path.strip("/").split("/"):
        name = segment.strip("{}")
        words.append(("by-" if segment.startswith("{") else "") + name)
    text = "-".join(words).replace("_", "-").replace(".", "-")
    first, *rest = text.split("-")
    return first + "".join(part[:1].upper() + part[1:] for part in rest if part)
