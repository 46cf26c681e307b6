"""The OpenAPI document: generated from the route table and the models, valid OpenAPI 3.1, fresh in
docs/openapi.json, served as is, and a new route appears in it by construction."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from mkt_whatsapp.core import errors
from mkt_whatsapp.http.openapi import LIMIT_RULE_CODES, document, document_text
from mkt_whatsapp.http.operations import ERROR_CODES, OPERATIONS, VALIDATION_CODES, key_of, operation_for
from mkt_whatsapp.http.routes import ROUTES, Route, ShopSource
from tests.support import ApiClient

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "layers" / "shared" / "mkt_whatsapp"
STORED = ROOT / "docs" / "openapi.json"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def spec() -> dict:
    return document()


def operations(spec: dict) -> dict[tuple[str, str], dict]:
    return {
        (method.upper(), path): operation
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_docs_openapi_json_is_the_generated_document() -> None:
    assert STORED.read_text() == document_text(), "docs/openapi.json is stale: run make openapi"


def test_the_document_is_valid_openapi_3_1(spec: dict) -> None:
    assert spec["openapi"].startswith("3.1")
    validate(spec)


def test_every_route_is_an_operation_and_nothing_else(spec: dict) -> None:
    assert set(operations(spec)) == {(route.method, route.path) for route in ROUTES}
    assert spec["servers"] == [{"url": "/api/v1/whatsapp", "description": "This service, wherever it is deployed"}]


def test_every_entry_describes_a_route() -> None:
    assert set(OPERATIONS) <= {key_of(route) for route in ROUTES}
    ids = [operation_for(route).operation_id for route in ROUTES]
    assert len(ids) == len(set(ids))


def test_a_new_route_appears_by_construction_as_a_route_not_built_yet() -> None:
    new = Route("POST", "/campaigns/{campaignId}/send", "campaigns", ShopSource.BODY)
    spec = document((*ROUTES, new))
    validate(spec)
    operation = spec["paths"]["/campaigns/{campaignId}/send"]["post"]
    assert operation["security"] == [{"bearerAuth": []}]
    assert operation["parameters"][0]["name"] == "campaignId"
    assert operation["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ShopBody"
    }
    assert {"400", "401", "403", "413", "415", "429", "500", "501"} <= set(operation["responses"])
    assert not any(status.startswith("2") for status in operation["responses"])


def test_a_head_route_is_documented_as_its_get_without_a_body() -> None:
    spec = document((*ROUTES, Route("HEAD", "/conversations", "conversations", ShopSource.QUERY)))
    validate(spec)
    head = spec["paths"]["/conversations"]["head"]
    get = spec["paths"]["/conversations"]["get"]
    assert head["operationId"] == "listConversationsHead"
    assert head["parameters"] == get["parameters"]
    assert set(head["responses"]) == set(get["responses"])
    assert all("content" not in response for response in head["responses"].values())


def test_public_routes_have_no_security_and_every_other_route_the_bearer_scheme(spec: dict) -> None:
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    for route in ROUTES:
        operation = operations(spec)[(route.method, route.path)]
        if route.requires_auth:
            assert operation["security"] == [{"bearerAuth": []}], route.route_key
            codes = error_codes(operation, "401")
            assert codes == {"MISSING_TOKEN", "INVALID_TOKEN", "TOKEN_EXPIRED"}, route.route_key
            assert "429" in operation["responses"], route.route_key
        else:
            assert "security" not in operation, route.route_key
    public = {(route.method, route.path) for route in ROUTES if not route.requires_auth}
    assert public == {("GET", "/health"), ("GET", "/openapi.json"), ("GET", "/webhooks"), ("POST", "/webhooks")}


def error_codes(operation: dict, status: str) -> set[str]:
    schema = operation["responses"][status]["content"]["application/json"]["schema"]
    assert schema["allOf"][0] == {"$ref": "#/components/schemas/ErrorEnvelope"}
    return set(schema["allOf"][1]["properties"]["details"]["properties"]["code"]["enum"])


def test_every_error_answer_is_the_envelope_with_codes_of_its_status(spec: dict) -> None:
    for (method, path), operation in operations(spec).items():
        for status in operation["responses"]:
            if int(status) < 400:
                continue
            codes = error_codes(operation, status)
            assert codes, (method, path, status)
            if status == "422":  # a body whose limits (or whole validation) are business rules: 422
                codes = codes - set(LIMIT_RULE_CODES) - set(VALIDATION_CODES)
                if not codes:
                    continue
            assert {ERROR_CODES[code][0] for code in codes} == {int(status)}, (method, path, status)


def test_routes_not_built_yet_answer_501_and_read_their_shop_as_the_pending_handler_does(spec: dict) -> None:
    for route in ROUTES:
        operation = operations(spec)[(route.method, route.path)]
        if operation_for(route).built:
            assert "501" not in operation["responses"], route.route_key
            continue
        assert error_codes(operation, "501") == {"NOT_IMPLEMENTED"}
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        assert (body == {"$ref": "#/components/schemas/ShopBody"}) is (route.shop_source is ShopSource.BODY)
        query = [p["name"] for p in operation.get("parameters", []) if p["in"] == "query"]
        assert (query == ["shopId"]) is (route.shop_source is ShopSource.QUERY)


def test_a_route_that_names_its_shop_documents_the_field_it_is_read_from(spec: dict) -> None:
    for route in ROUTES:
        operation = operations(spec)[(route.method, route.path)]
        if route.shop_source is ShopSource.QUERY:
            [shop] = [p for p in operation["parameters"] if p["name"] == route.shop_key]
            assert (shop["in"], shop["required"]) == ("query", True), route.route_key
        elif route.shop_source is ShopSource.PATH:
            [shop] = [p for p in operation["parameters"] if p["name"] == route.shop_key]
            assert shop["in"] == "path", route.route_key
        elif route.shop_source is ShopSource.BODY:
            ref = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            body = spec["components"]["schemas"][ref.rsplit("/", 1)[1]]
            assert route.shop_key in body["required"], route.route_key
        if route.shop_source in (ShopSource.QUERY, ShopSource.PATH, ShopSource.BODY):
            assert error_codes(operation, "403") == {"SHOP_ACCESS_DENIED"}, route.route_key


def test_skip_and_take_are_bounded_in_json_schema_terms(spec: dict) -> None:
    parameters = {p["name"]: p["schema"] for p in spec["paths"]["/conversations"]["get"]["parameters"]}
    assert (parameters["skip"]["minimum"], parameters["skip"]["maximum"]) == (0, 1_000_000)
    assert (parameters["take"]["minimum"], parameters["take"]["maximum"], parameters["take"]["default"]) == (1, 100, 20)
    assert not {"ge", "le"} & {key for schema in parameters.values() for key in schema}


def test_webhooks_document_the_signature_header_and_meta_s_delivery(spec: dict) -> None:
    post = spec["paths"]["/webhooks"]["post"]
    [signature] = post["parameters"]
    assert (signature["name"], signature["in"], signature["required"]) == ("X-Hub-Signature-256", "header", True)
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/WebhookDelivery"
    }
    assert error_codes(post, "401") == {"INVALID_SIGNATURE"}
    get = spec["paths"]["/webhooks"]["get"]
    assert "text/plain" in get["responses"]["200"]["content"]
    assert [p["name"] for p in get["parameters"]] == ["hub.mode", "hub.verify_token", "hub.challenge"]


API_ERRORS = {
    cls.__name__: cls.status
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.ApiError)
}


def raised_codes() -> list[tuple[str, str, int | None]]:
    """Every literal ``code="…"`` in the package: (where, code, the status of the ApiError it is given to)."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            for keyword in node.keywords:
                if (
                    keyword.arg == "code"
                    and isinstance(keyword.value, ast.Constant)
                    and isinstance(keyword.value.value, str)
                ):
                    name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
                    found.append(
                        (f"{path.relative_to(PACKAGE)}:{node.lineno}", keyword.value.value, API_ERRORS.get(name))
                    )
    return found


