"""Raw inbound bodies in S3, kept byte for byte: written at receipt, read by processing and by a
forward's delivery, linked from an event's detail by a presigned GET.

Stored as `application/octet-stream` whatever the sender said: a presigned link must never serve
a sender's `text/html` as a page of ours (the content type is kept on the event record).
"""

from __future__ import annotations

from shared.core.aws import client
from shared.core.config import settings

OBJECT_CONTENT_TYPE = "application/octet-stream"
LINK_SECONDS = 900


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
