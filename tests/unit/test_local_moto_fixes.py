"""Local mode's emulator keeps every write when transactions are cancelled concurrently."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from infra.local.moto_fixes import serialize_dynamodb
from shared.store.dynamo import to_item

WRITES = 100
PREFILL = 2000


@pytest.fixture
def moto_server() -> Iterator[Any]:
    """A moto server in this process, as local mode runs it, with our fix applied."""
    serialize_dynamodb()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    server.stop()


def test_cancelled_transactions_do_not_lose_concurrent_writes(moto_server: Any) -> None:
    dynamodb = moto_server
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    # A table big enough that moto's backup copy takes a while: the window for a lost write.
    for start in range(0, PREFILL, 25):
        requests = [
            {"PutRequest": {"Item": to_item({"pk": f"old-{n}"})}} for n in range(start, start + 25)
        ]
        dynamodb.batch_write_item(RequestItems={"t": requests})
    dynamodb.put_item(TableName="t", Item=to_item({"pk": "taken"}))

    def cancel_transactions() -> None:
        for _ in range(WRITES // 4):
            with contextlib.suppress(dynamodb.exceptions.TransactionCanceledException):
                dynamodb.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": "t",
                                "Item": to_item({"pk": "taken"}),
                                "ConditionExpression": "attribute_not_exists(pk)",
                            }
                        }
                    ]
                )

    def write_items(offset: int) -> None:
        for number in range(WRITES):
            dynamodb.put_item(TableName="t", Item=to_item({"pk": f"item-{offset}-{number}"}))

    threads = [threading.Thread(target=cancel_transactions) for _ in range(2)]
    threads += [threading.Thread(target=write_items, args=(offset,)) for offset in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert dynamodb.describe_table(TableName="t")["Table"]["ItemCount"] == PREFILL + 2 * WRITES + 1


def test_faster_sqs_receive_keeps_visibility_delay_and_retention() -> None:
    """The cheaper visible/delayed/retention checks answer exactly as moto's own would."""
    from datetime import timedelta

    from moto import mock_aws

    from infra.local.moto_fixes import apply_all

    apply_all()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="q", Attributes={"MessageRetentionPeriod": "60"})[
            "QueueUrl"
        ]
        for start in range(0, 30, 10):
            sqs.send_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(n), "MessageBody": f"m{n}"} for n in range(start, start + 10)],
            )
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)

        first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        second = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)
        bodies = [m["Body"] for m in first["Messages"] + second["Messages"]]
        assert len(bodies) == len(set(bodies)) == 20 and "later" not in bodies

        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert counts["ApproximateNumberOfMessages"] == "10"
        assert counts["ApproximateNumberOfMessagesNotVisible"] == "20"
        assert counts["ApproximateNumberOfMessagesDelayed"] == "1"

        # Past the retention period nothing is handed out any more.
        import moto.core.utils

        real_now = moto.core.utils.utcnow
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(moto.core.utils, "utcnow", lambda: real_now() + timedelta(seconds=120))
            assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)


class WalkCounter(list):  # type: ignore[type-arg]
    """A queue's message list that counts how often it is walked."""

    walks = 0

    def __iter__(self) -> Any:
        WalkCounter.walks += 1
        return super().__iter__()


def test_a_send_does_not_walk_the_queue_and_the_counts_stay_right() -> None:
    """Before: each message sent computed every queue attribute to read one, walking the whole
    queue three times (a batch publish to 20 webhooks into a backlog took tens of seconds)."""
    from moto import mock_aws
    from moto.sqs.models import sqs_backends

    from infra.local.moto_fixes import apply_all

    apply_all()
    with mock_aws():
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="backlog")["QueueUrl"]
        entries = [{"Id": str(n), "MessageBody": f"m{n}"} for n in range(10)]
        for _ in range(20):
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
        queue = sqs_backends["123456789012"]["us-east-1"].get_queue("backlog")
        queue._messages = WalkCounter(queue._messages)
        WalkCounter.walks = 0

        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        sqs.send_message(QueueUrl=url, MessageBody="one more", DelaySeconds=60)

        assert WalkCounter.walks == 0
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert counts["ApproximateNumberOfMessages"] == "210"
        assert counts["ApproximateNumberOfMessagesDelayed"] == "1"
        assert WalkCounter.walks > 0  # reading the counts still counts


