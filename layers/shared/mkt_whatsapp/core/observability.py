"""Powertools Logger and the service's metrics, configured once for every function (service name and
namespace come from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE in template.yaml).

Metrics are the catalogue's (core/metric_names.py), recorded with :func:`record_metric` anywhere — in a handler
or in the layer's domain code (a send's outcome is recorded where it is stored, whichever function sent
it) — and printed as EMF documents when the handler wrapped by :func:`log_metrics` returns: one
document per combination of dimension values, counts summed over the invocation. The set is this
module's own, behind a lock (the sender's threads record too), and each document is an
``EphemeralMetrics`` of its own: unlike Powertools' shared ``Metrics`` set, a flush by one in-process
handler (the local stack runs them in one process) never empties or breaks another's.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import EphemeralMetrics, MetricUnit, single_metric

from mkt_whatsapp.core.metric_names import CATALOGUE, MetricName

logger = Logger()
# Powertools' shared set: kept for the local terminal, which clears it; the service records with record_metric().
metrics = Metrics()

_Handler = TypeVar("_Handler", bound=Callable[..., Any])
_DimensionKey = tuple[tuple[str, str], ...]

_lock = threading.Lock()
# dimensions -> metric name -> values (one summed value for a count)
_pending: dict[_DimensionKey, dict[str, list[float]]] = {}


def _dimensions(metric: MetricName, given: dict[str, object]) -> _DimensionKey:
    allowed = {dimension.name: dimension for dimension in metric.dimensions}
    unknown = set(given) - set(allowed)
    if unknown:
        raise ValueError(f"{metric.name} has no dimension {sorted(unknown)} (core/metric_names.py)")
    missing = set(allowed) - set(given)
    if missing:
        raise ValueError(f"{metric.name} needs the dimensions {sorted(missing)}")
    return tuple(sorted((name, allowed[name].normalise(value)) for name, value in given.items()))


def record_metric(metric: MetricName, value: float = 1, **dimensions: object) -> None:
    """Add ``value`` to the catalogue's ``metric`` with its declared ``dimensions`` (a value outside a
    dimension's set is recorded as ``other``); printed when the handler's :func:`log_metrics` ends."""
    if CATALOGUE.get(metric.name) is not metric:
        raise ValueError(f"{metric.name} is not in the metric catalogue")
    key = _dimensions(metric, dimensions)
    with _lock:
        values = _pending.setdefault(key, {}).setdefault(metric.name, [])
        if metric.unit == MetricUnit.Count and values:
            values[0] += value
        else:
            values.append(value)


def emit_now(metric: MetricName, value: float = 1, **dimensions: object) -> None:
    """One metric printed at once as its own EMF document (Powertools' ``single_metric``): for a handler
    that keeps nothing between its calls."""
    if CATALOGUE.get(metric.name) is not metric:
        raise ValueError(f"{metric.name} is not in the metric catalogue")
    key = _dimensions(metric, dimensions)
    if os.environ.get("POWERTOOLS_METRICS_DISABLED", "").strip().lower() in ("1", "true", "yes", "on"):
        return  # as flush_metrics: single_metric itself prints whatever this says
    with single_metric(name=metric.name, unit=metric.unit, value=value) as single:
        # single_metric adds no ``service`` of its own (a metric set does): the same dimensions either way.
        single.add_dimension(name="service", value=os.environ.get("POWERTOOLS_SERVICE_NAME", "mkt-whatsapp-service"))
        for name, dimension_value in key:
            single.add_dimension(name=name, value=dimension_value)


def flush_metrics() -> None:
    """Print what was recorded since the last flush (one EMF document per dimension combination) and
    forget it. Nothing is printed when Powertools' metrics are disabled (POWERTOOLS_METRICS_DISABLED)."""
    with _lock:
        pending = dict(_pending)
        _pending.clear()
    for key, by_name in pending.items():
        document = EphemeralMetrics()
        for name, dimension_value in key:
            document.add_dimension(name=name, value=dimension_value)
        for name, values in by_name.items():
            for value in values:
                document.add_metric(name=name, unit=CATALOGUE[name].unit, value=value)
        document.flush_metrics()


def log_metrics(handler: _Handler) -> _Handler:
    """Wrap a Lambda handler: the metrics recorded while it runs are printed when it returns or raises."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            flush_metrics()

    return wrapper  # type: ignore[return-value]
