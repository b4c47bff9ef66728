"""Raw inbound bodies, kept byte for byte: inline on the event record when small, else in S3.

Where a body lives is recorded on its event: inline as DynamoDB Binary of at most INLINE_LIMIT
bytes, deflated (`raw_deflated`, raw DEFLATE, RFC 1951) when that is smaller, as it is for
nearly every JSON body, else as sent (`raw_body`, which records written before bodies were
deflated hold too); or `raw_s3_key`, an S3 object of its own or, with `raw_range`, the body's
bytes in an object several bodies of one source share (`store_bundle`). DynamoDB bills a write
by the item's KB, the larger of before and after, so a deflated body cuts the record's one write
and every later update of it (a 15 KB GitHub push deflates to 2.9 KB):
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
from botocore.exceptions import BotoCoreError, ClientError

from shared.core import ids
from shared.core.aws import client
from shared.core.config import settings
from shared.core.errors import ServiceUnavailable

OBJECT_CONTENT_TYPE = "application/octet-stream"
LINK_SECONDS = 900
# 4 KB as stored: DynamoDB bills a write per KB, S3 a PUT at the price of 8 of them.
INLINE_LIMIT = 4 * 1024
INLINE_ATTRIBUTE = "raw_body"
DEFLATED_ATTRIBUTE = "raw_deflated"
KEY_ATTRIBUTE = "raw_s3_key"
RANGE_ATTRIBUTE = "raw_range"  # [first byte, last byte] of a body in a shared object
# Inbound bodies are at most 1 MB; inflating never yields more (a corrupt value raises).
MAX_INFLATED_BYTES = 1024 * 1024
_RAW_DEFLATE = -15  # zlib's wbits for raw DEFLATE: no zlib header or checksum (6 bytes less)


def key(source_id: str, event_id: str) -> str:
    return f"inbound/{source_id}/{event_id}"


def bundle_key(source_id: str) -> str:
    """A new shared object of one source's bodies: never the name of an earlier one (a body stored
    again, its first run having failed, must not overwrite the bytes others' ranges point into)."""
    return f"inbound/{source_id}/{ids.new_id('bundle')}"


def put(object_key: str, body: bytes) -> None:
    client("s3").put_object(
        Bucket=settings().raw_body_bucket,
        Key=object_key,
        Body=body,
        ContentType=OBJECT_CONTENT_TYPE,
    )


class BodyGone(LookupError):
    """The record names a body S3 no longer has (past the bucket's lifecycle expiry). Without
    s3:ListBucket, which no function has, S3 answers a missing key with AccessDenied rather than
    NoSuchKey, so on AWS such a body is reported as BodyUnavailable; the bucket keeps bodies a
    day longer than their events (infra/constructs/storage.py), so a readable event has one."""

    aws_code = "NoSuchKey"  # what S3 answered, for the event's history


class BodyUnavailable(ServiceUnavailable):
    """S3 refused or failed the read (throttling, a network error, a missing grant): retry."""

    def __init__(self, aws_code: str) -> None:
        super().__init__("the raw body could not be read; retry later")
        self.aws_code = aws_code  # for the event's history; never the message


def read(object_key: str, byte_range: tuple[int, int] | None = None) -> bytes:
    """One GetObject, of the whole object or of the bytes `byte_range` names (inclusive, as an
    HTTP Range). BodyGone when the object is gone; ServiceUnavailable on any other refusal
    (throttling, a missing grant), which a reader may retry."""
    s3 = client("s3")
    ranged = {} if byte_range is None else {"Range": f"bytes={byte_range[0]}-{byte_range[1]}"}
    try:
        obj = s3.get_object(Bucket=settings().raw_body_bucket, Key=object_key, **ranged)
        return bytes(obj["Body"].read())
    except s3.exceptions.NoSuchKey:
        raise BodyGone(f"raw body {object_key} is gone") from None
    except ClientError as error:
        raise BodyUnavailable(str(error.response.get("Error", {}).get("Code", "error"))) from None
    except BotoCoreError as error:  # no answer: connection, timeout, a response cut short
        raise BodyUnavailable(type(error).__name__) from None


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


