"""The one declaration of functions (and what each may touch), routes, the retry state machine
and the tables' CreateTable arguments: what only CDK, local mode, the IAM statements and cdk-nag
need. Tables, queues and environment variable names, which Lambda code needs too, are in
shared/core/resources.py; this module builds on them, so there is still one declaration.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from shared.core.resources import (
    API_KEYS,
    API_TIMEOUT_SECONDS,
    DEDUPE,
    DELIVERIES,
    DELIVERY_QUEUE,
    EVENTS,
    INBOUND_QUEUE,
    SOURCES,
    TABLES,
    WEBHOOKS,
    Index,
    Queue,
    Table,
)

# The retry state machine carries retries longer than SQS's 15 min DelaySeconds (shorter ones
# ride the delivery queue itself: README, "Retry schedule"). One execution per worker batch and
# due step: it Waits until the earliest of its deliveries is due, then puts them all back on the
# delivery queue in one SendMessageBatch whose per-entry DelaySeconds (0..900 s) carry each one's
# jitter. If SQS failed some entries, the whole batch is sent once more (a copy is recognised by
# the worker as a duplicate). Only Wait, Choice, Pass and SQS tasks, so moto executes the very
# same definition locally (it cannot run Lambda tasks).
STATE_MACHINE_QUEUE_PLACEHOLDER = "DeliveryQueueUrl"
_REQUEUE_TASK: dict[str, object] = {
    "Type": "Task",
    "Resource": "arn:aws:states:::aws-sdk:sqs:sendMessageBatch",
    "Parameters": {
        "QueueUrl": "${" + STATE_MACHINE_QUEUE_PLACEHOLDER + "}",
        "Entries.$": "$.entries",
    },
    "ResultPath": "$.sent",
    "Retry": [
        {
            "ErrorEquals": ["States.ALL"],
            "IntervalSeconds": 2,
            "MaxAttempts": 6,
            "BackoffRate": 2.0,
        }
    ],
}
RETRY_STATE_MACHINE_DEFINITION: dict[str, object] = {
    "Comment": "Waits out the retry delay of a batch's deliveries, then re-queues them.",
    "StartAt": "WaitForRetry",
    "States": {
        "WaitForRetry": {"Type": "Wait", "SecondsPath": "$.wait_seconds", "Next": "Requeue"},
        "Requeue": {**_REQUEUE_TASK, "Next": "AllSent"},
        "AllSent": {
            "Type": "Choice",
            "Choices": [
                {"Variable": "$.sent.Failed[0]", "IsPresent": True, "Next": "RequeueAgain"}
            ],
            "Default": "Requeued",
        },
        "RequeueAgain": {**_REQUEUE_TASK, "End": True},
        "Requeued": {"Type": "Pass", "End": True},
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


API = Function(
    "api",
    memory_mb=512,
    timeout_seconds=API_TIMEOUT_SECONDS,
    # Every table but the dedupe claims, which only publish (caller ids) and inbound write.
    reads_tables=tuple(table for table in TABLES if table is not DEDUPE),
    writes_tables=tuple(table for table in TABLES if table is not DEDUPE),
    sends_to=(DELIVERY_QUEUE.env_var, INBOUND_QUEUE.env_var),
    manages_dlqs=True,
    user_secrets="write",
    source_secrets="write",
    # The bootstrap admin key: the API checks every caller's key itself (shared/access/auth.py),
    # and signs pagination cursors with a key derived from it (shared/store/cursors.py).
    reads_admin_secret=True,
    raw_bodies="read",
    # "Redrive all" uses SQS StartMessageMoveTask on AWS (moto lacks it; local mode leaves it off).
    settings=(("WEBHOOKS_DLQ_MOVE_TASK", "1"),),
)
# The publish hot path on its own (functions/publish): lean imports for its cold start, and only
# what a publish touches.
PUBLISH = Function(
    "publish",
    memory_mb=512,
    timeout_seconds=API_TIMEOUT_SECONDS,
    # Keys; the matching webhooks and the event type catalog (its `#catalog` partition).
    reads_tables=(API_KEYS, WEBHOOKS),
    writes_tables=(EVENTS, DELIVERIES, DEDUPE),
    sends_to=(DELIVERY_QUEUE.env_var,),
    reads_admin_secret=True,  # the bootstrap admin key may publish too (shared/access/auth.py)
)
INBOUND = Function(
    "inbound",
    memory_mb=512,
    timeout_seconds=10,
    reads_tables=(SOURCES, DEDUPE),  # a duplicate's answer reads the first claim's event id
    writes_tables=(DEDUPE,),  # the claim only: the processor writes the event record
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
    # Its attempts and the webhooks' failure streaks; EVENTS (and new deliveries) for the
    # operational events it publishes to `_ops` (shared/outbound/operational_events.py).
    writes_tables=(WEBHOOKS, EVENTS, DELIVERIES),
    # Its DLQ, and its own queue: retries due within 15 min go back on it with DelaySeconds, and
    # the deliveries of the operational events it publishes.
    sends_to=(DELIVERY_QUEUE.env_var, DELIVERY_QUEUE.dlq_env_var),
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
    raw_bodies="read_write",  # stores the bodies that are not inline on the record
)
# Concurrency. The queue workers run at most their queue's `max_concurrency` at once, so however
# busy they are, the rest of the account's pool stays free for the API, publish and the
# inbound endpoint. Nothing is reserved by default: AWS only lets a function reserve what leaves
# at least 100 unreserved executions in the account
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html), so on a new
# account (limit 10 until raised) any reservation makes the deploy fail. On an account with room,
# With `-c inbound_function_url=true` the inbound function is public without an API stage's
# throttle in front: it reserves this much concurrency (about 5,000 receipts a second at ~10 ms
# each), so a flood is throttled (429) instead of starving the API and the workers. A new account
# (concurrency quota 10) cannot reserve it: ask for a quota raise before using the setting.
INBOUND_URL_CONCURRENCY = 50
# `-c publish_function_url=true`, the same for the publish function (its API route shares the
# reservation): about 3,500 single publishes a second at ~27 ms each, or 400 batch requests of
# 100 events at ~250 ms each.
PUBLISH_URL_CONCURRENCY = 100
# `cdk deploy -c reserve_worker_concurrency=true` also reserves each worker's max_concurrency,
# guaranteeing the workers their share while the API is busy. A limit not well above the
# workers' sum (a new account's 10) must be raised before real traffic (Service Quotas,
# "Concurrent executions"): below it, busy workers can still take the whole pool.
FUNCTIONS: tuple[Function, ...] = (API, PUBLISH, INBOUND, DELIVERY_WORKER, INBOUND_PROCESSOR)


@dataclass(frozen=True)
class PublicUrl:
    """A function's own public Lambda function URL, opted into with `-c <context>=true` (README:
    Deploying to AWS): its callers skip the API's route and API Gateway's charge per request.
    No API stage throttles it, so the function reserves `concurrency`; `output` names the stack
    output holding the URL (described by `description`) and, with `5xx`, the alarm on its server
    errors."""

    context: str
    function: Function
    concurrency: int
    output: str
    description: str


INBOUND_URL = PublicUrl(
    "inbound_function_url",
    INBOUND,
    INBOUND_URL_CONCURRENCY,
    "InboundUrl",
    "The inbound function's URL, ending in /: sources' inbound_url is <it>inbound/<source id>",
)
PUBLISH_URL = PublicUrl(
    "publish_function_url",
    PUBLISH,
    PUBLISH_URL_CONCURRENCY,
    "PublishUrl",
    "The publish function's URL, ending in /: POST <it>v1/events and <it>v1/events/batch with "
    "an API key, as on the API",
)
PUBLIC_URLS: tuple[PublicUrl, ...] = (INBOUND_URL, PUBLISH_URL)
# The functions that publish events (the API's test send among them), whose deliveries' records
# the delivery worker writes at their first attempt: a deploy updates them after the worker.
PUBLISHERS: tuple[Function, ...] = (API, PUBLISH)


@dataclass(frozen=True)
class Route:
    """An HTTP API route. `authorized`: the function refuses it without a valid API key.

    No route has an API Gateway authorizer: the API function checks the key itself, with a
    per-container cache (shared/access/auth.py), which saves a second Lambda invocation per
    request. functions/api/context.py's `needs_key` must agree (tests/infra/test_cdk_api.py).
    """

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
    # The consumer portal's page and its two assets (README "Consumer portal"): no key, the page
    # holds no data (its token stays in the URL fragment, which browsers never send).
    Route("GET", "/portal", API, authorized=False),
    Route("GET", "/portal/{asset}", API, authorized=False),
    Route("POST", "/v1/events", PUBLISH, authorized=True),
    Route("POST", "/v1/events/batch", PUBLISH, authorized=True),
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
                "Projection": _projection(index),
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


def _projection(index: Index) -> dict[str, Any]:
    """CreateTable's Projection for an index, as CDK synthesizes it."""
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return projection
