"""The fuzzer (issue 10, item 5): schemathesis generates requests for every operation of the OpenAPI
document (docs/openapi.json) and drives the local stack over HTTP with them, holding each answer to the
document.

Design:

- **The real stack, its own.** ``python -m local.stack`` as ``make dev`` runs it (tests/e2e/conftest.py), with
  the rate limits raised (``RATE_LIMIT_PER_MINUTE``) so that cases reach the handlers instead of a 429. One
  pytest test runs every operation in turn: one stack per run, on one worker.
- **Cases that reach the handlers.** The token holds two shops: one connected, with a conversation and its
  customer (opened by a signed webhook), one not connected (so ``POST /accounts`` can succeed, and
  ``DELETE /accounts/{shopId}`` has an account to disconnect other than the one the sends need). A shop id
  anywhere (path, query, body) is one of them most of the time, and a ``conversationId`` or ``waId`` the real
  ones (schemathesis dictionaries); otherwise it is generated, so the 403 and 404 answers are exercised too.
  Positive cases of ``POST /webhooks`` are signed as Meta signs (the raw body's HMAC with the app secret).
- **Bounded.** ``FUZZ_EXAMPLES`` generated cases per operation (schemathesis' fuzzing phase, positive and
  negative) and its coverage phase (boundary values, missing and wrong fields, methods the document does not
  list: a set the schema determines), from a fixed seed (``FUZZ_SEED`` explores another): the same cases
  every run, so a failure reproduces. The send and the webhook, whose bodies make the coverage phase about
  1,200 requests, get four times the random cases instead. About 1,000 cases and 30 s with the defaults.
- **What JSON Schema cannot say.** A few content rules (unique button and row ids, 10 rows across a list's
  sections) and the analytics' ranges are in the document's descriptions only: a schema-valid case may break
  one and is rightly refused 400 (schemathesis' ST202): those operations accept a 400 there.
- **Checks.** schemathesis' own: no 5xx (but 501 where the document says a route is not built yet), status
  codes, content types, headers and bodies as documented (the document closes every answer object and lists
  each status's error codes), schema-violating requests refused, valid ones not refused (a 422 is accepted
  there: it answers stored state — a closed conversation, a disconnected account — not the request's
  shape), undocumented methods answered 405, auth enforced. And ours: every error answer is the api-v1
  envelope (undocumented methods included), and every authenticated operation answers a request without a
  token, and one with a bad token, 401 in the envelope with ``WWW-Authenticate: Bearer``.
- **Methods API Gateway routes.** The methods the document does not list are tried among those an HTTP API
  routes to a function (GET, PUT, POST, DELETE, PATCH, OPTIONS); TRACE, QUERY or CONNECT never reach the
  service deployed, and locally SAM's front answers them itself (``local/``).
- **Any path value.** A path parameter carrying a character Powertools' route pattern does not take (a
  control character, a backslash, an emoji) reaches its function and is answered the resource's 404
  (http/resolver.py), like any id that names nothing (``test_a_path_parameter_the_resolver_cannot_route_is_404``).
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.pytest.lazy import get_all_tests

from local.defaults import LOCAL_DEFAULTS
from local.devtools import mint_token
from mkt_whatsapp.http.openapi import document
from mkt_whatsapp.http.operations import operation_for
from mkt_whatsapp.http.routes import ROUTES
from mkt_whatsapp.models import EXAMPLE_SHOP_ID, EXAMPLE_WA_ID
from mkt_whatsapp.whatsapp.signature import sign
from tests.e2e.conftest import RunningStack, start_stack

pytestmark = pytest.mark.e2e

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20261126"))
# The connected shop and its customer are the document's examples (api-v1's), so that cases built from the
# examples (schemathesis' examples and coverage phases) reach the handlers too.
SHOP, SPARE_SHOP, CUSTOMER = EXAMPLE_SHOP_ID, "fuzz-spare-shop", EXAMPLE_WA_ID
NUMBER = "106540352249001"
APP_SECRET = LOCAL_DEFAULTS["META_APP_SECRET"]
ERROR_ENVELOPE_KEYS = {"success", "data", "error", "details", "pagination"}
# Cases per operation and phase and answers per operation (printed by pytest -s: make fuzz), and the
# operations whose 401s were probed.
COUNTS: Counter[tuple[str, str]] = Counter()
PROBED: set[str] = set()
STATUSES: Counter[tuple[str, int]] = Counter()
ROUTE_BY_LABEL = {f"{route.method} {route.path}": route for route in ROUTES}


def delivery(number: str, sender: str) -> bytes:
    """A webhook body: one text message from ``sender`` to ``number``, sent now (its window is open)."""
    message = {
        "from": sender,
        "id": f"wamid.fuzz-{time.time_ns()}",
        "timestamp": str(int(time.time())),
        "type": "text",
        "text": {"body": "Xin chào"},
    }
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550000000", "phone_number_id": number},
        "contacts": [{"profile": {"name": "Khách Fuzz"}, "wa_id": sender}],
        "messages": [message],
    }
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "fuzz", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def fuzz_stack() -> Iterator[RunningStack]:
    running = start_stack({"RATE_LIMIT_PER_MINUTE": "1000000", "ANALYTICS_RATE_LIMIT_PER_MINUTE": "1000000"})
    try:
        yield running
    finally:
        running.stop()


def open_conversation(stack: RunningStack) -> str:
    """Connect the shop's number and open a conversation with a signed webhook; its id."""
    auth = stack.connect(SHOP, NUMBER)
    raw = delivery(NUMBER, CUSTOMER)
    signed = {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, APP_SECRET)}
    assert httpx.post(f"{stack.api}/webhooks", content=raw, headers=signed).status_code == 200
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # the inbound worker stores it within a second or two
        listed = httpx.get(f"{stack.api}/conversations", params={"shopId": SHOP}, headers=auth).json()
        if listed["data"]["conversations"]:
            return str(listed["data"]["conversations"][0]["id"])
        time.sleep(0.1)
    raise AssertionError("the webhook's conversation was not stored")