def test_messages_sent_while_others_are_deleted_are_never_lost() -> None:
    """Sends racing deletes on one queue: every message sent is received exactly once."""
    from moto import mock_aws

    from infra.local.moto_fixes import apply_all

    apply_all()
    prefill, batches = 1000, 150
    previous_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so the race gets its chances
    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="race")["QueueUrl"]
            for start in range(0, prefill, 10):
                sqs.send_message_batch(
                    QueueUrl=url,
                    Entries=[{"Id": str(n), "MessageBody": f"p{start + n}"} for n in range(10)],
                )
            sent = {f"p{n}" for n in range(prefill)}
            received: list[str] = []
            sending_done = threading.Event()

            def send() -> None:
                for batch in range(batches):
                    entries = [{"Id": str(n), "MessageBody": f"s{batch}-{n}"} for n in range(10)]
                    sqs.send_message_batch(QueueUrl=url, Entries=entries)
                sending_done.set()

            def consume() -> None:
                idle = 0
                while idle < 3:
                    messages = sqs.receive_message(
                        QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300
                    ).get("Messages", [])
                    if not messages:
                        idle += 1 if sending_done.is_set() else 0
                        continue
                    received.extend(message["Body"] for message in messages)
                    for message in messages:  # one by one: the most list rebuilds
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

            threads = [threading.Thread(target=send)]
            threads += [threading.Thread(target=consume) for _ in range(2)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            sent |= {f"s{batch}-{n}" for batch in range(batches) for n in range(10)}
    finally:
        sys.setswitchinterval(previous_interval)
    assert len(received) == len(set(received))
    assert set(received) == sent


def test_cancelled_transaction_restores_only_its_items_without_copying_tables() -> None:
    """A cancelled TransactWriteItems leaves every item as it was (AWS: all or nothing,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html),
    and the emulator restores the items it touched instead of swapping in a copy of the table."""
    from moto import mock_aws
    from moto.backends import get_backend

    from infra.local.moto_fixes import apply_all

    apply_all()
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.put_item(TableName="t", Item=to_item({"pk": "kept", "n": 1}))
        dynamodb.put_item(TableName="t", Item=to_item({"pk": "doomed", "n": 1}))
        table = get_backend("dynamodb")["123456789012"]["us-east-1"].tables["t"]
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": "t", "Item": to_item({"pk": "new"})}},
                    {
                        "Update": {
                            "TableName": "t",
                            "Key": to_item({"pk": "kept"}),
                            "UpdateExpression": "SET n = :two",
                            "ExpressionAttributeValues": to_item({":two": 2}),
                        }
                    },
                    {"Delete": {"TableName": "t", "Key": to_item({"pk": "doomed"})}},
                    {
                        "ConditionCheck": {
                            "TableName": "t",
                            "Key": to_item({"pk": "absent"}),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                ]
            )
        items = dynamodb.scan(TableName="t")["Items"]
        assert sorted((i["pk"]["S"], i["n"]["N"]) for i in items) == [
            ("doomed", "1"),
            ("kept", "1"),
        ]
        assert get_backend("dynamodb")["123456789012"]["us-east-1"].tables["t"] is table

        dynamodb.transact_write_items(
            TransactItems=[{"Put": {"TableName": "t", "Item": to_item({"pk": "new"})}}]
        )
        assert dynamodb.get_item(TableName="t", Key=to_item({"pk": "new"})).get("Item")


def test_expired_items_are_deleted_like_dynamodb_ttl() -> None:
    """DynamoDB deletes items whose TTL attribute (epoch seconds) has passed
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/howitworks-ttl.html);
    moto never does, so local mode's memory grew with every item ever stored."""
    from moto import mock_aws

    from infra.local.moto_fixes import expire_ttl_items

    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dynamodb.update_time_to_live(
            TableName="t", TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"}
        )
        for pk, ttl in (("old", 100), ("new", 10_000), ("none", None)):
            dynamodb.put_item(TableName="t", Item=to_item({"pk": pk, "ttl": ttl}))
        assert expire_ttl_items(now=5_000) == 1
        left = sorted(item["pk"]["S"] for item in dynamodb.scan(TableName="t")["Items"])
        assert left == ["new", "none"]
