"""The one declaration of tables, queues and the retry state machine.

The CDK constructs and local mode both read these objects, so a key, an index or a queue setting
cannot drift between what `cdk deploy` creates and what `make local` creates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Index:
    name: str
    partition_key: str
    sort_key: str | None = None


@dataclass(frozen=True)
class Table:
    """A DynamoDB table: string keys only, on-demand billing."""

    logical_id: str
    env_var: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None


@dataclass(frozen=True)
class Queue:
    """An SQS queue with its dead-letter queue, and the event source mapping that consumes it.

    AWS asks for a visibility timeout of at least 6 x the consumer's function timeout, so that a
    batch survives the mapping's retries of a throttled invocation
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html); a queue that
    stays below it says why in `visibility_reason`. `max_concurrency` is the mapping's
    MaximumConcurrency (2-1000): the most invocations its function runs at once.
    """

    logical_id: str
    env_var: str
    dlq_env_var: str
    visibility_timeout_seconds: int
    max_receive_count: int
    batch_size: int
    dlq_retention_days: int = 14
    extra: dict[str, str] = field(default_factory=dict)
    max_concurrency: int = 10
    visibility_reason: str = ""

    def __post_init__(self) -> None:
        if not 2 <= self.max_concurrency <= 1000:
            raise ValueError(f"{self.logical_id}: MaximumConcurrency must be 2-1000")


API_KEYS = Table(
    logical_id="ApiKeys",
    env_var="API_KEYS_TABLE",
    partition_key="key_hash",
    indexes=(Index("by_key_id", "key_id"),),
)
WEBHOOKS = Table(
    logical_id="Webhooks",
    env_var="WEBHOOKS_TABLE",
    partition_key="user_id",
    sort_key="webhook_id",
)
EVENTS = Table(
    logical_id="Events",
    env_var="EVENTS_TABLE",
    partition_key="user_id",
    sort_key="event_id",
    indexes=(
        Index("by_direction", "user_direction", "event_id"),
        Index("by_type", "user_type", "event_id"),
        Index("by_source", "source_id", "event_id"),
    ),
)
DELIVERIES = Table(
    logical_id="Deliveries",
    env_var="DELIVERIES_TABLE",
    partition_key="user_id",
    sort_key="delivery_id",
    indexes=(
        Index("by_webhook", "webhook_id", "delivery_id"),
        Index("by_event", "event_id", "delivery_id"),
    ),
)
SOURCES = Table(
    logical_id="Sources",
    env_var="SOURCES_TABLE",
    partition_key="source_id",
    indexes=(Index("by_user", "user_id", "source_id"),),
)
DEDUPE = Table(
    logical_id="Dedupe",
    env_var="DEDUPE_TABLE",
    partition_key="dedupe_key",
    ttl_attribute="expires_at",
)

TABLES: tuple[Table, ...] = (API_KEYS, WEBHOOKS, EVENTS, DELIVERIES, SOURCES, DEDUPE)

DELIVERY_QUEUE = Queue(
    logical_id="DeliveryQueue",
    env_var="DELIVERY_QUEUE_URL",
    dlq_env_var="DELIVERY_DLQ_URL",
    # No copy of a message may be handed out while an attempt of it is in flight. One attempt
    # takes at most one 30 s deadline (shared/outbound/http_sender.py), a batch's records are sent
    # at once (shared/core/batch.py), so a batch needs 30 s plus its AWS calls; the worker's 60 s
    # timeout ends any invocation before these 90 s are up, even one started 30 s late.
    # tests/unit/test_delivery_time_budget.py checks the arithmetic.
    visibility_timeout_seconds=90,
    max_receive_count=5,
    batch_size=10,
    max_concurrency=20,  # 20 batches of 10 sent in parallel: 200 deliveries in flight at most
    visibility_reason=(
        "Below 6 x the worker's timeout so that a batch whose invocation failed is retried "
        "after 90 s rather than 6 minutes (a failed HTTP attempt is retried by the state "
        "machine, not by this timeout). The 6 x margin is for throttled invocations: with "
        "max_concurrency the mapping stays within its own cap, so a throttle needs the "
        "account's whole pool in use, and then costs one of the 5 receives."
    ),
)
INBOUND_QUEUE = Queue(
    logical_id="InboundQueue",
    env_var="INBOUND_QUEUE_URL",
    dlq_env_var="INBOUND_DLQ_URL",
    visibility_timeout_seconds=300,  # 6 x the processor's 50 s timeout, as AWS asks
    max_receive_count=3,
    batch_size=10,
    max_concurrency=10,
)
QUEUES: tuple[Queue, ...] = (DELIVERY_QUEUE, INBOUND_QUEUE)

RAW_BODY_BUCKET_ENV = "RAW_BODY_BUCKET"
RETRY_STATE_MACHINE_ENV = "RETRY_STATE_MACHINE_ARN"
ADMIN_KEY_SECRET_ENV = "ADMIN_API_KEY_SECRET_ID"
SECRET_PREFIX_ENV = "SECRET_PREFIX"

# The retry schedule's state machine: a Wait state whose length comes from the input, then the
# SQS service integration puts the delivery message back on the delivery queue. Only Wait and an
# SQS task, so moto executes the very same definition locally (it cannot run Lambda tasks).
STATE_MACHINE_QUEUE_PLACEHOLDER = "DeliveryQueueUrl"
RETRY_STATE_MACHINE_DEFINITION: dict[str, object] = {
    "Comment": "Waits out a delivery's retry delay, then re-queues the delivery message.",
    "StartAt": "WaitForRetry",
    "States": {
        "WaitForRetry": {"Type": "Wait", "SecondsPath": "$.delay_seconds", "Next": "Requeue"},
        "Requeue": {
            "Type": "Task",
            "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {
                "QueueUrl": "${" + STATE_MACHINE_QUEUE_PLACEHOLDER + "}",
                "MessageBody.$": "$.message",
            },
            "Retry": [
                {
                    "ErrorEquals": ["States.ALL"],
                    "IntervalSeconds": 2,
                    "MaxAttempts": 6,
                    "BackoffRate": 2.0,
                }
            ],
            "End": True,
        },
    },
}


def retry_state_machine_definition(delivery_queue_url: str | None = None) -> str:
    """The definition as JSON: the queue placeholder filled (local mode) or kept (CDK)."""
    text = json.dumps(RETRY_STATE_MACHINE_DEFINITION, indent=2)
    if delivery_queue_url is not None:
        text = text.replace("${" + STATE_MACHINE_QUEUE_PLACEHOLDER + "}", delivery_queue_url)
    return text


def resource_name(prefix: str, logical_id: str) -> str:
    """Physical name used locally (CDK lets CloudFormation name things)."""
    return f"{prefix}-{logical_id}"


@dataclass(frozen=True)
class Function:
    """A Lambda function: its folder under functions/ and what it may touch (least privilege)."""

    name: str
    memory_mb: int
    timeout_seconds: int
    reads_tables: tuple[Table, ...] = ()
    writes_tables: tuple[Table, ...] = ()
    sends_to: tuple[str, ...] = ()  # queue env var names it sends to
    consumes: Queue | None = None  # the queue whose event source mapping invokes it
    manages_dlqs: bool = False  # peek and redrive the DLQs (admin routes)
    user_secrets: str = ""  # "", "read" or "write" on per-user signing secrets
    source_secrets: str = ""  # "", "read" or "write" on per-source provider secrets
    reads_admin_secret: bool = False
    raw_bodies: str = ""  # "", "read", "write" or "read_write" on the raw body bucket
    starts_retries: bool = False  # may start executions of the retry state machine
    settings: tuple[tuple[str, str], ...] = ()  # fixed environment settings of this function

    @property
    def handler(self) -> str:
        return f"functions.{self.name}.handler.lambda_handler"


AUTHORIZER = Function(
    "authorizer",
    memory_mb=256,
    timeout_seconds=5,
    reads_tables=(API_KEYS,),
    reads_admin_secret=True,
)
API = Function(
    "api",
    memory_mb=512,
    timeout_seconds=29,
    reads_tables=TABLES,
    writes_tables=TABLES,
    sends_to=(DELIVERY_QUEUE.env_var, INBOUND_QUEUE.env_var),
    manages_dlqs=True,
    user_secrets="write",
    source_secrets="write",
    # Pagination cursors are signed with a key derived from it (shared/store/cursors.py); the API
    # already creates admin keys, so reading the bootstrap one grants it nothing new.
    reads_admin_secret=True,
    raw_bodies="read",
    # "Redrive all" uses SQS StartMessageMoveTask on AWS (moto lacks it; local mode leaves it off).
    settings=(("WEBHOOKS_DLQ_MOVE_TASK", "1"),),
)
INBOUND = Function(
    "inbound",
    memory_mb=512,
    timeout_seconds=10,
    reads_tables=(SOURCES, DEDUPE),  # a duplicate's answer reads the first claim's event id
    writes_tables=(DEDUPE, EVENTS),
    sends_to=(INBOUND_QUEUE.env_var,),
    source_secrets="read",
    raw_bodies="write",
)
DELIVERY_WORKER = Function(
    "delivery_worker",
    memory_mb=512,
    # One batch: one 30 s delivery deadline (its records run at once) + 30 s for its AWS calls.
    timeout_seconds=60,
    reads_tables=(WEBHOOKS, EVENTS, DELIVERIES),
    writes_tables=(WEBHOOKS, DELIVERIES),
    sends_to=(DELIVERY_QUEUE.dlq_env_var,),
    consumes=DELIVERY_QUEUE,
    user_secrets="read",
    raw_bodies="read",
    starts_retries=True,
)
INBOUND_PROCESSOR = Function(
    "inbound_processor",
    memory_mb=512,
    timeout_seconds=50,
    reads_tables=(SOURCES, EVENTS),
    writes_tables=(EVENTS, DELIVERIES),
    sends_to=(DELIVERY_QUEUE.env_var,),
    consumes=INBOUND_QUEUE,
    raw_bodies="read",
)
# Concurrency. The queue workers run at most their queue's `max_concurrency` at once, so however
# busy they are, the rest of the account's pool stays free for the API, the authorizer and the
# inbound endpoint. Nothing is reserved by default: AWS only lets a function reserve what leaves
# at least 100 unreserved executions in the account
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html), so on a new
# account (limit 10 until raised) any reservation makes the deploy fail. On an account with room,
# `cdk deploy -c reserve_worker_concurrency=true` also reserves each worker's max_concurrency,
# guaranteeing the workers their share while the API is busy. A limit not well above the
# workers' sum (a new account's 10) must be raised before real traffic (Service Quotas,
# "Concurrent executions"): below it, busy workers can still take the whole pool.
FUNCTIONS: tuple[Function, ...] = (AUTHORIZER, API, INBOUND, DELIVERY_WORKER, INBOUND_PROCESSOR)


@dataclass(frozen=True)
class Route:
    """An HTTP API route; `authorized` routes run the Lambda authorizer first."""

    method: str
    path: str
    function: Function
    authorized: bool

    @property
    def key(self) -> str:
        """The route key API Gateway uses (`$default` catches what no other route matches)."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