def fuzz_config(stack: RunningStack, conversation: str) -> schemathesis.Config:
    token = mint_token([SHOP, SPARE_SHOP], subject="fuzzer", secret=LOCAL_DEFAULTS["JWT_SECRET"])
    not_built = [operation_for(route).operation_id for route in ROUTES if not operation_for(route).built]
    shops = {"dictionary": "shops", "probability": 0.9}
    return schemathesis.Config.from_dict(
        {
            "seed": FUZZ_SEED,
            "base-url": stack.api,
            "request-timeout": 30,
            "generation": {"max-examples": FUZZ_EXAMPLES, "database": "none"},
            "phases": {
                "stateful": {"enabled": False},
                "coverage": {"unexpected-methods": ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"]},
            },
            "checks": {
                "positive_data_acceptance": {
                    "expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429", "5xx"]
                }
            },
            "auth": {"openapi": {"bearerAuth": {"bearer": token}}},
            "dictionaries": {
                "shops": {"values": [SHOP, SPARE_SHOP]},
                "spare": {"values": [SPARE_SHOP]},
                "conversations": {"values": [conversation]},
                "customers": {"values": [CUSTOMER]},
                "tokens": {"values": ["EAAfuzz-access-token"]},
            },
            "parameters": {
                "path.shopId": shops,
                "query.shopId": shops,
                "body.shopId": shops,
                "path.conversationId": {"dictionary": "conversations", "probability": 0.8},
                "path.waId": {"dictionary": "customers", "probability": 0.8},
                # The Graph API simulator takes a token starting EAA: some connects succeed.
                "body.accessToken": {"dictionary": "tokens", "probability": 0.5},
            },
            "operations": [
                {
                    # Routes not built yet answer 501 by design (the document says so).
                    "include-operation-id": not_built,
                    "checks": {"not_a_server_error": {"expected-statuses": ["2xx", "3xx", "4xx", "501"]}},
                },
                {
                    # The largest bodies (eleven content types; Meta's delivery; a flow's steps, each with a
                    # content): their coverage phase alone is over a thousand requests, most of a minute each;
                    # random cases of every kind instead, more of them.
                    "include-operation-id": "receiveWebhook",
                    "phases": {"coverage": {"enabled": False}},
                    "generation": {"max-examples": 4 * FUZZ_EXAMPLES},
                },
                {
                    # The same, and message content's rules across fields that JSON Schema cannot say (10 rows
                    # across a list's sections, unique button and row ids; in the document's descriptions): a
                    # schema-valid body may break one, and is rightly 400 naming the field. Any change of the
                    # document reseeds the cases, so the fixed seed does not keep them away.
                    "include-operation-id": ["sendMessage", "createFlow", "updateFlow"],
                    "phases": {"coverage": {"enabled": False}},
                    "generation": {"max-examples": 4 * FUZZ_EXAMPLES},
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]
                        }
                    },
                },
                {
                    # Rules across parameters that JSON Schema cannot say: a range of at most 366 days (31 by
                    # hour), an IANA time zone a whole number of hours from UTC — 400 naming the field, as
                    # issue 13 asks, for a schema-valid request too.
                    "include-operation-id": [
                        "getMessageStatistics",
                        "getAutomationPerformance",
                        "getConversationMetrics",
                        "getAiStatistics",
                    ],
                    "checks": {
                        "positive_data_acceptance": {
                            "expected-statuses": ["2xx", "400", "401", "403", "404", "409", "422", "429", "5xx"]
                        }
                    },
                },
                {
                    # The sends need the connected shop: disconnect the spare one (connected by POST /accounts).
                    "include-operation-id": "disconnectAccount",
                    "parameters": {"path.shopId": {"dictionary": "spare", "probability": 0.9}},
                },
            ],
        }
    )


