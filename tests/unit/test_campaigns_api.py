"""Campaigns (issue 14, item 2): create, list, read, change, delete; the audience a dry run selects and why it
skips whom; placeholders with fallbacks; the states and the 409s of each action refused; the template checks.
Real HTTP API v2 events through SAM's local API Gateway, on moto."""

from __future__ import annotations

from typing import Any

import pytest

from mkt_whatsapp.campaigns import placeholders
from tests.unit.campaign_helpers import add_customer, campaign_body, create, detail, seed


@pytest.fixture
def shop(connected_shop: dict[str, Any]) -> dict[str, Any]:
    seed(connected_shop["shop_id"])
    return connected_shop


def dry_run(shop: dict[str, Any], campaign_id: str, **query: str) -> dict[str, Any]:
    reply = shop["api"].post(f"/campaigns/{campaign_id}/dry-run", query=query or None)
    assert reply.status == 200, reply.text
    return dict(reply.data)


def skipped(result: dict[str, Any]) -> dict[str, int]:
    return {reason: count for reason, count in result["skipped"].items() if count and reason != "total"}


# --- create, read, list, change, delete -------------------------------------------------------------------


def test_a_campaign_is_created_as_a_draft_and_read_back_with_its_stats(shop: dict[str, Any]) -> None:
    api = shop["api"]
    body = campaign_body(
        shop["shop_id"],
        audience={"tags": ["VIP Buyer"], "match": "all", "excludeTags": ["No Promo"]},
        quietHours={"start": "21:00", "end": "08:00", "timezone": "Asia/Ho_Chi_Minh"},
    )
    reply = api.post("/campaigns", json_body=body)
    assert reply.status == 201, reply.text
    assert set(reply.data) == {"campaignId", "name", "status", "createdAt"}
    assert (reply.data["name"], reply.data["status"]) == ("Spring sale", "draft")

    campaign = detail(api, reply.data["campaignId"])
    assert campaign["status"] == "draft"
    assert campaign["template"] == body["template"]
    assert campaign["audience"] == {
        "tags": ["vip-buyer"],
        "match": "all",
        "excludeTags": ["no-promo"],
        "lastContactedBefore": None,
        "lastContactedAfter": None,
        "waIdCount": None,
    }
    assert campaign["quietHours"] == {"start": "21:00", "end": "08:00", "timezone": "Asia/Ho_Chi_Minh"}
    assert campaign["stats"]["recipients"] == 0
    assert campaign["stats"]["enumerationComplete"] is False
    assert campaign["createdBy"] == "agent-1"


def test_an_idempotency_key_returns_the_first_campaign_instead_of_a_second(shop: dict[str, Any]) -> None:
    api = shop["api"]
    body = campaign_body(shop["shop_id"])
    first = api.post("/campaigns", json_body=body, headers={"Idempotency-Key": "spring-2026"})
    again = api.post("/campaigns", json_body=body, headers={"Idempotency-Key": "spring-2026"})
    assert (first.status, again.status) == (201, 201), again.text
    assert again.data == first.data
    listed = api.get("/campaigns", query={"shopId": shop["shop_id"]})
    assert listed.data["totalCount"] == 1
    other = api.post("/campaigns", json_body={**body, "name": "Another"}, headers={"Idempotency-Key": "spring-2026"})
    assert (other.status, other.code) == (409, "IDEMPOTENCY_KEY_REUSED")


def test_the_list_filters_by_status_and_pages(shop: dict[str, Any]) -> None:
    api = shop["api"]
    ids = [create(api, campaign_body(shop["shop_id"], name=f"Campaign {n}")) for n in range(3)]
    assert api.post(f"/campaigns/{ids[0]}/cancel").status == 200
    page = api.get("/campaigns", query={"shopId": shop["shop_id"], "take": "2"})
    assert page.status == 200, page.text
    assert page.data["totalCount"] == 3
    assert page.json["pagination"] == {"page": 1, "limit": 2, "total": 3, "totalPages": 2}
    rest = api.get("/campaigns", query={"shopId": shop["shop_id"], "take": "2", "skip": "2"})
    names = [c["name"] for c in page.data["campaigns"] + rest.data["campaigns"]]
    assert sorted(names) == ["Campaign 0", "Campaign 1", "Campaign 2"]  # newest first (created the same second)
    drafts = api.get("/campaigns", query={"shopId": shop["shop_id"], "status": "draft"})
    assert {c["campaignId"] for c in drafts.data["campaigns"]} == set(ids[1:])
    bad = api.get("/campaigns", query={"shopId": shop["shop_id"], "status": "sending"})
    assert (bad.status, bad.code, bad.field) == (400, "INVALID_VALUE", "status")


