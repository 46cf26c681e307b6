"""Powertools Logger and Metrics, configured once for every function (service name and namespace come
from POWERTOOLS_SERVICE_NAME / POWERTOOLS_METRICS_NAMESPACE in template.yaml)."""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics

logger = Logger()
metrics = Metrics()