def as_bytes(value: Any) -> bytes:
    """A DynamoDB Binary (as boto3 reads it) or bytes, as bytes."""
    return bytes(value.value) if isinstance(value, Binary) else bytes(value)


def deflate(body: bytes) -> bytes:
    # zlib's default level: 9 shrinks JSON no further (4,546 B against 4,547 for a 25 KB push)
    # for twice the CPU.
    packer = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, _RAW_DEFLATE)
    return packer.compress(body) + packer.flush()


class BodyCorrupt(ValueError):
    """An inline value that does not inflate to exactly one whole body."""


def inflate(packed: bytes) -> bytes:
    unpacker = zlib.decompressobj(_RAW_DEFLATE)
    try:
        body = unpacker.decompress(packed, MAX_INFLATED_BYTES)
    except zlib.error:
        raise BodyCorrupt("an inline raw body does not inflate") from None
    if unpacker.unconsumed_tail or unpacker.unused_data or not unpacker.eof:
        raise BodyCorrupt("an inline raw body does not inflate to one whole body")
    return body


def body_of(record: Mapping[str, Any]) -> bytes:
    """An event's raw body wherever it is stored: no call when inline, else one GetObject."""
    deflated = record.get(DEFLATED_ATTRIBUTE)
    if deflated is not None:
        return inflate(as_bytes(deflated))
    inline = record.get(INLINE_ATTRIBUTE)
    if inline is not None:
        return as_bytes(inline)
    object_key = record.get(KEY_ATTRIBUTE)
    if not object_key:
        raise BodyGone(f"event {record.get('event_id')} has no stored raw body")
    return read(str(object_key), range_of(record))


def range_of(record: Mapping[str, Any]) -> tuple[int, int] | None:
    """The body's bytes in a shared object; None when the object is the body's own."""
    shared = record.get(RANGE_ATTRIBUTE)
    return None if shared is None else (int(shared[0]), int(shared[1]))


def has_own_object(record: Mapping[str, Any]) -> bool:
    """Whether a link to the body's object serves this body alone (not a bundle's range)."""
    return bool(record.get(KEY_ATTRIBUTE)) and record.get(RANGE_ATTRIBUTE) is None


def inline_field(body: bytes) -> dict[str, bytes] | None:
    """The record's inline field for `body`: the smaller of it deflated and as sent, when that
    is within INLINE_LIMIT; None when the body must go to S3."""
    packed = deflate(body)
    if len(packed) < len(body) and len(packed) <= INLINE_LIMIT:
        return {DEFLATED_ATTRIBUTE: packed}
    if len(body) <= INLINE_LIMIT:
        return {INLINE_ATTRIBUTE: body}
    return None


def store_bundle(source_id: str, bodies: list[tuple[str, bytes]]) -> dict[str, dict[str, Any]]:
    """Store several bodies of one source in ONE object, one after the other; per event id, the
    record's location fields (the object's key and the body's byte range). S3 bills a PUT per
    request whatever its size: ten bodies in one cost a tenth. The bodies are one source's (one
    tenant's), and an event's view never links the shared object (`has_own_object`): each
    reader asks S3 for its own range. AWS calls: 1 PutObject."""
    object_key = bundle_key(source_id)
    put(object_key, b"".join(body for _, body in bodies))
    fields: dict[str, dict[str, Any]] = {}
    start = 0
    for event_id, body in bodies:
        fields[event_id] = {
            KEY_ATTRIBUTE: object_key,
            RANGE_ATTRIBUTE: [start, start + len(body) - 1],
        }
        start += len(body)
    return fields


def store(source_id: str, event_id: str, body: bytes, *, inline: bool) -> dict[str, bytes | str]:
    """Store a body (inline: nothing to call; else one PutObject of its own); the record's
    location field. Inline, when asked and `inline_field` finds it small enough."""
    field = inline_field(body) if inline else None
    if field is not None:
        return dict(field)
    object_key = key(source_id, event_id)
    put(object_key, body)
    return {KEY_ATTRIBUTE: object_key}