@pytest.mark.parametrize(
    ("change", "status", "code", "field"),
    [
        ({"audience": {"tags": ["vip", "!!!"]}}, 400, "INVALID_VALUE", "audience.tags[1]"),
        ({"scheduledAt": "2026-12-24T12:00:00"}, 400, "INVALID_TYPE", "scheduledAt"),
        (
            {
                "template": {
                    "name": "spring_sale",
                    "language": "vi",
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": "x" * 1000}] * 17}],
                }
            },
            422,
            "TEMPLATE_TOO_LARGE",
            "template.components",
        ),
        (
            {
                "template": {
                    "name": "spring_sale",
                    "language": "vi",
                    "components": [{"type": "body", "parameters": [{"type": "text", "text": "{{customer.email}}"}]}],
                }
            },
            422,
            "INVALID_PLACEHOLDER",
            "template.components[0].parameters[0].text",
        ),
        (
            {
                "template": {
                    "name": "spring_sale",
                    "language": "vi",
                    "components": [
                        {"type": "body", "parameters": [{"type": "text", "text": "Chào {{customer.name|  }}"}]}
                    ],
                }
            },
            422,
            "INVALID_PLACEHOLDER",
            "template.components[0].parameters[0].text",
        ),
        (
            {"quietHours": {"start": "21:00", "end": "21:00", "timezone": "UTC"}},
            422,
            "INVALID_QUIET_HOURS",
            "quietHours.end",
        ),
        (
            {"quietHours": {"start": "21:00", "end": "08:00", "timezone": "Mars/Olympus"}},
            400,
            "INVALID_VALUE",
            "quietHours.timezone",
        ),
        (
            {"quietHours": {"start": "25:00", "end": "08:00", "timezone": "UTC"}},
            400,
            "INVALID_FORMAT",
            "quietHours.start",
        ),
        (
            {"audience": {"lastContactedAfter": "2026-06-01T00:00:00Z", "lastContactedBefore": "2026-05-01T00:00:00Z"}},
            422,
            "INVALID_AUDIENCE",
            "audience.lastContactedAfter",
        ),
        ({"audience": {"waIds": [f"849{n:08d}" for n in range(10_001)]}}, 400, "TOO_LONG", "audience.waIds"),
        ({"audience": {"tags": ["vip"], "match": "some"}}, 400, "INVALID_VALUE", "audience.match"),
        ({"scheduledAt": "2099-01-01T00:00:00Z"}, 422, "INVALID_SCHEDULE", "scheduledAt"),
        ({"template": {"name": "Spring Sale", "language": "vi"}}, 400, "INVALID_FORMAT", "template.name"),
        (
            {"template": {"name": "spring_sale", "language": "vi", "components": [{"type": "carousel"}]}},
            400,
            "INVALID_VALUE",
            "template.components[0].type",
        ),
    ],
    ids=[
        "a tag that keeps nothing",
        "a time without its offset",
        "parameters over 16 KB",
        "unknown placeholder",
        "empty fallback",
        "quiet hours of no length",
        "unknown time zone",
        "not a time",
        "last contact after its before",
        "more than 10,000 waIds",
        "unknown match",
        "more than a year ahead",
        "template name",
        "unknown component",
    ],
)
def test_what_a_campaign_may_not_be(shop: dict[str, Any], change: dict, status: int, code: str, field: str) -> None:
    reply = shop["api"].post("/campaigns", json_body=campaign_body(shop["shop_id"], **change))
    assert (reply.status, reply.code, reply.field) == (status, code, field), reply.text