def error_in_the_envelope(ctx: CheckContext, response: Response, case: Case) -> None:
    """Every error answer is the api-v1 envelope, documented or not (a method the document does not list)."""
    if response.status_code < 400:
        return
    assert response.headers.get("content-type", [""])[0].startswith("application/json"), response.headers
    body = json.loads(response.content)
    assert set(body) == ERROR_ENVELOPE_KEYS, body
    assert (body["success"], body["data"], body["pagination"]) == (False, None, None), body
    assert isinstance(body["error"], str), body
    assert body["error"], body
    assert isinstance(body["details"]["code"], str), body
    assert body["details"]["code"], body


def refuses_missing_and_bad_tokens(case: Case, base_url: str) -> None:
    """The operation's first case, sent without its token and with a forged one: 401 in the envelope."""
    forged = mint_token([SHOP, SPARE_SHOP], subject="fuzzer", secret="not-the-service-secret-0123456789abcdef")
    for authorization, code in ((None, "MISSING_TOKEN"), (f"Bearer {forged}", "INVALID_TOKEN")):
        kwargs = case.as_transport_kwargs(base_url=base_url)
        kwargs["headers"] = {k: v for k, v in kwargs["headers"].items() if k.lower() != "authorization"}
        if authorization:
            kwargs["headers"]["Authorization"] = authorization
        reply = requests.request(**kwargs, timeout=30)
        assert reply.status_code == 401, (case.operation.label, authorization is not None, reply.text)
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        body = reply.json()
        assert set(body) == ERROR_ENVELOPE_KEYS, body
        assert body["details"]["code"] == code, body


def signed(case: Case) -> dict[str, Any]:
    """A positive webhook case as Meta would send it: the body's bytes and their signature."""
    raw = json.dumps(case.body).encode()
    return {"data": raw, "headers": {"Content-Type": "application/json", "X-Hub-Signature-256": sign(raw, APP_SECRET)}}


