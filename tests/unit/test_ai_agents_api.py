"""The AI agents API (issue 11, item 1-2): create, read, list, change, activate one at a time, deactivate,
delete; the guide's limits; knowledge at full size, versioned; another shop's agent is never visible."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from mkt_whatsapp.store import keys
from tests.support import ApiClient, AwsStack, make_token

SHOP = "shop-ai"
OTHER = "shop-ai-other"


def agent_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "shopId": SHOP,
        "name": "Tư vấn viên Lan",
        "model": "gpt-4o-mini",
        "personality": "Thân thiện, ngắn gọn, tư vấn laptop cho cửa hàng điện máy.",
        "instructions": "Never promise discounts.",
        "language": "vi",
        "temperature": 0.3,
        "maxTokens": 300,
        "business": {"shopName": "Điện Máy ABC", "hours": "8:00–21:00", "policies": "Đổi trả trong 7 ngày."},
        "knowledgeBase": [{"question": "Có giao hàng không?", "answer": "Giao toàn quốc, 2–4 ngày."}],
        "products": [
            {"sku": "LP-01", "name": "Laptop X1", "price": 15990000, "currency": "VND", "description": "Mỏng nhẹ"}
        ],
        "handoff": {
            "keywords": ["nhân viên", "human"],
            "maxTurns": 10,
            "message": {"type": "text", "text": "Mình chuyển bạn sang nhân viên nhé."},
        },
    }
    body.update(overrides)
    return body


@pytest.fixture
def client(api: ApiClient) -> ApiClient:
    api.token = make_token([SHOP])
    return api


def create(client: ApiClient, **overrides: Any) -> str:
    reply = client.post("/ai-agents", json_body=agent_body(**overrides))
    assert reply.status == 201, reply.text
    return str(reply.data["agentId"])


def test_create_answers_as_the_guide_says_and_get_reads_it_whole(client: ApiClient) -> None:
    reply = client.post("/ai-agents", json_body=agent_body())
    assert reply.status == 201, reply.text
    assert set(reply.data) == {"agentId", "name", "model", "isActive", "createdAt"}
    assert (reply.data["name"], reply.data["model"], reply.data["isActive"]) == (
        "Tư vấn viên Lan",
        "gpt-4o-mini",
        False,
    )
    agent = client.get(f"/ai-agents/{reply.data['agentId']}").data
    sent = agent_body()
    for field in ("name", "model", "personality", "instructions", "language", "temperature", "maxTokens"):
        assert agent[field] == sent[field]
    assert agent["business"]["shopName"] == "Điện Máy ABC"
    assert agent["knowledgeBase"] == sent["knowledgeBase"]
    assert agent["products"][0]["sku"] == "LP-01"
    assert agent["products"][0]["price"] == 15990000
    assert agent["handoff"]["keywords"] == ["nhân viên", "human"]
    assert agent["createdBy"] == "agent-1"
    listed = client.get("/ai-agents", query={"shopId": SHOP})
    assert [a["agentId"] for a in listed.data["agents"]] == [reply.data["agentId"]]
    assert "knowledgeBase" not in listed.data["agents"][0]
    assert listed.data["agents"][0]["knowledgeBaseCount"] == 1
    assert listed.json["pagination"]["total"] == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"temperature": 2.5}, "temperature"),
        ({"temperature": -0.1}, "temperature"),
        ({"maxTokens": 0}, "maxTokens"),
        ({"maxTokens": 4097}, "maxTokens"),
        ({"knowledgeBase": [{"question": f"q{i}", "answer": "a"} for i in range(501)]}, "knowledgeBase"),
        ({"products": [{"sku": f"S{i}", "name": "n"} for i in range(2001)]}, "products"),
    ],
)
def test_the_guides_limits_are_422_naming_the_field(client: ApiClient, overrides: dict, field: str) -> None:
    reply = client.post("/ai-agents", json_body=agent_body(**overrides))
    assert (reply.status, reply.field) == (422, field), reply.text


@pytest.mark.parametrize(
    ("overrides", "field", "code"),
    [
        (
            {"knowledgeBase": [{"question": "q", "answer": "a"}] * 3 + [{"question": "q", "answer": ""}]},
            "knowledgeBase[3].answer",
            "TOO_SHORT",
        ),
        ({"language": "fr"}, "language", "INVALID_VALUE"),
        ({"name": ""}, "name", "TOO_SHORT"),
        ({"model": "gpt 4o"}, "model", "INVALID_FORMAT"),
        ({"temperature": "hot"}, "temperature", "INVALID_TYPE"),
        ({"products": [{"sku": "S1", "name": "n", "currency": "dong"}]}, "products[0].currency", "INVALID_FORMAT"),
        ({"handoff": {"maxTurns": 0}}, "handoff.maxTurns", "OUT_OF_RANGE"),
    ],
)
def test_a_bad_field_is_named_by_its_json_path(client: ApiClient, overrides: dict, field: str, code: str) -> None:
    reply = client.post("/ai-agents", json_body=agent_body(**overrides))
    assert (reply.field, reply.code) == (field, code), reply.text
    assert reply.status in (400, 422)


def test_name_and_model_are_required(client: ApiClient) -> None:
    body = agent_body()
    del body["model"]
    reply = client.post("/ai-agents", json_body=body)
    assert (reply.status, reply.field, reply.code) == (400, "model", "REQUIRED_FIELD")


def full_knowledge() -> tuple[list[dict], list[dict]]:
    faqs = [
        {
            "question": f"Câu hỏi số {i}: sản phẩm có bảo hành không?",
            "answer": f"Bảo hành {i % 24 + 1} tháng chính hãng.",
        }
        for i in range(500)
    ]
    products = [
        {
            "sku": f"SKU-{i:05d}",
            "name": f"Điện thoại Galaxy mẫu {i}",
            "price": 1_000_000 + i * 1000,
            "currency": "VND",
            "description": "Màn hình 6,5 inch, pin 5000 mAh, sạc nhanh 25 W, camera 50 MP. " * 3,
        }
        for i in range(2000)
    ]
    return faqs, products


def test_an_agent_at_full_size_saves_reads_and_is_replaced_whole(client: ApiClient, aws: AwsStack) -> None:
    faqs, products = full_knowledge()
    agent_id = create(client, knowledgeBase=faqs, products=products)
    agent = client.get(f"/ai-agents/{agent_id}").data
    assert agent["knowledgeBase"] == faqs
    assert agent["products"] == products
    assert (agent["knowledgeBaseCount"], agent["productCount"], agent["knowledgeVersion"]) == (500, 2000, 1)

    # A new product list replaces that part of the knowledge as a new version; the FAQ stays.
    changed = client.put(f"/ai-agents/{agent_id}", json_body={"products": products[:10], "temperature": 0.7})
    assert changed.status == 200, changed.text
    assert (changed.data["knowledgeVersion"], changed.data["productCount"], changed.data["temperature"]) == (2, 10, 0.7)
    agent = client.get(f"/ai-agents/{agent_id}").data
    assert agent["products"] == products[:10]
    assert agent["knowledgeBase"] == faqs
    # Only the current version's chunks remain.
    from mkt_whatsapp.store import get_table

    chunks = get_table().query_prefix(keys.agent_pk(agent_id), "KB#", consistent=True)
    assert chunks
    assert all(item["SK"].startswith(keys.knowledge_prefix(2)) for item in chunks)


def test_an_update_without_fields_is_400_and_settings_change_without_a_new_knowledge_version(client: ApiClient) -> None:
    agent_id = create(client)
    empty = client.put(f"/ai-agents/{agent_id}", json_body={})
    assert (empty.status, empty.field) == (400, "body"), empty.text
    renamed = client.put(f"/ai-agents/{agent_id}", json_body={"name": "Lan 2", "handoff": {"keywords": ["người thật"]}})
    assert renamed.status == 200, renamed.text
    assert (renamed.data["name"], renamed.data["knowledgeVersion"], renamed.data["updatedBy"]) == (
        "Lan 2",
        1,
        "agent-1",
    )
    assert renamed.data["handoff"]["keywords"] == ["người thật"]
    assert client.put(f"/ai-agents/{agent_id}", json_body={"maxTokens": 5000}).status == 422


def test_one_agent_is_active_at_a_time(client: ApiClient) -> None:
    first, second = create(client), create(client, name="Minh")
    assert client.post(f"/ai-agents/{first}/activate").data["isActive"] is True
    assert client.post(f"/ai-agents/{second}/activate").status == 200
    states = {a["agentId"]: a["isActive"] for a in client.get("/ai-agents", query={"shopId": SHOP}).data["agents"]}
    assert states == {first: False, second: True}
    assert client.post(f"/ai-agents/{second}/deactivate").data["isActive"] is False
    assert client.get(f"/ai-agents/{second}").data["isActive"] is False


def test_concurrent_activations_leave_exactly_one_active_agent(client: ApiClient) -> None:
    from mkt_whatsapp.store import ai_agents as agent_store
    from mkt_whatsapp.store import get_table

    ids = [create(client, name=f"Agent {n}") for n in range(6)]
    answers: list[int] = []

    def activate(agent_id: str) -> None:
        answers.append(client.post(f"/ai-agents/{agent_id}/activate").status)

    threads = [threading.Thread(target=activate, args=(agent_id,)) for agent_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(answers) <= {200, 409}
    active = [a for a in client.get("/ai-agents", query={"shopId": SHOP}).data["agents"] if a["isActive"]]
    assert len(active) == 1
    assert agent_store.active_agent_id(get_table(), SHOP, consistent=True) == active[0]["agentId"]


def test_only_an_inactive_agent_is_deleted(client: ApiClient) -> None:
    agent_id = create(client)
    client.post(f"/ai-agents/{agent_id}/activate")
    refused = client.delete(f"/ai-agents/{agent_id}")
    assert (refused.status, refused.code) == (409, "AGENT_IS_ACTIVE")
    client.post(f"/ai-agents/{agent_id}/deactivate")
    assert client.delete(f"/ai-agents/{agent_id}").status == 200
    assert (client.get(f"/ai-agents/{agent_id}").status, client.get(f"/ai-agents/{agent_id}").code) == (
        404,
        "AGENT_NOT_FOUND",
    )


def test_a_shop_has_at_most_twenty_agents(client: ApiClient) -> None:
    for n in range(20):
        create(client, name=f"A{n}")
    reply = client.post("/ai-agents", json_body=agent_body())
    assert (reply.status, reply.code) == (422, "AGENT_LIMIT_REACHED")


@pytest.mark.parametrize(
    ("method", "suffix", "body"),
    [
        ("GET", "", None),
        ("PUT", "", {"name": "stolen"}),
        ("DELETE", "", None),
        ("POST", "/activate", None),
        ("POST", "/deactivate", None),
        ("POST", "/test", {"conversationHistory": [{"role": "user", "content": "hi"}]}),
    ],
)
def test_another_shops_agent_is_not_found_and_untouched(client: ApiClient, method: str, suffix: str, body) -> None:
    agent_id = create(client)
    before = client.get(f"/ai-agents/{agent_id}").data
    reply = client.request(method, f"/ai-agents/{agent_id}{suffix}", json_body=body, token=make_token([OTHER]))
    assert (reply.status, reply.code, reply.field) == (404, "AGENT_NOT_FOUND", "agentId"), reply.text
    assert client.get(f"/ai-agents/{agent_id}").data == before
    listed = client.get("/ai-agents", query={"shopId": OTHER}, token=make_token([OTHER]))
    assert listed.data["agents"] == []


def test_a_body_naming_another_shop_is_403(client: ApiClient) -> None:
    reply = client.post("/ai-agents", json_body=agent_body(shopId=OTHER))
    assert (reply.status, reply.code) == (403, "SHOP_ACCESS_DENIED")