def test_a_draft_is_changed_and_deleted(shop: dict[str, Any]) -> None:
    api = shop["api"]
    campaign_id = create(
        api, campaign_body(shop["shop_id"], quietHours={"start": "22:00", "end": "07:00", "timezone": "UTC"})
    )
    changed = api.put(
        f"/campaigns/{campaign_id}",
        json_body={"name": "Spring sale 2", "audience": {"waIds": ["84900000001", "84900000002"]}, "quietHours": None},
    )
    assert changed.status == 200, changed.text
    assert changed.data["name"] == "Spring sale 2"
    assert changed.data["audience"]["waIdCount"] == 2
    assert changed.data["quietHours"] is None
    assert changed.data["template"]["name"] == "spring_sale"  # what was not given is kept
    deleted = api.delete(f"/campaigns/{campaign_id}")
    assert deleted.status == 200, deleted.text
    assert deleted.data == {"campaignId": campaign_id, "deleted": True, "deletedBy": "agent-1"}
    gone = api.get(f"/campaigns/{campaign_id}")
    assert (gone.status, gone.code) == (404, "CAMPAIGN_NOT_FOUND")


# --- the audience and the dry run ------------------------------------------------------------------------


def test_the_dry_run_counts_who_would_receive_a_marketing_template_and_who_is_skipped_why(
    shop: dict[str, Any],
) -> None:
    shop_id = shop["shop_id"]
    add_customer(shop_id, "84900000001", name="An", tags=["vip"])
    add_customer(shop_id, "84900000002", name="Bình", tags=["vip", "no-promo"])  # excluded: not in the audience
    add_customer(shop_id, "84900000003", name="Chi", tags=["vip"], consent="opted_out")
    add_customer(shop_id, "84900000004", name="Dũng", tags=["vip"], consent="unknown")
    add_customer(shop_id, "84900000005", name=None, tags=["vip"])  # the fallback: "bạn"
    add_customer(shop_id, "84900000006", name="Em", tags=["new"])  # not vip: not in the audience
    campaign_id = create(shop["api"], campaign_body(shop_id))
    result = dry_run(shop, campaign_id)
    assert result["templateCategory"] == "marketing"
    assert (result["audience"], result["wouldReceive"], result["complete"]) == (4, 2, True)
    assert skipped(result) == {"optedOut": 1, "noConsent": 1}
    assert result["nextCursor"] is None
    assert detail(shop["api"], campaign_id)["stats"]["recipients"] == 0  # nothing stored


def test_a_utility_template_goes_to_customers_without_marketing_consent(shop: dict[str, Any]) -> None:
    shop_id = shop["shop_id"]
    add_customer(shop_id, "84900000011", name="An", tags=["vip"], consent="opted_out")
    add_customer(shop_id, "84900000012", name="Bình", tags=["vip"], consent="unknown")
    body = campaign_body(shop_id)
    body["template"] = {**body["template"], "name": "order_note"}
    result = dry_run(shop, create(shop["api"], body))
    assert (result["templateCategory"], result["wouldReceive"], skipped(result)) == ("utility", 2, {})