def run_case(case: Case) -> None:
    phase = case.meta.phase.name.value if case.meta else "?"
    mode = case.meta.generation.mode.value if case.meta else "?"
    COUNTS[(case.operation.label, phase)] += 1
    base_url = case.operation.schema.get_base_url()
    route = ROUTE_BY_LABEL[case.operation.label]
    if route.requires_auth and case.method.upper() == route.method and case.operation.label not in PROBED:
        PROBED.add(case.operation.label)
        refuses_missing_and_bad_tokens(case, base_url)
    extra: dict[str, Any] = {}
    if case.operation.label == "POST /webhooks" and mode == "positive" and case.method.upper() == "POST":
        extra = signed(case)
    response = case.call_and_validate(additional_checks=[error_in_the_envelope], **extra)
    STATUSES[(case.operation.label, response.status_code)] += 1


# Operations that end what others act on run last, in this order (the others in the document's order): the
# sends need an open conversation and a connected account.
RUN_LAST = ("POST /conversations/{conversationId}/close", "DELETE /accounts/{shopId}")


def run_order(result: Any) -> int:
    label = result.ok()[0].label if not isinstance(result, Err) else ""
    return RUN_LAST.index(label) + 1 if label in RUN_LAST else 0


def test_the_stack_answers_as_the_document_says(fuzz_stack: RunningStack) -> None:
    conversation = open_conversation(fuzz_stack)
    schema = schemathesis.openapi.from_dict(document(), config=fuzz_config(fuzz_stack, conversation))
    schema = schema.clone(test_function=run_case)

    # What schemathesis.pytest.from_fixture runs for each operation (which fails on pytest 9.2, renaming the
    # pytest node per operation): its generated cases, each sent and checked. Every operation runs; the
    # failures are reported together.
    failures: dict[str, str] = {}
    started = time.monotonic()
    tests = get_all_tests(schema=schema, test_func=run_case, settings=None, given_kwargs={})
    for result in sorted(tests, key=run_order):
        if isinstance(result, Err):
            failures[str(result.err().label)] = str(result.err())
            continue
        operation, run = result.ok()
        try:
            run()
        except FailureGroup as group:  # checks failed: schemathesis names them, with the request and answer
            failures[operation.label] = str(group)
        except Exception as error:  # one check failed, or a case could not be sent
            failures[operation.label] = f"{type(error).__name__}: {error}"
    elapsed = time.monotonic() - started
    operations = len({label for label, _ in COUNTS})
    print(f"\nfuzzer: {operations} operations, {sum(COUNTS.values())} cases in {elapsed:.1f} s")
    for label in sorted({label for label, _ in COUNTS}):
        phases = ", ".join(f"{phase} {count}" for (name, phase), count in sorted(COUNTS.items()) if name == label)
        answers = ", ".join(f"{status}×{count}" for (name, status), count in sorted(STATUSES.items()) if name == label)
        print(f"  {label:47} {phases:25} answers {answers}")
    print("stack log errors:", *[line for line in fuzz_stack.printed() if "ERROR" in line] or ["none"], sep="\n  ")
    assert operations == len(ROUTES)
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_a_path_parameter_the_resolver_cannot_route_is_404(stack: RunningStack) -> None:
    """Found by the fuzzer: a path parameter with a character Powertools' route pattern does not take (a
    control character, a backslash, an encoded ? or #, NBSP, U+2028, an emoji) reaches the right function,
    whose resolver misses the route: the answer is the resource's 404, like any id that names nothing."""
    token = mint_token([SHOP], subject="fuzzer", secret=LOCAL_DEFAULTS["JWT_SECRET"])
    reply = httpx.get(f"{stack.api}/conversations/%5C", headers={"Authorization": f"Bearer {token}"})
    assert reply.status_code == 404, (reply.status_code, reply.headers.get("Allow"), reply.text)
    assert reply.json()["details"] == {"field": "conversationId", "code": "CONVERSATION_NOT_FOUND"}
