"""The AWS actions each function's code performs: what its role is granted, and nothing more.

infra.declaration declares what a function may touch (tables it reads or writes, queues,
secrets, the bucket, the state machine); this module narrows each of those to the actions the
code calls, in place of CDK's `grant*` helpers, which add actions we never use (Scan, GetRecords,
s3:List*, DescribeSecret, sends to the DLQs, ...).

tests/infra/test_iam_calls.py keeps both sides honest from the calls the suite records: a call
with no grant fails it, and so does a grant no call uses unless KEPT_WITHOUT_A_TEST_CALL below
says why it stays.
"""

from __future__ import annotations

from dataclasses import dataclass

from infra import declaration as decl
from shared.core import resources as res

TABLE_READS = frozenset({"GetItem", "BatchGetItem", "Query", "ConditionCheckItem"})
TABLE_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem"})


@dataclass(frozen=True)
class TableActions:
    """DynamoDB actions on one table (`items`) and on its global secondary indexes (`indexes`).

    A transaction needs the item action of each of its parts (PutItem, UpdateItem, DeleteItem,
    ConditionCheckItem) on that part's table.
    """

    table: res.Table
    items: tuple[str, ...] = ()
    indexes: tuple[str, ...] = ()


TABLE_ACTIONS: dict[str, tuple[TableActions, ...]] = {
    decl.API.name: (
        TableActions(res.API_KEYS, ("GetItem", "PutItem", "DeleteItem"), indexes=("Query",)),
        TableActions(res.WEBHOOKS, ("GetItem", "Query", "PutItem", "UpdateItem", "DeleteItem")),
        # PutItem on events and deliveries went with publish (its caller-id transaction).
        # No index: a list filters the Queries of its direction's partitions by type or source.
        TableActions(res.EVENTS, ("BatchGetItem", "Query", "UpdateItem", "BatchWriteItem")),
        # No index: a webhook's deliveries (lists, recover, stats) are Queries on the table.
        TableActions(res.DELIVERIES, ("BatchGetItem", "Query", "UpdateItem", "BatchWriteItem")),
        TableActions(
            res.SOURCES, ("GetItem", "PutItem", "UpdateItem", "DeleteItem"), indexes=("Query",)
        ),
    ),
    # A publish: the key (unless cached), the user's active webhooks, then the event and its
    # deliveries with the caller id's claim (a transaction of puts) or batched, and their undo.
    decl.PUBLISH.name: (
        TableActions(res.API_KEYS, ("GetItem",)),
        TableActions(res.WEBHOOKS, ("Query",)),
        TableActions(res.EVENTS, ("PutItem", "BatchWriteItem")),
        TableActions(res.DELIVERIES, ("PutItem", "BatchWriteItem")),
        TableActions(res.DEDUPE, ("PutItem", "BatchWriteItem")),
    ),
    decl.INBOUND.name: (
        TableActions(res.SOURCES, ("GetItem",)),
        TableActions(res.DEDUPE, ("PutItem", "DeleteItem")),  # the claim; given back on failure
    ),
    # An attempt: one BatchGetItem, its UpdateItem, the webhook's streak or disable. An
    # operational event (a disable, a dead letter) is a publish to `_ops`: its webhooks (Query),
    # the event and its deliveries (BatchWriteItem, also their undo).
    decl.DELIVERY_WORKER.name: (
        TableActions(res.WEBHOOKS, ("BatchGetItem", "Query", "UpdateItem")),
        TableActions(res.EVENTS, ("BatchGetItem", "BatchWriteItem")),
        TableActions(res.DELIVERIES, ("BatchGetItem", "UpdateItem", "BatchWriteItem")),
    ),
    decl.INBOUND_PROCESSOR.name: (
        TableActions(res.SOURCES, ("BatchGetItem",)),
        TableActions(res.EVENTS, ("BatchGetItem", "UpdateItem")),
        TableActions(res.DELIVERIES, ("BatchWriteItem",)),
    ),
}


def table_actions(spec: decl.Function) -> tuple[TableActions, ...]:
    """This function's table actions, refused if they exceed its declaration."""
    granted = TABLE_ACTIONS.get(spec.name, ())
    for access in granted:
        actions = set(access.items) | set(access.indexes)
        allowed = (TABLE_READS if access.table in spec.reads_tables else set()) | (
            TABLE_WRITES if access.table in spec.writes_tables else set()
        )
        if not actions <= allowed:
            raise ValueError(
                f"{spec.name} does not declare {sorted(actions - allowed)} on "
                f"{access.table.logical_id} (shared/core/resources.py)"
            )
    return granted


