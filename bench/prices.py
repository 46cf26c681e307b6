"""The one place for the AWS prices ``make cost`` (bench/cost.py) multiplies the measured counts by.

Public on-demand list prices, region us-east-1 (N. Virginia), USD, without the free tier and without
volume discounts (the first tier of each tiered price). They were NOT read from the pricing pages when
this file was written (2026-11-26; the pages could not be opened from where it was written): they are
docs/cost-model.md's figures (Lambda, DynamoDB, SQS, Step Functions, HTTP API: "as published when this was
written") and, for the rest, AWS's long-standing, well-known list prices. Check them against the pages
named beside each before relying on a figure, and change them here only: nothing else in the repository
holds an AWS price (the AI provider's token prices are layers/shared/mkt_whatsapp/ai/pricing.py's).
"""

from __future__ import annotations

TAKEN = "2026-11-26, from docs/cost-model.md and well-known list prices; not re-read from the pricing pages"
REGION = "us-east-1"

# https://aws.amazon.com/lambda/pricing/ (Arm, first tier) — docs/cost-model.md
LAMBDA_ARM_PER_GB_SECOND = 0.0000133334
LAMBDA_PER_MILLION_REQUESTS = 0.20
# A function URL has no charge of its own: the invocation is billed as any other Lambda request.
LAMBDA_FUNCTION_URL_PER_MILLION = 0.0

# https://aws.amazon.com/dynamodb/pricing/on-demand/ — docs/cost-model.md (on-demand, Standard table class)
DYNAMODB_PER_MILLION_WRU = 0.625
DYNAMODB_PER_MILLION_RRU = 0.125
DYNAMODB_STORAGE_PER_GB_MONTH = 0.25  # the first 25 GB are in the free tier
# Lambda's reads of a DynamoDB stream for an event source mapping (GetRecords) are not charged.
DYNAMODB_STREAM_READS_BY_LAMBDA = 0.0

# https://aws.amazon.com/sqs/pricing/ (Standard queue, 64 KB chunks) — docs/cost-model.md
SQS_PER_MILLION_REQUESTS = 0.40

# https://aws.amazon.com/step-functions/pricing/ (Standard workflows) — docs/cost-model.md
STEP_FUNCTIONS_PER_THOUSAND_TRANSITIONS = 0.025

# https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs, first 300 million a month) — docs/cost-model.md
HTTP_API_PER_MILLION_REQUESTS = 1.00

# https://aws.amazon.com/cloudwatch/pricing/
CLOUDWATCH_PER_METRIC_MONTH = 0.30  # custom metric, first 10,000; prorated by the hour it is published
CLOUDWATCH_PER_ALARM_METRIC_MONTH = 0.10  # standard resolution; a metric-math alarm pays per metric in it
CLOUDWATCH_PER_DASHBOARD_MONTH = 3.00  # the account's first 3 dashboards are free
CLOUDWATCH_LOGS_INGESTION_PER_GB = 0.50
CLOUDWATCH_LOGS_STORAGE_PER_GB_MONTH = 0.03

# https://aws.amazon.com/kms/pricing/
KMS_PER_KEY_MONTH = 1.00  # plus $1/month for each of the first two automatic rotations of its material
KMS_PER_10K_REQUESTS = 0.03

# https://aws.amazon.com/secrets-manager/pricing/
SECRETS_MANAGER_PER_SECRET_MONTH = 0.40
SECRETS_MANAGER_PER_10K_CALLS = 0.05

# https://aws.amazon.com/s3/pricing/ (S3 Standard): the overflow bucket is empty unless the inbound queue
# refuses a body; a few requests and bytes a month are below a cent, so S3 is treated as negligible.
S3_STANDARD_PER_GB_MONTH = 0.023
S3_PER_THOUSAND_PUT = 0.005

# https://aws.amazon.com/sns/pricing/ : a topic costs nothing; publishes and e-mail deliveries (alarms only)
SNS_PER_MILLION_PUBLISHES = 0.50
SNS_PER_100K_EMAIL = 2.00

# https://aws.amazon.com/xray/pricing/ (functions and the state machine have tracing on; sampled)
XRAY_PER_MILLION_TRACES_RECORDED = 5.00
