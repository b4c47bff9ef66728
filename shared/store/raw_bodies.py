"""Raw inbound bodies, kept byte for byte: inline on the event record when small, else in S3.

Where a body lives is recorded on its event: `raw_body` (DynamoDB Binary, a body of at most
INLINE_LIMIT bytes) or `raw_s3_key` (an S3 object of its own). Until its event is processed a
body rides in the inbound queue message (SQS keeps it durably); the processor then stores it
with the event's one write, so a small body costs no S3 call at all (docs/architecture.md).
A body too large for a queue message goes to S3 at receipt instead.

S3 objects are stored as `application/octet-stream` whatever the sender said: a presigned link
must never serve a sender's `text/html` as a page of ours (the content type is on the record).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import Binary

from shared.core.aws import client
from shared.core.config import settings

OBJECT_CONTENT_TYPE = "application/octet-stream"
LINK_SECONDS = 900
# 4 KB: DynamoDB bills a write per KB, S3 a PUT at the price of 4 of them.
INLINE_LIMIT = 4 * 1024
INLINE_ATTRIBUTE = "raw_body"
KEY_ATTRIBUTE = "raw_s3_key"


def key(source_id: str, event_id: str) -> str:
    return f"inbound/{source_id}/{event_id}"


def put(object_key: str, body: bytes) -> None:
    client("s3").put_object(
        Bucket=settings().raw_body_bucket,
        Key=object_key,
        Body=body,
        ContentType=OBJECT_CONTENT_TYPE,
    )


def read(object_key: str) -> bytes:
    obj = client("s3").get_object(Bucket=settings().raw_body_bucket, Key=object_key)
    return bytes(obj["Body"].read())


def link(object_key: str) -> str:
    """A presigned GET of the stored raw body, valid for LINK_SECONDS."""
    return str(
        client("s3").generate_presigned_url(
            "get_object",
            Params={"Bucket": settings().raw_body_bucket, "Key": object_key},
            ExpiresIn=LINK_SECONDS,
        )
    )


def is_stored(record: Mapping[str, Any]) -> bool:
    """Whether the record says where its body is (replay needs one)."""
    return bool(record.get(INLINE_ATTRIBUTE) is not None or record.get(KEY_ATTRIBUTE))


def body_of(record: Mapping[str, Any]) -> bytes:
    """An event's raw body wherever it is stored: no call when inline, else one GetObject."""
    inline = record.get(INLINE_ATTRIBUTE)
    if inline is not None:
        return bytes(inline.value) if isinstance(inline, Binary) else bytes(inline)
    object_key = record.get(KEY_ATTRIBUTE)
    if not object_key:
        raise LookupError(f"event {record.get('event_id')} has no stored raw body")
    return read(str(object_key))


def store(source_id: str, event_id: str, body: bytes, *, inline: bool) -> dict[str, bytes | str]:
    """Store a body (inline: nothing to call; else one PutObject); the record's location field."""
    if inline and len(body) <= INLINE_LIMIT:
        return {INLINE_ATTRIBUTE: body}
    object_key = key(source_id, event_id)
    put(object_key, body)
    return {KEY_ATTRIBUTE: object_key}
