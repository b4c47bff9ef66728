"""Raw inbound bodies, kept byte for byte: inline on the event record when small, else in S3.

Where a body lives is recorded on its event: inline as DynamoDB Binary of at most INLINE_LIMIT
bytes, deflated (`raw_deflated`, raw DEFLATE, RFC 1951) when that is smaller, as it is for
nearly every JSON body, else as sent (`raw_body`, which records written before bodies were
deflated hold too); or `raw_s3_key` (an S3 object of its own). DynamoDB bills a write by the
item's KB, the larger of before and after, so a deflated body cuts the record's one write and
every later update of it (a 20 KB GitHub push deflates to 1.1 KB):
https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html

Until its event is processed a body rides in the inbound queue message (SQS keeps it durably);
the processor then stores it with the event's one write, so a small body costs no S3 call at all
(docs/architecture.md). A body too large for a queue message goes to S3 at receipt instead.

S3 objects are stored as `application/octet-stream` whatever the sender said: a presigned link
must never serve a sender's `text/html` as a page of ours (the content type is on the record).
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from typing import Any

from boto3.dynamodb.types import Binary

from shared.core.aws import client
from shared.core.config import settings

OBJECT_CONTENT_TYPE = "application/octet-stream"
LINK_SECONDS = 900
# 4 KB as stored: DynamoDB bills a write per KB, S3 a PUT at the price of 8 of them.
INLINE_LIMIT = 4 * 1024
INLINE_ATTRIBUTE = "raw_body"
DEFLATED_ATTRIBUTE = "raw_deflated"
KEY_ATTRIBUTE = "raw_s3_key"
# Inbound bodies are at most 1 MB; inflating never yields more (a corrupt value raises).
MAX_INFLATED_BYTES = 1024 * 1024
_RAW_DEFLATE = -15  # zlib's wbits for raw DEFLATE: no zlib header or checksum (6 bytes less)


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


def is_inline(record: Mapping[str, Any]) -> bool:
    """Whether the record holds its body itself (as sent or deflated)."""
    return record.get(INLINE_ATTRIBUTE) is not None or record.get(DEFLATED_ATTRIBUTE) is not None


def is_stored(record: Mapping[str, Any]) -> bool:
    """Whether the record says where its body is (replay needs one)."""
    return is_inline(record) or bool(record.get(KEY_ATTRIBUTE))


def _bytes(value: Any) -> bytes:
    return bytes(value.value) if isinstance(value, Binary) else bytes(value)


def deflate(body: bytes) -> bytes:
    packer = zlib.compressobj(zlib.Z_BEST_COMPRESSION, zlib.DEFLATED, _RAW_DEFLATE)
    return packer.compress(body) + packer.flush()


def inflate(packed: bytes) -> bytes:
    unpacker = zlib.decompressobj(_RAW_DEFLATE)
    body = unpacker.decompress(packed, MAX_INFLATED_BYTES)
    if unpacker.unconsumed_tail or not unpacker.eof:
        raise ValueError("an inline raw body does not inflate to a whole body")
    return body


def body_of(record: Mapping[str, Any]) -> bytes:
    """An event's raw body wherever it is stored: no call when inline, else one GetObject."""
    deflated = record.get(DEFLATED_ATTRIBUTE)
    if deflated is not None:
        return inflate(_bytes(deflated))
    inline = record.get(INLINE_ATTRIBUTE)
    if inline is not None:
        return _bytes(inline)
    object_key = record.get(KEY_ATTRIBUTE)
    if not object_key:
        raise LookupError(f"event {record.get('event_id')} has no stored raw body")
    return read(str(object_key))


def store(source_id: str, event_id: str, body: bytes, *, inline: bool) -> dict[str, bytes | str]:
    """Store a body (inline: nothing to call; else one PutObject); the record's location field.

    Inline, the smaller of the body deflated and as sent, when that is within INLINE_LIMIT."""
    if inline:
        packed = deflate(body)
        if len(packed) < len(body) and len(packed) <= INLINE_LIMIT:
            return {DEFLATED_ATTRIBUTE: packed}
        if len(body) <= INLINE_LIMIT:
            return {INLINE_ATTRIBUTE: body}
    object_key = key(source_id, event_id)
    put(object_key, body)
    return {KEY_ATTRIBUTE: object_key}
