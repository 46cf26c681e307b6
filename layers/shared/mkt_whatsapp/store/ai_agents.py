"""AI agents in the single table (docs/data-model.md).

- The agent: ``AGENT#<id>`` / ``AGENT`` — its settings, ``isActive``, and which version of its knowledge
  is current (``knowledgeVersion``, ``knowledgeChunks``); listed per shop through GSI1
  (``SHOP#<shop>#AGENTS``).
- Its knowledge (up to 500 FAQ entries and 2,000 products: more than one 400 KB item holds) is one
  zlib-compressed JSON document cut into chunks of at most ``CHUNK_BYTES``: ``AGENT#<id>`` /
  ``KB#<version>#<n>``. A version is written whole before the agent item points at it, in the same
  transaction as the pointer's move, and the chunks of the version it replaces are deleted in that
  transaction too (a reader holding the old version number reads it again: the responder and the test
  endpoint read the agent item and its chunks consistently, in one Query after one GetItem, and a
  vanished version means "read the agent again"). So a reply sees one whole version, never half of two.
- The shop's active agent: ``SHOP#<shop>`` / ``AI#ACTIVE`` (``agentId``). Activating moves it in one
  transaction that also flips both agents' ``isActive``, conditioned on the pointer still naming the
  agent it named when read: concurrent activations serialise, and exactly one agent is active.
- The shop's agent count: ``SHOP#<shop>`` / ``AI#COUNT``, bounded in the create transaction.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterator
from typing import Any

from mkt_whatsapp.store import keys
from mkt_whatsapp.store.table import ConditionFailed, Item, Table, Write

CHUNK_BYTES = 300_000
GSI1 = "GSI1"


class AgentExists(ConditionFailed):
    """An agent with this id exists already."""


class TooManyAgents(ConditionFailed):
    """The shop has as many agents as it may."""


class AgentChanged(ConditionFailed):
    """The agent changed (or went) since it was read."""


class ActiveAgentChanged(ConditionFailed):
    """Another activation or deactivation moved the shop's active agent since it was read."""


class AgentIsActive(ConditionFailed):
    """Only an inactive agent may be deleted."""


def encode_knowledge(knowledge: dict[str, Any]) -> list[bytes]:
    """The knowledge document as compressed chunks of at most CHUNK_BYTES."""
    packed = zlib.compress(json.dumps(knowledge, ensure_ascii=False, separators=(",", ":")).encode(), 6)
    return [packed[start : start + CHUNK_BYTES] for start in range(0, len(packed), CHUNK_BYTES)] or [b""]