def test_every_error_code_the_package_raises_is_in_the_catalogue_with_its_status() -> None:
    found = raised_codes()
    assert len(found) > 20  # the reader sees them
    for where, code, status in found:
        assert code in ERROR_CODES, f"{where}: {code} is not in http.operations.ERROR_CODES"
        if status is not None:
            assert ERROR_CODES[code][0] == status, f"{where}: {code} is raised as {status}"


def test_each_code_has_one_status_and_looks_like_one() -> None:
    for code in ERROR_CODES:
        assert re.fullmatch(r"[A-Z][A-Z_]+[A-Z]", code), code


def test_the_stack_serves_the_document_without_a_token(module_api: ApiClient) -> None:
    reply = module_api.get("/openapi.json", token="")
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"] == "application/json"
    assert json.loads(reply.text) == json.loads(STORED.read_text())


def test_the_documented_wa_id_is_what_the_inbound_processor_stores_a_customer_by() -> None:
    from mkt_whatsapp.inbound import processor
    from mkt_whatsapp.models import customers

    assert processor.PHONE_NUMBER.pattern == customers.PHONE_NUMBER_PATTERN
    assert processor.BUSINESS_SCOPED_USER_ID.pattern == customers.BUSINESS_SCOPED_USER_ID_PATTERN


