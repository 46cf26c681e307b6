"""AWS clients: created once per container, lazily, from one boto3 session, and reused by every request.

The session is exposed so callers (benchmarks, tests) can count API calls with botocore's event hooks.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_stepfunctions import SFNClient

# Short timeouts and standard retries: a Lambda behind API Gateway has 29 s in all, so fail fast.
_CONFIG = Config(
    connect_timeout=2,
    read_timeout=5,
    retries={"max_attempts": 3, "mode": "standard"},
    tcp_keepalive=True,
)


@cache
def session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def dynamodb() -> DynamoDBClient:
    return session().client("dynamodb", config=_CONFIG)


@cache
def kms() -> KMSClient:
    return session().client("kms", config=_CONFIG)


@cache
def sqs() -> SQSClient:
    return session().client("sqs", config=_CONFIG)


@cache
def s3() -> S3Client:
    return session().client("s3", config=_CONFIG)


@cache
def stepfunctions() -> SFNClient:
    return session().client("stepfunctions", config=_CONFIG)


def reset() -> None:
    """Forget every client (tests that switch emulators between cases)."""
    for factory in (session, dynamodb, kms, sqs, s3, stepfunctions):
        factory.cache_clear()