DEFAULT_ROUTE = "$default"


ROUTES: tuple[Route, ...] = (
    Route("GET", "/health", API, authorized=False),
    Route("GET", "/v1/openapi.json", API, authorized=False),
    Route("GET", "/v1/docs", API, authorized=False),
    Route("POST", "/inbound/{source_id}", INBOUND, authorized=False),
    Route("ANY", "/v1/{proxy+}", API, authorized=True),
    # Anything else (an unknown path, GET on the inbound URL) gets the API's JSON 404 instead of
    # API Gateway's bare `{"message":"Not Found"}`.
    Route("ANY", DEFAULT_ROUTE, API, authorized=False),
)


def dynamodb_table_spec(table: Table) -> dict[str, object]:
    """CreateTable arguments (less the name) shared by local mode and the CDK comparison test."""
    attributes = {table.partition_key}
    key_schema = [{"AttributeName": table.partition_key, "KeyType": "HASH"}]
    if table.sort_key:
        attributes.add(table.sort_key)
        key_schema.append({"AttributeName": table.sort_key, "KeyType": "RANGE"})
    indexes = []
    for index in table.indexes:
        attributes.add(index.partition_key)
        index_keys = [{"AttributeName": index.partition_key, "KeyType": "HASH"}]
        if index.sort_key:
            attributes.add(index.sort_key)
            index_keys.append({"AttributeName": index.sort_key, "KeyType": "RANGE"})
        indexes.append(
            {
                "IndexName": index.name,
                "KeySchema": index_keys,
                "Projection": {"ProjectionType": "ALL"},
            }
        )
    spec: dict[str, object] = {
        "KeySchema": key_schema,
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": "S"} for name in sorted(attributes)
        ],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if indexes:
        spec["GlobalSecondaryIndexes"] = indexes
    return spec
