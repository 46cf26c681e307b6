"""Metrics (issue 13): only the catalogue's names and dimensions reach CloudWatch (core/metric_names.py),
with low-cardinality values — never a shop id or a phone number — captured from the EMF documents the
handlers print while traffic goes through webhooks, the inbound processor, a flow and an API send."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from mkt_whatsapp.core import metric_names
from mkt_whatsapp.core.metric_names import CATALOGUE, DEFAULT_DIMENSIONS, error_class
from mkt_whatsapp.core.observability import flush_metrics, record_metric
from tests.unit.flow_helpers import conversation_of, create_flow, ended, says


def emf_documents(out: str) -> list[dict[str, Any]]:
    documents = []
    for line in out.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "CloudWatchMetrics" in document.get("_aws", {}):
            documents.append(document)
    return documents


def assert_from_the_catalogue(documents: list[dict[str, Any]], shop: dict[str, Any]) -> set[str]:
    """Every metric and dimension is the catalogue's, every value in its dimension's set; returns the names."""
    names = set()
    for document in documents:
        for directive in document["_aws"]["CloudWatchMetrics"]:
            dimensions = {name for group in directive["Dimensions"] for name in group}
            for definition in directive["Metrics"]:
                metric = CATALOGUE[definition["Name"]]
                names.add(metric.name)
                declared = {d.name: d for d in metric.dimensions}
                assert dimensions == DEFAULT_DIMENSIONS | set(declared), (metric.name, dimensions)
                assert definition["Unit"] == metric.unit.value
                for name, dimension in declared.items():
                    assert document[name] in dimension.values, (metric.name, name, document[name])
        for name in {
            name for directive in document["_aws"]["CloudWatchMetrics"] for g in directive["Dimensions"] for name in g
        }:
            value = str(document[name])
            assert value not in {shop["shop_id"], shop["phone_number_id"]}
            assert not re.search(r"\d{6,}", value), value  # no id or phone number in a dimension
    return names


def test_handlers_emit_only_catalogue_metrics_with_low_cardinality_dimensions(
    connected_shop: dict[str, Any], capsys: pytest.CaptureFixture[str]
) -> None:
    shop = connected_shop
    flow_id = create_flow(
        shop["api"],
        {
            "shopId": shop["shop_id"],
            "flowName": "Metrics",
            "trigger": {"type": "keyword", "keywords": ["hi"]},
            "steps": [{"id": "greet", "type": "send_message", "content": {"type": "text", "text": "Xin chào!"}}],
        },
    )
    capsys.readouterr()
    says(shop, "hi")  # webhooks, inbound (a flow starts), the flow runner (a send, the end)
    assert ended(flow_id)[0]["outcome"] == "completed"
    conversation = conversation_of(shop)
    sent = shop["api"].post(
        f"/conversations/{conversation['id']}/messages", json_body={"content": {"type": "text", "text": "Cảm ơn chị"}}
    )
    assert sent.status == 201, sent.text

    names = assert_from_the_catalogue(emf_documents(capsys.readouterr().out), shop)
    assert {
        "WebhookDeliveries",
        "WebhookLatency",
        "InboundMessagesStored",
        "FlowMessages",
        "FlowRunInvocations",
        "FlowExecutions",
        "OutboundSent",
        "MessagesSent",
    } <= names


def test_one_document_per_dimension_combination_counts_summed(capsys: pytest.CaptureFixture[str]) -> None:
    flush_metrics()
    capsys.readouterr()
    for code in (130429, 130429, "131047", "RETRIES_EXHAUSTED"):
        record_metric(metric_names.OUTBOUND_FAILED, errorClass=error_class(code))
    record_metric(metric_names.AI_HANDOFFS, reason="a shop-specific reason 84901234567")
    flush_metrics()
    documents = emf_documents(capsys.readouterr().out)
    counts = {
        (d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"], d.get("errorClass", d.get("reason"))): d
        for d in documents
    }
    assert counts[("OutboundFailed", "rate_limit")]["OutboundFailed"] == [2.0]
    assert counts[("OutboundFailed", "recipient")]["OutboundFailed"] == [1.0]
    assert counts[("OutboundFailed", "transient")]["OutboundFailed"] == [1.0]
    assert counts[("AiHandoffs", "other")]["AiHandoffs"] == [1.0]  # a value outside the set is "other"
    assert all(d["service"] == "mkt-whatsapp-service" for d in documents)


def test_an_undeclared_dimension_or_metric_is_refused() -> None:
    with pytest.raises(ValueError, match="no dimension"):
        record_metric(metric_names.OUTBOUND_SENT, shopId="shop-1")
    with pytest.raises(ValueError, match="needs the dimensions"):
        record_metric(metric_names.OUTBOUND_FAILED)
    with pytest.raises(ValueError, match="not in the metric catalogue"):
        record_metric(metric_names.MetricName("Adhoc", metric_names.MetricUnit.Count, "", ""))


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (130429, "rate_limit"),
        (131056, "rate_limit"),
        (131047, "recipient"),
        (131026, "recipient"),
        (132001, "template"),
        (190, "account"),
        ("ACCOUNT_DISCONNECTED", "account"),
        (131000, "transient"),
        ("SEND_UNCONFIRMED", "transient"),
        (100, "other"),
        (None, "other"),
    ],
)
def test_meta_error_codes_map_to_error_classes(code: object, expected: str) -> None:
    assert error_class(code) == expected