@pytest.mark.parametrize(
    ("audience", "expected"),
    [
        ({"tags": ["vip", "new"], "match": "any"}, {"84900000021", "84900000022", "84900000023"}),
        ({"tags": ["vip", "new"], "match": "all"}, {"84900000022"}),
        ({"tags": ["vip", "new"], "excludeTags": ["no-promo"]}, {"84900000021", "84900000022"}),
        ({}, {"84900000021", "84900000022", "84900000023", "84900000024"}),
        ({"lastContactedBefore": "2026-06-01T00:00:00Z"}, {"84900000021", "84900000024"}),
        ({"lastContactedAfter": "2026-06-01T00:00:00Z"}, {"84900000022", "84900000023"}),
        (
            {"lastContactedAfter": "2026-03-01T00:00:00Z", "lastContactedBefore": "2026-08-01T00:00:00Z"},
            {"84900000021", "84900000022"},
        ),
    ],
    ids=["tags any", "tags all", "excluded tags", "everyone", "contacted before", "contacted after", "between"],
)
def test_the_audience_selects_by_tags_exclusions_and_last_contact(
    shop: dict[str, Any], audience: dict[str, Any], expected: set[str]
) -> None:
    from mkt_whatsapp.campaigns import audience as selection
    from mkt_whatsapp.store import get_table

    shop_id = shop["shop_id"]
    add_customer(shop_id, "84900000021", tags=["vip"], last_contacted="2026-05-01T00:00:00Z")
    add_customer(shop_id, "84900000022", tags=["vip", "new"], last_contacted="2026-07-01T00:00:00Z")
    add_customer(shop_id, "84900000023", tags=["new", "no-promo"], last_contacted="2026-09-01T00:00:00Z")
    add_customer(shop_id, "84900000024", tags=[], last_contacted="2026-02-01T00:00:00Z")
    campaign_id = create(shop["api"], campaign_body(shop_id, audience=audience))
    result = dry_run(shop, campaign_id)
    assert result["wouldReceive"] == len(expected)
    # The same selection, page by page of two (the fan-out's): exactly these customers.
    campaign = detail(shop["api"], campaign_id)
    campaign["shopId"] = shop_id
    met, cursor = [], ""
    while cursor is not None:
        candidates, cursor = selection.page(get_table(), campaign, cursor, limit=2)
        met += [c.position for c in candidates]
    assert set(met) == expected
    assert len(met) == len(expected)


def test_an_explicit_list_counts_duplicates_strangers_and_exclusions(shop: dict[str, Any]) -> None:
    shop_id = shop["shop_id"]
    add_customer(shop_id, "84900000031", name="An", tags=["vip"])
    add_customer(shop_id, "84900000032", name="Bình", tags=["vip"], bsuid="VN.1349870655223189")
    add_customer(shop_id, "84900000033", name="Chi", tags=["no-promo"])
    add_customer(shop_id, "84900000034", name="Dũng", tags=["vip"], consent="opted_out")
    wa_ids = [
        "84900000031",
        "84900000031",  # the same customer again
        "VN.1349870655223189",  # Bình, by the business-scoped user id
        "84900000032",  # Bình again, by phone: a duplicate
        "84900000099",  # no customer of the shop
        "84900000033",  # excluded (no-promo)
        "84900000034",  # opted out
    ]
    campaign_id = create(shop["api"], campaign_body(shop_id, audience={"waIds": wa_ids, "excludeTags": ["no-promo"]}))
    result = dry_run(shop, campaign_id)
    assert (result["audience"], result["wouldReceive"]) == (7, 2)
    assert skipped(result) == {"duplicate": 2, "notACustomer": 1, "excluded": 1, "optedOut": 1}


def test_a_placeholder_without_a_value_and_without_a_fallback_skips_the_customer(shop: dict[str, Any]) -> None:
    shop_id = shop["shop_id"]
    add_customer(shop_id, "84900000041", name="An", tags=["vip"], fields={"city": "Hà Nội"})
    add_customer(shop_id, "84900000042", name="Bình", tags=["vip"])  # no city
    add_customer(shop_id, "84900000043", name="Chi", tags=["vip"], fields={"city": "  "})  # blank: none
    body = campaign_body(shop_id)
    body["template"]["components"][0]["parameters"][0]["text"] = "{{customer.name}} ở {{customer.fields.city}}"
    result = dry_run(shop, create(shop["api"], body))
    assert (result["wouldReceive"], skipped(result)) == (1, {"invalidParameters": 2})


