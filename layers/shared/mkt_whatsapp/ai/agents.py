"""A shop's AI agents: create, read, change, activate (one at a time), deactivate, delete.

Domain functions take the shop, the agent as read and the actor (``sentBy``-style ``createdBy`` /
``updatedBy``) as arguments; the HTTP handler authorises the shop first. An agent of another shop is
"not found" here too (``AGENT_NOT_FOUND``), whatever called. Storage: store/ai_agents.py."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from mkt_whatsapp.ai.knowledge import AgentProfile, Faq, Knowledge, Product
from mkt_whatsapp.core.clock import now_iso
from mkt_whatsapp.core.errors import BusinessRuleViolation, Conflict, NotFound
from mkt_whatsapp.core.retry import optimistically
from mkt_whatsapp.store import ai_agents as agent_store
from mkt_whatsapp.store import get_table
from mkt_whatsapp.store.table import Item, TransactionConflict

if TYPE_CHECKING:  # the models (pydantic) load with the first request that parses one, not at import
    from mkt_whatsapp.models.ai_agents import CreateAgentRequest, UpdateAgentRequest

# The agent item's own fields as the API shows them (the rest is bookkeeping: keys, versions).
_SETTINGS = (
    "name",
    "model",
    "personality",
    "instructions",
    "language",
    "temperature",
    "maxTokens",
    "business",
    "handoff",
    "monthlyBudgetUsd",
)


def not_found() -> NotFound:
    return NotFound("AI agent not found", code="AGENT_NOT_FOUND", field="agentId")


def load(agent_id: str) -> Item | None:
    """The agent as stored (consistent), or None: the handler authorises its shop before anything else."""
    return agent_store.get_agent(get_table(), agent_id, consistent=True)


def _require_shop(shop_id: str, agent: Item) -> None:
    if agent.get("shopId") != shop_id:
        raise not_found()


def _knowledge_document(faqs: list[dict[str, Any]], products: list[dict[str, Any]]) -> dict[str, Any]:
    return {"knowledgeBase": faqs, "products": products}


def _summary(agent: Item) -> dict[str, Any]:
    return {
        "agentId": agent["agentId"],
        "shopId": agent["shopId"],
        **{name: agent.get(name) for name in _SETTINGS},
        "isActive": bool(agent.get("isActive")),
        "knowledgeBaseCount": int(agent.get("knowledgeBaseCount", 0)),
        "productCount": int(agent.get("productCount", 0)),
        "knowledgeVersion": int(agent.get("knowledgeVersion", 1)),
        "createdAt": agent["createdAt"],
        "createdBy": agent.get("createdBy"),
        "updatedAt": agent.get("updatedAt"),
        "updatedBy": agent.get("updatedBy"),
    }


def knowledge_of(agent: Item) -> dict[str, Any]:
    """The agent's current knowledge document (``knowledgeBase``, ``products``); raises TransactionConflict
    if a newer version replaced it meanwhile (read the agent again)."""
    document = agent_store.read_knowledge(
        get_table(), str(agent["agentId"]), int(agent["knowledgeVersion"]), int(agent["knowledgeChunks"])
    )
    if document is None:
        raise TransactionConflict("the agent's knowledge was replaced while it was read")
    return document


def create(shop_id: str, request: CreateAgentRequest, *, actor: str) -> dict[str, Any]:
    from mkt_whatsapp.models.ai_agents import MAX_AGENTS_PER_SHOP

    if request.shop_id != shop_id:
        raise not_found()
    at = now_iso()
    agent_id = str(uuid.uuid4())
    wire = request.model_dump(mode="json", by_alias=True, exclude={"shop_id", "knowledge_base", "products"})
    agent: Item = {
        **wire,
        "agentId": agent_id,
        "shopId": shop_id,
        "isActive": False,
        "knowledgeBaseCount": len(request.knowledge_base),
        "productCount": len(request.products),
        "createdAt": at,
        "createdBy": actor,
    }
    document = _knowledge_document(
        [entry.to_wire() for entry in request.knowledge_base], [entry.to_wire() for entry in request.products]
    )
    try:
        agent_store.create(get_table(), agent, agent_store.encode_knowledge(document), max_agents=MAX_AGENTS_PER_SHOP)
    except agent_store.TooManyAgents as full:
        raise BusinessRuleViolation(
            f"A shop may have at most {MAX_AGENTS_PER_SHOP} AI agents; delete one first",
            code="AGENT_LIMIT_REACHED",
            field="shopId",
        ) from full
    return {"agentId": agent_id, "name": request.name, "model": request.model, "isActive": False, "createdAt": at}


def detail(shop_id: str, agent: Item) -> dict[str, Any]:
    """The agent with its whole knowledge (``GET /ai-agents/{agentId}``), one version of it."""
    _require_shop(shop_id, agent)
    current: Item | None = agent
    for _attempt in range(3):
        if current is None or current.get("shopId") != shop_id:
            raise not_found()
        try:
            return {**_summary(current), **knowledge_of(current)}
        except TransactionConflict:
            current = load(str(agent["agentId"]))  # replaced while read: the newer version, whole
    raise Conflict("The agent is being changed; retry", code="CONCURRENT_UPDATE")


def list_for(shop_id: str) -> list[dict[str, Any]]:
    """The shop's agents (without their knowledge), oldest first."""
    return [_summary(agent) for agent in agent_store.list_agents(get_table(), shop_id)]