def decode_knowledge(chunks: list[bytes]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(zlib.decompress(b"".join(chunks)))
    return document


def _chunk_items(agent_id: str, version: int, chunks: list[bytes]) -> Iterator[Item]:
    for number, data in enumerate(chunks):
        yield {"PK": keys.agent_pk(agent_id), "SK": keys.knowledge_sk(version, number), "data": data}


def get_agent(table: Table, agent_id: str, *, consistent: bool = False) -> Item | None:
    return table.get(keys.agent_pk(agent_id), keys.AGENT_SK, consistent=consistent)


def read_knowledge(table: Table, agent_id: str, version: int, chunk_count: int) -> dict[str, Any] | None:
    """One version's knowledge, or None if that version is gone (replaced since the agent was read)."""
    items = table.query_prefix(keys.agent_pk(agent_id), keys.knowledge_prefix(version), consistent=True)
    if len(items) != chunk_count:
        return None
    items.sort(key=lambda item: str(item["SK"]))
    return decode_knowledge([bytes(item["data"]) for item in items])


def list_agents(table: Table, shop_id: str) -> list[Item]:
    """The shop's agents, oldest first (at most MAX_AGENTS_PER_SHOP by construction)."""
    return table.query_index(GSI1, "GSI1PK", keys.shop_agents_gsi1pk(shop_id))


def create(table: Table, agent: Item, chunks: list[bytes], max_agents: int) -> None:
    shop_id, agent_id = str(agent["shopId"]), str(agent["agentId"])
    item = {
        **agent,
        "PK": keys.agent_pk(agent_id),
        "SK": keys.AGENT_SK,
        "entity": "ai_agent",
        "knowledgeVersion": 1,
        "knowledgeChunks": len(chunks),
        "version": 1,
        "GSI1PK": keys.shop_agents_gsi1pk(shop_id),
        "GSI1SK": keys.agent_gsi1sk(str(agent["createdAt"]), agent_id),
    }
    writes = [
        table.update_op(
            keys.shop_pk(shop_id),
            keys.AGENT_COUNT_SK,
            "ADD #count :one",
            {":one": 1, ":max": max_agents},
            names={"#count": "count"},
            condition="attribute_not_exists(#count) OR #count < :max",
            fails_with=TooManyAgents,
        ),
        table.put_op(item, condition="attribute_not_exists(PK)", fails_with=AgentExists),
        *(table.put_op(chunk) for chunk in _chunk_items(agent_id, 1, chunks)),
    ]
    table.transact_write(writes)


def update(table: Table, current: Item, changes: Item, chunks: list[bytes] | None) -> Item:
    """Apply ``changes`` (wire names) to the agent read as ``current``; with ``chunks``, its knowledge is
    replaced by a new version in the same transaction. Raises AgentChanged if it changed meanwhile."""
    agent_id = str(current["agentId"])
    read_version = int(current["version"])
    names: dict[str, str] = {"#version": "version"}
    values: dict[str, Any] = {":read": read_version, ":next": read_version + 1}
    sets = ["#version = :next"]
    for index, (name, value) in enumerate(changes.items()):
        names[f"#f{index}"] = name
        values[f":f{index}"] = value
        sets.append(f"#f{index} = :f{index}")
    writes: list[Write] = []
    updated = {**current, **changes, "version": read_version + 1}
    if chunks is not None:
        old_version, old_count = int(current["knowledgeVersion"]), int(current["knowledgeChunks"])
        new_version = old_version + 1
        names.update({"#kv": "knowledgeVersion", "#kc": "knowledgeChunks"})
        values.update({":kv": new_version, ":kc": len(chunks)})
        sets += ["#kv = :kv", "#kc = :kc"]
        writes += [table.put_op(chunk) for chunk in _chunk_items(agent_id, new_version, chunks)]
        writes += [
            table.delete_op(keys.agent_pk(agent_id), keys.knowledge_sk(old_version, number))
            for number in range(old_count)
        ]
        updated.update(knowledgeVersion=new_version, knowledgeChunks=len(chunks))
    writes.insert(
        0,
        table.update_op(
            keys.agent_pk(agent_id),
            keys.AGENT_SK,
            "SET " + ", ".join(sets),
            values,
            names=names,
            condition="#version = :read",
            fails_with=AgentChanged,
        ),
    )
    table.transact_write(writes)
    return updated


def active_agent_id(table: Table, shop_id: str, *, consistent: bool = False) -> str | None:
    item = table.get(keys.shop_pk(shop_id), keys.ACTIVE_AGENT_SK, consistent=consistent)
    return str(item["agentId"]) if item else None


def activate(table: Table, shop_id: str, agent_id: str, previous: str | None, at: str) -> None:
    """Make ``agent_id`` the shop's one active agent, in one transaction conditioned on the pointer still
    naming ``previous`` (None: no agent was active)."""
    pointer_condition = "attribute_not_exists(PK)" if previous is None else "agentId = :previous"
    pointer_values: dict[str, Any] = {} if previous is None else {":previous": previous}
    writes = [
        table.put_op(
            {"PK": keys.shop_pk(shop_id), "SK": keys.ACTIVE_AGENT_SK, "agentId": agent_id, "activatedAt": at},
            condition=pointer_condition,
            values=pointer_values or None,
            fails_with=ActiveAgentChanged,
        ),
        table.update_op(
            keys.agent_pk(agent_id),
            keys.AGENT_SK,
            "SET isActive = :yes, activatedAt = :at",
            {":yes": True, ":at": at, ":shop": shop_id},
            condition="attribute_exists(PK) AND shopId = :shop",
            fails_with=AgentChanged,
        ),
    ]
    if previous is not None and previous != agent_id:
        writes.append(
            table.update_op(
                keys.agent_pk(previous),
                keys.AGENT_SK,
                "SET isActive = :no, deactivatedAt = :at",
                {":no": False, ":at": at},
                condition="attribute_exists(PK)",
                fails_with=AgentChanged,
            )
        )
    table.transact_write(writes)


def deactivate(table: Table, shop_id: str, agent_id: str, at: str) -> None:
    """Stop the agent answering: its flag and the shop's pointer (if it still names this agent)."""
    active = active_agent_id(table, shop_id, consistent=True)
    writes = [
        table.update_op(
            keys.agent_pk(agent_id),
            keys.AGENT_SK,
            "SET isActive = :no, deactivatedAt = :at",
            {":no": False, ":at": at},
            condition="attribute_exists(PK)",
            fails_with=AgentChanged,
        )
    ]
    if active == agent_id:
        writes.append(
            table.delete_op(
                keys.shop_pk(shop_id),
                keys.ACTIVE_AGENT_SK,
                condition="agentId = :me",
                values={":me": agent_id},
                fails_with=ActiveAgentChanged,
            )
        )
    table.transact_write(writes)


def delete(table: Table, agent: Item) -> None:
    agent_id, shop_id = str(agent["agentId"]), str(agent["shopId"])
    writes = [
        table.delete_op(
            keys.agent_pk(agent_id),
            keys.AGENT_SK,
            condition="isActive = :no AND #version = :read",
            values={":no": False, ":read": int(agent["version"])},
            names={"#version": "version"},
            fails_with=AgentIsActive,
        ),
        table.update_op(
            keys.shop_pk(shop_id), keys.AGENT_COUNT_SK, "ADD #count :minus", {":minus": -1}, names={"#count": "count"}
        ),
        *(
            table.delete_op(keys.agent_pk(agent_id), keys.knowledge_sk(int(agent["knowledgeVersion"]), number))
            for number in range(int(agent["knowledgeChunks"]))
        ),
    ]
    table.transact_write(writes)
