"""US East (N. Virginia) list prices: the one place the cost model reads them from.

Taken on 2026-11-24, on-demand list prices without free tiers, volume tiers (all figures are the
first tier) or Savings Plans. Source pages (AWS's own pricing pages):

- API Gateway: https://aws.amazon.com/api-gateway/pricing/ (HTTP APIs, first 300 M requests/month)
- Lambda: https://aws.amazon.com/lambda/pricing/ (x86, first 6 B GB-seconds/month)
- DynamoDB: https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class)
- SQS: https://aws.amazon.com/sqs/pricing/ (standard queues, first 100 B requests/month)
- S3: https://aws.amazon.com/s3/pricing/ (S3 Standard requests)
- Secrets Manager: https://aws.amazon.com/secrets-manager/pricing/
- Step Functions: https://aws.amazon.com/step-functions/pricing/ (Standard workflows)
- CloudWatch Logs: https://aws.amazon.com/cloudwatch/pricing/ (Standard log class ingestion)
- CloudWatch metrics, alarms, dashboards: https://aws.amazon.com/cloudwatch/pricing/ (custom
  metrics, first 10,000; standard-resolution alarms, billed per metric the alarm reads, a metric
  math alarm for each metric in its expression; dashboards per month)
- Storage: https://aws.amazon.com/dynamodb/pricing/on-demand/ (Standard table class, data
  storage) and https://aws.amazon.com/s3/pricing/ (S3 Standard, first 50 TB)

How far each figure was checked (with the repository's `search` tool, 2026-11-24):
- VERIFIED on an AWS-owned page: Step Functions $0.025 per 1,000 state transitions (the pricing
  page's US East row); Lambda $0.20 per 1 M requests and "$0.00001667 for every GB-second" (AWS
  whitepaper "How AWS Pricing Works", docs.aws.amazon.com, which rounds the $0.0000166667 of the
  pricing page); HTTP APIs "metered in 512 KB increments" (AWS API Gateway whitepaper); the
  DynamoDB request-unit definitions (aws.amazon.com/dynamodb/pricing/on-demand/).
- CORROBORATED by several independent secondary pages, not read on the AWS page itself (the
  stored copies of the AWS tables render as template tokens): API Gateway HTTP API $1.00 per
  million; Lambda $0.0000166667 per GB-second; DynamoDB $0.625 per million WRU and $0.125 per
  million RRU (the November 2024 on-demand price cut); SQS $0.40 per million requests with every
  64 KB chunk of a payload billed as one request; S3 Standard PUT $0.005 and GET $0.0004 per 1,000;
  Secrets Manager $0.05 per 10,000 API calls; CloudWatch Logs ingestion $0.50 per GB.
- Added 2026-12-01 for the fixed and storage costs, CORROBORATED by secondary pages (the AWS
  tables render as template tokens in the stored copies): Secrets Manager $0.40 per secret per
  month; CloudWatch $0.30 per custom metric per month, $0.10 per standard-resolution alarm metric
  per month, $3.00 per dashboard per month; DynamoDB storage $0.25 per GB-month; S3 Standard
  storage $0.023 per GB-month.
"""

from __future__ import annotations

from dataclasses import dataclass

PRICES_TAKEN_ON = "2026-11-24"
REGION = "us-east-1"

MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    name: str
    dollars: float  # per `unit`
    unit: str
    verified: bool  # True: read on an AWS-owned page; False: corroborated by secondary pages

    def per_unit(self) -> float:
        """Dollars for one of the unit's items (e.g. one request, one GB-second)."""
        return self.dollars / _UNIT_SIZES[self.unit]


_UNIT_SIZES = {
    "1M requests": 1_000_000.0,
    "GB-second": 1.0,
    "1M WRU": 1_000_000.0,
    "1M RRU": 1_000_000.0,
    "1K requests": 1_000.0,
    "10K API calls": 10_000.0,
    "1K state transitions": 1_000.0,
    "GB ingested": 1024.0**3,  # per byte
    "GB-month": 1024.0**3,  # per byte-month
    "secret-month": 1.0,
    "metric-month": 1.0,
    "alarm metric-month": 1.0,
    "dashboard-month": 1.0,
}

API_GATEWAY_HTTP_REQUEST = Price("API Gateway HTTP API request", 1.00, "1M requests", False)
LAMBDA_REQUEST = Price("Lambda request", 0.20, "1M requests", True)
LAMBDA_GB_SECOND_X86 = Price("Lambda duration (x86)", 0.0000166667, "GB-second", False)
DYNAMODB_WRU = Price("DynamoDB on-demand write request unit", 0.625, "1M WRU", False)
DYNAMODB_RRU = Price("DynamoDB on-demand read request unit", 0.125, "1M RRU", False)
SQS_REQUEST = Price("SQS standard request (per 64 KB chunk)", 0.40, "1M requests", False)
S3_PUT = Price("S3 Standard PUT/COPY/POST/LIST", 0.005, "1K requests", False)
S3_GET = Price("S3 Standard GET/SELECT", 0.0004, "1K requests", False)
SECRETS_MANAGER_CALL = Price("Secrets Manager API call", 0.05, "10K API calls", False)
STEP_FUNCTIONS_TRANSITION = Price(
    "Step Functions Standard state transition", 0.025, "1K state transitions", True
)
CLOUDWATCH_LOGS_INGESTION = Price(
    "CloudWatch Logs ingestion (Standard)", 0.50, "GB ingested", False
)
SECRET_MONTH = Price("Secrets Manager secret", 0.40, "secret-month", False)
CUSTOM_METRIC_MONTH = Price("CloudWatch custom metric", 0.30, "metric-month", False)
ALARM_METRIC_MONTH = Price(
    "CloudWatch alarm, standard resolution", 0.10, "alarm metric-month", False
)
DASHBOARD_MONTH = Price("CloudWatch dashboard", 3.00, "dashboard-month", False)
DYNAMODB_STORAGE = Price("DynamoDB storage (Standard)", 0.25, "GB-month", False)
S3_STORAGE = Price("S3 Standard storage", 0.023, "GB-month", False)

ALL: tuple[Price, ...] = (
    API_GATEWAY_HTTP_REQUEST,
    LAMBDA_REQUEST,
    LAMBDA_GB_SECOND_X86,
    DYNAMODB_WRU,
    DYNAMODB_RRU,
    SQS_REQUEST,
    S3_PUT,
    S3_GET,
    SECRETS_MANAGER_CALL,
    STEP_FUNCTIONS_TRANSITION,
    CLOUDWATCH_LOGS_INGESTION,
    SECRET_MONTH,
    CUSTOM_METRIC_MONTH,
    ALARM_METRIC_MONTH,
    DASHBOARD_MONTH,
    DYNAMODB_STORAGE,
    S3_STORAGE,
)

SQS_CHUNK_BYTES = 64 * 1024
DYNAMODB_WRITE_UNIT_BYTES = 1024
DYNAMODB_READ_UNIT_BYTES = 4 * 1024
LAMBDA_BILLING_GRANULARITY_MS = 1
# Lambda allots CPU in proportion to memory: one full vCPU at 1,769 MB (Lambda developer guide).
LAMBDA_MB_PER_VCPU = 1769
# Per item stored, DynamoDB adds 100 bytes to the item in the table and to its copy in each
# index (DynamoDB developer guide, item sizes and index storage).
DYNAMODB_ITEM_OVERHEAD_BYTES = 100
DAYS_PER_MONTH = 365 / 12