def update(shop_id: str, agent: Item, request: UpdateAgentRequest, *, actor: str) -> dict[str, Any]:
    """Change the fields given; a new ``knowledgeBase`` or ``products`` replaces that part of the knowledge
    as a new version, atomically from a reader's view."""
    _require_shop(shop_id, agent)
    given = request.model_fields_set
    wire = request.model_dump(mode="json", by_alias=True, include=given - {"knowledge_base", "products"})
    table = get_table()

    def attempt(current: Item) -> Item:
        changes: Item = {**wire, "updatedAt": now_iso(), "updatedBy": actor}
        chunks = None
        if given & {"knowledge_base", "products"}:
            document = knowledge_of(current)
            if request.knowledge_base is not None:
                document["knowledgeBase"] = [entry.to_wire() for entry in request.knowledge_base]
            if request.products is not None:
                document["products"] = [entry.to_wire() for entry in request.products]
            changes.update(knowledgeBaseCount=len(document["knowledgeBase"]), productCount=len(document["products"]))
            chunks = agent_store.encode_knowledge(document)
        return agent_store.update(table, current, changes, chunks)

    state = {"current": agent}

    def once() -> Item:
        try:
            return attempt(state["current"])
        except (agent_store.AgentChanged, TransactionConflict):
            fresh = load(str(agent["agentId"]))
            if fresh is None or fresh.get("shopId") != shop_id:
                raise not_found() from None
            state["current"] = fresh
            raise

    updated = optimistically(
        once,
        attempts=4,
        retry_on=(agent_store.AgentChanged, TransactionConflict),
        exhausted=lambda: Conflict("The agent is being changed; retry", code="CONCURRENT_UPDATE"),
    )
    return _summary(updated)


def activate(shop_id: str, agent: Item, *, actor: str) -> dict[str, Any]:
    """Make the agent the shop's one active agent (the one active before is deactivated in the same
    write)."""
    _require_shop(shop_id, agent)
    agent_id = str(agent["agentId"])
    table = get_table()
    at = now_iso()

    def attempt() -> None:
        previous = agent_store.active_agent_id(table, shop_id, consistent=True)
        agent_store.activate(table, shop_id, agent_id, previous, at)

    try:
        optimistically(
            attempt,
            attempts=5,
            retry_on=(agent_store.ActiveAgentChanged, TransactionConflict),
            exhausted=lambda: Conflict("Another activation is in progress; retry", code="CONCURRENT_UPDATE"),
        )
    except agent_store.AgentChanged as gone:
        raise not_found() from gone
    return {"agentId": agent_id, "isActive": True, "activatedAt": at, "activatedBy": actor}


def deactivate(shop_id: str, agent: Item, *, actor: str) -> dict[str, Any]:
    _require_shop(shop_id, agent)
    agent_id = str(agent["agentId"])
    at = now_iso()
    optimistically(
        lambda: agent_store.deactivate(get_table(), shop_id, agent_id, at),
        attempts=5,
        retry_on=(agent_store.ActiveAgentChanged, TransactionConflict),
        exhausted=lambda: Conflict("Another activation is in progress; retry", code="CONCURRENT_UPDATE"),
    )
    return {"agentId": agent_id, "isActive": False, "deactivatedAt": at, "deactivatedBy": actor}


def delete(shop_id: str, agent: Item, *, actor: str) -> dict[str, Any]:
    _require_shop(shop_id, agent)
    if agent.get("isActive"):
        raise _still_active()
    try:
        agent_store.delete(get_table(), agent)
    except agent_store.AgentIsActive as active:
        raise _still_active() from active
    return {"agentId": agent["agentId"], "deleted": True, "deletedBy": actor}


def _still_active() -> Conflict:
    return Conflict("Deactivate the agent before deleting it", code="AGENT_IS_ACTIVE", field="agentId")


def profile_of(agent: Item) -> AgentProfile:
    return AgentProfile(
        agent_id=str(agent["agentId"]),
        name=str(agent["name"]),
        model=str(agent["model"]),
        personality=str(agent.get("personality") or ""),
        instructions=str(agent.get("instructions") or ""),
        language=agent.get("language") or "auto",
        temperature=float(agent.get("temperature", 0.3)),
        max_tokens=int(agent.get("maxTokens", 300)),
        business={k: str(v) for k, v in (agent.get("business") or {}).items() if v},
    )


def knowledge_from(document: dict[str, Any]) -> Knowledge:
    return Knowledge(
        faqs=tuple(Faq(question=str(e["question"]), answer=str(e["answer"])) for e in document["knowledgeBase"]),
        products=tuple(
            Product(
                sku=str(p["sku"]),
                name=str(p["name"]),
                price=p.get("price"),
                currency=p.get("currency"),
                description=str(p.get("description") or ""),
            )
            for p in document["products"]
        ),
    )