# Per-user signing secrets (`users`) and per-source provider secrets (`sources`), by level.
SECRET_ACTIONS: dict[tuple[str, str], tuple[str, ...]] = {
    ("users", "read"): ("secretsmanager:GetSecretValue",),
    ("users", "write"): (
        "secretsmanager:GetSecretValue",
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
    ),
    ("sources", "read"): ("secretsmanager:GetSecretValue",),
    ("sources", "write"): (
        "secretsmanager:GetSecretValue",
        "secretsmanager:CreateSecret",
        "secretsmanager:PutSecretValue",
        "secretsmanager:DeleteSecret",  # a deleted source takes its secret along
    ),
}
ADMIN_SECRET_ACTIONS = ("secretsmanager:GetSecretValue",)
RAW_BODY_ACTIONS: dict[str, tuple[str, ...]] = {
    "read": ("s3:GetObject",),
    "write": ("s3:PutObject",),
    "read_write": ("s3:GetObject", "s3:PutObject"),
}
SEND_ACTIONS = ("sqs:SendMessage",)
# The admin routes peek into a DLQ (receive, then make visible again) and redrive it: message by
# message (send to the source queue, delete from the DLQ), or on AWS all at once with an SQS
# move task, which reads both queues' attributes, needs the source-side receive and delete, and
# when refused is looked up to tell a running task from another refusal
# (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html).
DLQ_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:StartMessageMoveTask",
    "sqs:ListMessageMoveTasks",
)
REDRIVE_TARGET_ACTIONS = ("sqs:SendMessage", "sqs:GetQueueAttributes")


SECRET_WRITE_ACTIONS = tuple(
    sorted({action for (_, level), actions in SECRET_ACTIONS.items() for action in actions})
)
ALL_FUNCTIONS = tuple(spec.name for spec in decl.FUNCTIONS)


@dataclass(frozen=True)
class KeptGrant:
    """Grants no test call uses, kept on purpose: these actions of these functions, and why.

    `resources` narrows the rule to grants whose resource, as cdk-nag prints it, contains one of
    them (`<DeliveryQueue.Arn>`); empty means any resource.
    """

    reason: str
    actions: tuple[str, ...]
    functions: tuple[str, ...] = ALL_FUNCTIONS
    resources: tuple[str, ...] = ()

    def covers(self, function: str, action: str, resource: str) -> bool:
        return (
            function in self.functions
            and action in self.actions
            and (not self.resources or any(part in resource for part in self.resources))
        )


# What an SQS event source mapping needs of the function's role:
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html
EVENT_SOURCE_ACTIONS = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
)
KEPT_WITHOUT_A_TEST_CALL: tuple[KeptGrant, ...] = (
    KeptGrant(
        "Lambda itself writes the function's logs to its own log group with this role.",
        ("logs:CreateLogStream", "logs:PutLogEvents"),
    ),
    KeptGrant(
        "Active tracing: the Lambda runtime sends the trace segments with this role.",
        ("xray:PutTraceSegments", "xray:PutTelemetryRecords"),
    ),
    *(
        KeptGrant(
            "Lambda's event source mapping polls the consumed queue with the function's role "
            "(ReceiveMessage, DeleteMessage, GetQueueAttributes); CDK's SqsEventSource adds "
            "ChangeMessageVisibility and GetQueueUrl and offers nothing narrower.",
            EVENT_SOURCE_ACTIONS,
            (spec.name,),
            (f"<{spec.consumes.logical_id}.Arn>",),
        )
        for spec in decl.FUNCTIONS
        if spec.consumes is not None
    ),
    KeptGrant(
        "The move task of 'redrive all' (shared/ops/dlq.py) is tested on the delivery DLQ; the "
        "inbound DLQ runs the same code, so its grants stay without a call of their own.",
        ("sqs:StartMessageMoveTask", "sqs:ListMessageMoveTasks", "sqs:GetQueueAttributes"),
        (decl.API.name,),
        (f"<{res.INBOUND_QUEUE.logical_id}DLQ.Arn>", f"<{res.INBOUND_QUEUE.logical_id}.Arn>"),
    ),
)