def test_a_dry_run_continues_from_its_cursor(shop: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """An audience too large for one request answers complete: false and the cursor to go on from."""
    from mkt_whatsapp.campaigns import definitions

    shop_id = shop["shop_id"]
    for n in range(5):
        add_customer(shop_id, f"8490000005{n}", tags=["vip"])
    campaign_id = create(shop["api"], campaign_body(shop_id))
    monkeypatch.setattr(definitions, "DRY_RUN_PAGE_SIZE", 2)
    monkeypatch.setattr(definitions, "DRY_RUN_MARGIN_SECONDS", 10_000.0)  # one page per request
    seen, cursor, answers = 0, None, 0
    while True:
        result = dry_run(shop, campaign_id, **({"cursor": cursor} if cursor else {}))
        answers += 1
        seen += result["wouldReceive"]
        if result["complete"]:
            break
        cursor = result["nextCursor"]
    assert (seen, answers) == (5, 3)
    stranger = shop["api"].post(f"/campaigns/{campaign_id}/dry-run", query={"cursor": "Kbm90LWEtY3Vyc29y"})
    assert (stranger.status, stranger.code, stranger.field) == (400, "INVALID_VALUE", "cursor")


def test_placeholders_render_with_values_and_fallbacks() -> None:
    components = [
        {"type": "header", "parameters": [{"type": "text", "text": "{{ customer.name | bạn }}"}]},
        {
            "type": "body",
            "parameters": [
                {"type": "text", "text": "{{customer.fields.city|Việt Nam}}"},
                {"type": "text", "text": "{{customer.waId}}"},
            ],
        },
        {
            "type": "button",
            "sub_type": "url",
            "index": "0",
            "parameters": [{"type": "text", "text": "r/{{customer.fields.ref|home}}"}],
        },
    ]
    placeholders.check(components)
    rendered = placeholders.render(
        components, {"name": "Nguyễn\nVăn   A", "waId": "84901234567", "customFields": {"ref": 42}}
    )
    assert rendered is not None
    assert rendered[0]["parameters"][0]["text"] == "Nguyễn Văn A"  # one line: Meta refuses newlines
    assert [p["text"] for p in rendered[1]["parameters"]] == ["Việt Nam", "84901234567"]
    assert rendered[2]["parameters"][0]["text"] == "r/42"
    assert (
        placeholders.render([{"type": "body", "parameters": [{"type": "text", "text": "{{customer.name}}"}]}], {})
        is None
    )
    for bad in ("{{customer}}", "{{customer.phone}}", "{{vars.x}}", "{{customer.name|}}", "{{1}}"):
        with pytest.raises(placeholders.InvalidPlaceholder):
            placeholders.check([{"type": "body", "parameters": [{"type": "text", "text": bad}]}])


# --- states: what each action does, and refuses ---------------------------------------------------------


def test_launch_pause_resume_cancel_and_the_409s_of_each_refused_action(shop: dict[str, Any]) -> None:
    api = shop["api"]
    add_customer(shop["shop_id"], "84900000061", tags=["vip"])  # queued, never sent here: it keeps running
    campaign_id = create(api, campaign_body(shop["shop_id"]))
    path = f"/campaigns/{campaign_id}"

    def code(reply: Any) -> tuple[int, str | None]:
        return reply.status, reply.code

    assert code(api.post(f"{path}/pause")) == (409, "CAMPAIGN_NOT_RUNNING")
    assert code(api.post(f"{path}/resume")) == (409, "CAMPAIGN_NOT_PAUSED")
    launched = api.post(f"{path}/launch")
    assert launched.status == 200, launched.text
    assert (launched.data["status"], launched.data["by"]) == ("running", "agent-1")
    assert code(api.post(f"{path}/launch")) == (409, "CAMPAIGN_ALREADY_LAUNCHED")
    assert code(api.put(path, json_body={"name": "Late"})) == (409, "CAMPAIGN_NOT_EDITABLE")
    assert code(api.delete(path)) == (409, "CAMPAIGN_NOT_DRAFT")
    assert api.post(f"{path}/pause").data["status"] == "paused"
    assert code(api.post(f"{path}/pause")) == (409, "CAMPAIGN_NOT_RUNNING")
    assert code(api.put(path, json_body={"name": "Late"})) == (409, "CAMPAIGN_NOT_EDITABLE")
    assert api.post(f"{path}/resume").data["status"] == "running"
    assert code(api.post(f"{path}/resume")) == (409, "CAMPAIGN_NOT_PAUSED")
    assert api.post(f"{path}/cancel").data["status"] == "cancelled"
    assert code(api.post(f"{path}/cancel")) == (409, "CAMPAIGN_FINISHED")
    assert code(api.post(f"{path}/launch")) == (409, "CAMPAIGN_ALREADY_LAUNCHED")
    assert code(api.post(f"{path}/resume")) == (409, "CAMPAIGN_NOT_PAUSED")
    assert code(api.delete(path)) == (409, "CAMPAIGN_NOT_DRAFT")
    assert detail(api, campaign_id)["status"] == "cancelled"


def test_a_scheduled_campaign_is_changed_but_not_deleted_and_a_draft_is_cancelled(shop: dict[str, Any]) -> None:
    api = shop["api"]
    campaign_id = create(api, campaign_body(shop["shop_id"], scheduledAt="2026-12-24T12:00:00+07:00"))
    launched = api.post(f"/campaigns/{campaign_id}/launch")
    assert (launched.data["status"], launched.data["scheduledAt"]) == ("scheduled", "2026-12-24T05:00:00Z")
    moved = api.put(f"/campaigns/{campaign_id}", json_body={"scheduledAt": "2026-12-25T05:00:00Z"})
    assert (moved.status, moved.data["status"], moved.data["scheduledAt"]) == (200, "scheduled", "2026-12-25T05:00:00Z")
    assert (api.delete(f"/campaigns/{campaign_id}").code) == "CAMPAIGN_NOT_DRAFT"
    assert (api.post(f"/campaigns/{campaign_id}/pause").code) == "CAMPAIGN_NOT_RUNNING"
    assert api.post(f"/campaigns/{campaign_id}/cancel").data["status"] == "cancelled"
    draft = create(api, campaign_body(shop["shop_id"]))
    assert api.post(f"/campaigns/{draft}/cancel").data["status"] == "cancelled"


@pytest.mark.parametrize(
    ("template", "code", "field"),
    [
        ({"name": "summer_teaser", "language": "vi"}, "TEMPLATE_NOT_APPROVED", "template.name"),
        ({"name": "no_such_template", "language": "vi"}, "UNKNOWN_TEMPLATE", "template.name"),
        ({"name": "spring_sale", "language": "en_US"}, "UNKNOWN_TEMPLATE", "template.name"),
        (
            {"name": "spring_sale", "language": "vi", "components": []},
            "TEMPLATE_PARAMETERS_MISMATCH",
            "template.components",
        ),
    ],
    ids=["pending at Meta", "unknown", "another language", "parameters missing"],
)
def test_a_launch_needs_an_approved_template_with_its_parameters(
    shop: dict[str, Any], template: dict[str, Any], code: str, field: str
) -> None:
    api = shop["api"]
    campaign_id = create(api, campaign_body(shop["shop_id"], template=template))
    for action in ("launch", "dry-run"):
        refused = api.post(f"/campaigns/{campaign_id}/{action}")
        assert (refused.status, refused.code, refused.field) == (422, code, field), refused.text
    assert detail(api, campaign_id)["status"] == "draft"


def test_another_shops_token_gets_404_on_every_campaign_route(shop: dict[str, Any]) -> None:
    api = shop["api"]
    campaign_id = create(api, campaign_body(shop["shop_id"]))
    other = api.as_shops("shop-elsewhere")
    for method, suffix, body in [
        ("GET", "", None),
        ("PUT", "", {"name": "stolen"}),
        ("DELETE", "", None),
        ("POST", "/launch", None),
        ("POST", "/pause", None),
        ("POST", "/resume", None),
        ("POST", "/cancel", None),
        ("POST", "/dry-run", None),
    ]:
        reply = other.request(method, f"/campaigns/{campaign_id}{suffix}", json_body=body)
        assert (reply.status, reply.code, reply.field) == (404, "CAMPAIGN_NOT_FOUND", "campaignId"), (method, suffix)
    assert detail(api, campaign_id)["status"] == "draft"
    listed = other.get("/campaigns", query={"shopId": shop["shop_id"]})
    assert (listed.status, listed.code) == (403, "SHOP_ACCESS_DENIED")