def test_path_parameters_document_the_ids_the_service_issues(spec: dict) -> None:
    parameters = {
        p["name"]: p["schema"]
        for item in spec["paths"].values()
        for op in item.values()
        for p in op.get("parameters", [])
    }
    assert re.fullmatch(parameters["conversationId"]["pattern"].strip("^$"), "1b4e28ba-2fa1-4d2a-883f-0016d3cca427")
    for wa_id in ("84901234567", "VN.1349870655223189", "US.ENT.1181579921"):
        assert re.fullmatch(parameters["waId"]["pattern"].strip("^$"), wa_id), wa_id
    assert not re.fullmatch(parameters["waId"]["pattern"].strip("^$"), "84 90")


def test_the_documented_tag_pattern_is_exactly_the_tags_the_service_keeps() -> None:
    """A tag matches the pattern (it holds one of its characters) if and only if normalise_tag keeps something
    of it: checked for every character of the BMP, and beyond it for every one folding could change."""
    import unicodedata

    from mkt_whatsapp.customers.reading import normalise_tag
    from mkt_whatsapp.models.customers import usable_tag_pattern

    pattern = re.compile(usable_tag_pattern())
    beyond = (p for p in range(0x10000, 0x110000) if unicodedata.decomposition(chr(p)) or chr(p).casefold() != chr(p))
    for point in [*range(0xD800), *range(0xE000, 0x10000), *beyond]:
        character = chr(point)
        assert bool(pattern.search(character)) == bool(normalise_tag(character)), hex(point)
    assert pattern.search("Khách mới")
    assert not pattern.search("!!! ---")


def test_the_documented_idempotency_key_is_what_the_send_takes() -> None:
    """A header is Latin-1 text: the pattern takes a character exactly when it is printable (send_once's rule),
    and no space at either end (HTTP strips it)."""
    from mkt_whatsapp.http.operations import IDEMPOTENCY_KEY

    pattern = re.compile(IDEMPOTENCY_KEY.schema["pattern"])
    for character in map(chr, range(256)):
        assert bool(pattern.fullmatch(character)) == (character.isprintable() and character != " "), hex(ord(character))
    assert pattern.fullmatch("order 42 retry")
    assert not pattern.fullmatch(" order-42")


def test_an_ai_agents_limits_are_documented_as_422(spec: dict) -> None:
    create = operations(spec)[("POST", "/ai-agents")]
    assert set(LIMIT_RULE_CODES) <= error_codes(create, "422")
    assert "AGENT_LIMIT_REACHED" in error_codes(create, "422")
    assert {"AI_PROVIDER_ERROR"} <= error_codes(operations(spec)[("POST", "/ai-agents/{agentId}/test")], "502")
