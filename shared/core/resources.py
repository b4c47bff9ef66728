"""Tables, queues and environment variable names: what Lambda code needs of the declaration.

The rest of it (functions, their access, routes, the retry state machine, CreateTable arguments)
is in infra/declaration.py, which CDK, local mode, the IAM statements and cdk-nag read and no
Lambda bundle ships. The CDK constructs and local mode both read these objects, so a key, an
index or a queue setting cannot drift between what `cdk deploy` creates and what `make local`
creates.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Index:
    """A global secondary index.

    DynamoDB bills a write to an index for every table write that puts, changes or removes an
    item's projected attributes there, sized by the projected item
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/GSI.html#GSI.ThroughputConsiderations):
    `KEYS_ONLY` (or `INCLUDE` with a few attributes) keeps attributes that change often out of it.
    """

    name: str
    partition_key: str
    sort_key: str | None = None
    projection: str = "ALL"  # "ALL" | "KEYS_ONLY" | "INCLUDE"
    non_key_attributes: tuple[str, ...] = ()  # with "INCLUDE": the projected attributes

    def __post_init__(self) -> None:
        if self.projection not in ("ALL", "KEYS_ONLY", "INCLUDE"):
            raise ValueError(f"{self.name}: projection must be ALL, KEYS_ONLY or INCLUDE")
        if (self.projection == "INCLUDE") != bool(self.non_key_attributes):
            raise ValueError(f"{self.name}: non_key_attributes go with INCLUDE, and only with it")


@dataclass(frozen=True)
class Table:
    """A DynamoDB table: string keys only, on-demand billing."""

    logical_id: str
    env_var: str
    partition_key: str
    sort_key: str | None = None
    indexes: tuple[Index, ...] = ()
    ttl_attribute: str | None = None
    # Indexes the last release had and this one dropped, oldest drop first. CloudFormation creates
    # or deletes one global secondary index per table per update, so a stack deployed with them
    # upgrades in steps: `cdk deploy -c retired_indexes_kept=N` keeps the last N (README:
    # Upgrading); a new stack never has them.
    retired_indexes: tuple[Index, ...] = ()


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
    # Portal sessions (README "Consumer portal") carry one; API keys never do, so never expire.
    ttl_attribute="expires_at",
)
WEBHOOKS = Table(
    logical_id="Webhooks",
    env_var="WEBHOOKS_TABLE",
    partition_key="user_id",
    sort_key="webhook_id",
)
# Events and deliveries: what each write costs, counting index writes. DynamoDB bills a write to
# every index an item lands in, by the projected size, and an update that changes a projected
# attribute writes the index again. So:
# - events have no index. The direction is part of the table's partition key
#   (shared/store/events.py), so a list of one direction Queries its 32 shards; a type or source
#   filter runs on those Queries as a FilterExpression. A filtered list is billed for every event
#   it reads past, but it is an operator's occasional read, where an index (even KEYS_ONLY, 1 WRU)
#   was billed on every event published or received: 1 WRU of an outbound event's 2-3, 2 of an
#   inbound event's 5.
# - deliveries have no index. The table's partition key is derived from the delivery id, which
#   carries a tag of its webhook (shared/store/deliveries.py): a webhook's deliveries are
#   Queries on the table, a get by id computes its key, and an event lists its deliveries
#   (`delivery_ids`, and by webhook those published with it). A delivery published with its event
#   is not written at publish: its first attempt writes its record (1 WRU while under 1 KB), and
#   until then the event names it (its id is derived from the event's). A first-try delivery is
#   therefore 1 write unit beside its event's, 2 in all for an event to one webhook.
# Both expire by TTL after WEBHOOKS_RETENTION_DAYS (README: Retention). Every partition key of
# both tables ends in a shard of 32 taken from the item's id, so one tenant
# at 10,000 events/s writes no key more than ~313 times a second (shared/store/shards.py).
EVENTS = Table(
    logical_id="Events",
    env_var="EVENTS_TABLE",
    partition_key="pk",  # user, direction and shard: see shared/store/events.py
    sort_key="event_id",
    ttl_attribute="expires_at",
    retired_indexes=(
        Index("by_type", "user_type", "event_id", projection="KEYS_ONLY"),
        Index("by_source", "source_shard", "event_id", projection="KEYS_ONLY"),
    ),
)
DELIVERIES = Table(
    logical_id="Deliveries",
    env_var="DELIVERIES_TABLE",
    partition_key="pk",  # f"{user_id}#{tag}{shard}": see shared/store/deliveries.py
    sort_key="delivery_id",
    ttl_attribute="expires_at",
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

# The API function's timeout (29 s, API Gateway's integration limit): the DLQ redrive works within
# it (shared/ops/dlq.py), and infra/declaration.py gives the function this timeout.
API_TIMEOUT_SECONDS = 29
