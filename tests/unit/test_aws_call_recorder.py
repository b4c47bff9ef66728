"""The AWS call recorder (infra/local/recorder.py): the IAM permission each call needs, and the
function each call is attributed to. tests/infra/test_iam_calls.py checks what it records."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.local.recorder import (
    Recorder,
    function_on_stack,
    inherit_function_in_threads,
    permissions,
    queue_arn,
    read_records,
)
from shared.core.aws import client
from tests.support.api import InProcessApi
from tests.support.faults import invoke_worker, receive_all

QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/111122223333/orders"
QUEUE_ARN = "arn:aws:sqs:eu-west-1:111122223333:orders"
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/"
SERVICES = ("dynamodb", "sqs", "s3", "secretsmanager", "stepfunctions")


def test_sqs_batch_calls_need_the_single_message_actions() -> None:
    """https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-batch-api.html:
    no permission exists for the batch actions; SendMessage etc. cover them."""
    assert permissions("sqs", "SendMessageBatch", {"QueueUrl": QUEUE_URL, "Entries": []}) == [
        ("sqs:SendMessage", QUEUE_ARN)
    ]
    assert permissions("sqs", "ChangeMessageVisibilityBatch", {"QueueUrl": QUEUE_URL}) == [
        ("sqs:ChangeMessageVisibility", QUEUE_ARN)
    ]


def test_a_move_task_needs_the_source_and_destination_permissions() -> None:
    """https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_StartMessageMoveTask.html"""
    needed = permissions(
        "sqs", "StartMessageMoveTask", {"SourceArn": "arn:dlq", "DestinationArn": "arn:queue"}
    )
    assert set(needed) == {
        ("sqs:StartMessageMoveTask", "arn:dlq"),
        ("sqs:ReceiveMessage", "arn:dlq"),
        ("sqs:DeleteMessage", "arn:dlq"),
        ("sqs:GetQueueAttributes", "arn:dlq"),
        ("sqs:SendMessage", "arn:queue"),
    }


def test_transactions_need_each_item_action_on_its_table() -> None:
    """https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html"""
    items = [
        {"Put": {"TableName": "a", "Item": {}}},
        {"ConditionCheck": {"TableName": "b", "Key": {}}},
        {"Update": {"TableName": "c", "Key": {}}},
        {"Delete": {"TableName": "a", "Key": {}}},
    ]
    assert permissions("dynamodb", "TransactWriteItems", {"TransactItems": items}) == [
        ("dynamodb:PutItem", TABLE + "a"),
        ("dynamodb:ConditionCheckItem", TABLE + "b"),
        ("dynamodb:UpdateItem", TABLE + "c"),
        ("dynamodb:DeleteItem", TABLE + "a"),
    ]


def test_index_queries_and_batches_name_every_resource() -> None:
    query = {"TableName": "sources", "IndexName": "by_user"}
    assert permissions("dynamodb", "Query", query) == [
        ("dynamodb:Query", TABLE + "sources/index/by_user")
    ]
    batch = {"RequestItems": {"a": {}, "b": {}}}
    assert permissions("dynamodb", "BatchGetItem", batch) == [
        ("dynamodb:BatchGetItem", TABLE + "a"),
        ("dynamodb:BatchGetItem", TABLE + "b"),
    ]


def test_s3_objects_and_head_requests() -> None:
    """https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html:
    HeadObject is authorized as s3:GetObject."""
    assert permissions("s3", "HeadObject", {"Bucket": "raw", "Key": "a/b"}) == [
        ("s3:GetObject", "arn:aws:s3:::raw/a/b")
    ]
    assert permissions("s3", "ListObjectsV2", {"Bucket": "raw", "Prefix": "a/"}) == [
        ("s3:ListBucket", "arn:aws:s3:::raw")
    ]


def test_a_secret_named_by_name_gets_the_six_character_suffix_of_its_arn() -> None:
    """https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html:
    a secret's ARN is its name, `-` and six random characters."""
    ((action, arn),) = permissions("secretsmanager", "CreateSecret", {"Name": "p/users/u1"})
    assert action == "secretsmanager:CreateSecret"
    prefix = "arn:aws:secretsmanager:us-east-1:123456789012:secret:p/users/u1-"
    assert arn.startswith(prefix)
    assert len(arn) == len(prefix) + 6
    given = "arn:aws:secretsmanager:us-east-1:1:secret:x-AbCdEf"
    assert permissions("secretsmanager", "GetSecretValue", {"SecretId": given}) == [
        ("secretsmanager:GetSecretValue", given)
    ]


@pytest.fixture
def recorded(aws: dict[str, str], tmp_path: Path) -> Iterator[Path]:
    """A recorder attributing by call stack on this test's clients, removed afterwards."""
    inherit_function_in_threads()
    recorder = Recorder(str(tmp_path / "calls.jsonl"), function_on_stack)
    for service in SERVICES:
        client(service).meta.events.register("provide-client-params", recorder)
    yield tmp_path
    for service in SERVICES:
        client(service).meta.events.unregister("provide-client-params", recorder)


def _records(directory: Path) -> set[tuple[str, str, str]]:
    return {(r["function"], r["action"], r["resource"]) for r in read_records(directory)}


def test_calls_are_attributed_to_the_function_whose_code_makes_them(
    recorded: Path, aws: dict[str, str], receiver: Any
) -> None:
    """The handler on the stack names the function; the delivery worker's pool threads inherit
    it; calls from test code are not recorded."""
    api = InProcessApi()
    client("dynamodb").describe_table(TableName=aws["WEBHOOKS_TABLE"])  # the test's own call
    key = api.new_user_key("wk_test_admin_key", "rec")
    hook = {"url": receiver.url("/rec"), "events": ["user.created"]}
    assert api.request("POST", "/v1/webhooks", key, hook).status == 201
    assert api.request("POST", "/v1/events", key, {"type": "user.created", "data": {}}).status in (
        200,
        202,
    )
    invoke_worker(receive_all(aws["DELIVERY_QUEUE_URL"]))

    records = _records(recorded)
    table = "arn:aws:dynamodb:us-east-1:123456789012:table/"
    assert ("api", "dynamodb:GetItem", table + aws["API_KEYS_TABLE"]) in records
    assert ("publish", "sqs:SendMessage", queue_arn(aws["DELIVERY_QUEUE_URL"])) in records
    worker = {action for function, action, _ in records if function == "delivery_worker"}
    assert "dynamodb:UpdateItem" in worker  # made on a pool thread of shared.core.batch
    assert not any(action == "dynamodb:DescribeTable" for _, action, _ in records)


def test_a_presigned_url_is_recorded_as_the_call_it_signs(
    aws: dict[str, str], tmp_path: Path
) -> None:
    """Whoever uses the URL acts with the signer's permissions: the signer needs s3:GetObject."""
    recorder = Recorder(str(tmp_path / "calls.jsonl"), lambda: "api")
    s3 = client("s3")
    s3.meta.events.register("provide-client-params", recorder)
    try:
        s3.generate_presigned_url("get_object", Params={"Bucket": "raw", "Key": "e1"})
    finally:
        s3.meta.events.unregister("provide-client-params", recorder)
    assert _records(tmp_path) == {("api", "s3:GetObject", "arn:aws:s3:::raw/e1")}
