"""Receive provider webhooks (verify, dedupe, enqueue) and process them from the queue.

Receipt (`receive`), in this order of cost:
1. size check and source lookup (the source and its secret are cached per container);
2. signature verification on the exact raw bytes (no AWS call);
3. one conditional PutItem claims the dedupe key under its own TTL (`shared/store/receipts.py`);
   a taken key hands back the first event id: a duplicate costs this single call;
4. one SendMessage: the event record and the raw body ride in the inbound queue message, which
   SQS keeps durably (a body too large for a message goes to S3 first, one PutObject).
A warm new event therefore costs 2 AWS calls, a duplicate 1. Should the send fail, the claim
is given back (best effort) and the provider is asked to retry (`ServiceUnavailable`). Nothing
is processed inline (the Slack URL challenge is the one exception). `receive` answers a result
(`Received`, `Challenge`) or raises a domain error; functions/inbound/handler.py maps them.

Any body that verifies is stored and acknowledged, whatever it holds: reading it (JSON, a form,
see `body`) never raises, and nothing unreadable reaches DynamoDB (lone surrogates, for one, have
no UTF-8 form: such a payload stays in the raw body only).

Processing (`process`, the inbound queue consumer) runs the handlers registered for (provider,
type), forwards the original body to the source's `forward_url` through the outbound delivery
machinery, and writes the event once: `processed`, or `failed` with the reason in its history
(SQS retries a failing handler, but not a body that cannot be read: it never will). On an
event's first run that one UpdateItem creates the record, with its raw body inline when small
(else in S3: one PutObject per source for a batch's large bodies, `bundle_bodies`; see
`shared/store/raw_bodies.py`). Until then the event is in the queue,
not in the events table (README, "Inbound webhooks").
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from shared.core import clock, ids
from shared.core.config import settings
from shared.core.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
    Unauthorized,
)
from shared.core.observability import logger as log
from shared.inbound import InboundEvent, providers, sources
from shared.inbound.body import BodyNotReadable, Decoded, decode, utf8_storable, utf8_text
from shared.outbound import publishing
from shared.store import dynamo, raw_bodies, receipts
from shared.store import events as events_table
from shared.store.queues import send

MAX_BODY_BYTES = 1024 * 1024
PAYLOAD_LIMIT = 256 * 1024
MAX_PAYLOAD_DEPTH = 30  # DynamoDB nests at most 32 levels; the item itself is one
MAX_RESULT_BYTES = 8 * 1024
# SQS takes messages of up to 256 KiB; what the record needs beside the body stays well below
# the margin (headers are cut to API Gateway's own limits).
QUEUE_MESSAGE_LIMIT = 256 * 1024 - 16 * 1024
MESSAGE_KIND = "inbound_event"
# Headers that carry credentials of their own are not kept on the event record.
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
# Nor those that say nothing about the sender the record does not: the API's own host, the
# length (`size_bytes`), and what API Gateway adds about itself (its trace id, the port and
# scheme it was called on; `x-forwarded-for`, the sender's address, is kept). DynamoDB bills
# the record by the KB, and these are 150 to 200 bytes of every event.
EDGE_HEADERS = frozenset(
    {"host", "content-length", "x-amzn-trace-id", "x-forwarded-port", "x-forwarded-proto"}
)
DROPPED_HEADERS = CREDENTIAL_HEADERS | EDGE_HEADERS
SAFE_CONTENT_TYPE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"
DEFAULT_DEDUPE_TTL_SECONDS = 604800
HEADERS_DEFLATED = "headers_deflated"
# On a record whose body is in S3: the body reads as the payload the API shows (inline bodies
# always do). Without it a view need not fetch the body to find it shows none.
PAYLOAD_IN_BODY = "payload_in_body"

Handler = Callable[[InboundEvent], Any]
HandlerLookup = Callable[[str, str], Sequence[Handler]]


class InvalidSignature(Unauthorized):
    """The same refusal whatever failed: a prober learns nothing from it."""

    code = "invalid_signature"


@dataclass(frozen=True)
class Received:
    """A verified webhook: queued under `event_id` (new) or the first copy's id (`duplicate`)."""

    event_id: str
    duplicate: bool


@dataclass(frozen=True)
class Challenge:
    """A Slack URL verification, answered inline with its challenge."""

    challenge: str


TOO_LARGE = "request body is larger than 1 MB"
UNKNOWN_SOURCE = "no such inbound source"
BAD_SIGNATURE = "the webhook signature could not be verified"
NOT_STORED = "the webhook could not be stored; retry later"


def _error_code(error: Exception) -> str:
    """An AWS error code (`NoSuchKey`: botocore's, or the one a storage error kept as
    `aws_code`), or the exception's class name; never its message."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    code = code or getattr(error, "aws_code", None)
    return code if isinstance(code, str) and code else type(error).__name__


# Receipt -----------------------------------------------------------------------------------------


def normalize_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Lower-case names, string values (API Gateway HTTP APIs already join repeats with commas)."""
    return {str(name).lower(): str(value) for name, value in headers.items()}


def storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers kept on the event: not DROPPED_HEADERS, only text DynamoDB can store."""
    return {
        utf8_text(name): utf8_text(value)
        for name, value in headers.items()
        if name not in DROPPED_HEADERS
    }


def _depth_within(value: Any, limit: int) -> bool:
    if limit < 0:
        return False
    if isinstance(value, dict):
        return all(_depth_within(item, limit - 1) for item in value.values())
    if isinstance(value, list):
        return all(_depth_within(item, limit - 1) for item in value)
    return True


def storable_payload(body: bytes, decoded: Decoded) -> Any:
    """What the event shows as `payload`: a form's fields, else the JSON, when it is small and
    DynamoDB can hold it (None otherwise: the raw body is always kept)."""
    parsed = decoded.form if decoded.form is not None else decoded.json
    if parsed is None or len(body) > PAYLOAD_LIMIT:
        return None
    if not _depth_within(parsed, MAX_PAYLOAD_DEPTH) or not utf8_storable(parsed):
        return None
    try:
        dynamo.to_value(parsed)
    except Exception:  # numbers beyond DynamoDB's range or precision, empty keys...
        return None
    return parsed


def _content_type(headers: Mapping[str, str]) -> str:
    value = headers.get("content-type", "").strip()
    return value if SAFE_CONTENT_TYPE.match(value) else DEFAULT_CONTENT_TYPE


def verify_settings(record: Mapping[str, Any]) -> providers.VerifySettings:
    signature = record.get("signature")
    return providers.VerifySettings(
        provider=str(record["provider"]),
        tolerance_seconds=int(record.get("tolerance_seconds") or 300),
        rule=providers.HmacRule.from_config(signature) if signature else None,
    )


def queue_message(user_id: str, event_id: str, source_id: str, run_id: str) -> dict[str, Any]:
    """A run's message; a first run's also carries `record` and the body (`first_run_message`)."""
    return {
        "kind": MESSAGE_KIND,
        "user_id": user_id,
        "event_id": event_id,
        "source_id": source_id,
        "run_id": run_id,
    }


def receive(source_id: str, headers: Mapping[str, Any], body: bytes) -> Received | Challenge:
    """Verify, dedupe and enqueue one provider webhook; never processes it inline.

    Raises PayloadTooLarge, NotFound (unknown source), InvalidSignature, ServiceUnavailable.
    """
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(TOO_LARGE)
    source = sources.for_receipt(source_id)
    if source is None:
        raise NotFound(UNKNOWN_SOURCE)
    lowered = normalize_headers(headers)
    _verify(source, lowered, body)
    provider = str(source.record["provider"])
    decoded = decode(body, _content_type(lowered))
    challenge = _slack_challenge(provider, decoded)
    if challenge is not None:
        return Challenge(challenge)
    event_type = providers.event_type(provider, lowered, decoded.document)
    return _claim_and_queue(
        source, lowered, body, event_type, _dedupe_key(source, lowered, decoded, body)
    )


def _verify(source: sources.ReceiptSource, headers: dict[str, str], body: bytes) -> None:
    moment = clock.now()
    secrets = source.secret.active_secrets(moment) if source.secret else []
    if not providers.verify(verify_settings(source.record), secrets, headers, body, moment):
        log.info("inbound signature rejected", extra={"source_id": source.source_id})
        raise InvalidSignature(BAD_SIGNATURE)


def _slack_challenge(provider: str, decoded: Decoded) -> str | None:
    if provider != "slack" or not decoded.has_json:
        return None
    return providers.slack_challenge(decoded.json)


def _dedupe_key(
    source: sources.ReceiptSource, headers: dict[str, str], decoded: Decoded, body: bytes
) -> str:
    rule = source.record.get("dedupe") or {}
    value = providers.dedupe_value(
        str(source.record["provider"]), headers, decoded.document, body, rule.get("key")
    )
    return f"inbound#{source.source_id}#{value}"


def new_record(
    source: sources.ReceiptSource,
    event_id: str,
    headers: dict[str, str],
    body: bytes,
    event_type: str,
) -> dict[str, Any]:
    """The event record as received (no payload, no body yet: processing adds them). Only what
    the API shows or processing needs: DynamoDB bills each write by the KB."""
    user_id, now = source.user_id, clock.iso()
    return {
        "user_id": user_id,
        "event_id": event_id,
        "direction": "inbound",
        "type": event_type,
        "created_at": now,
        "source_id": source.source_id,
        "provider": source.record["provider"],
        "headers": storable_headers(headers),
        "content_type": _content_type(headers),
        "size_bytes": len(body),
        **events_table.index_attributes(user_id, "inbound", event_id=event_id),
    }


def first_run_message(record: dict[str, Any], run_id: str, body: bytes) -> dict[str, Any]:
    """The queue message of a new event: the record and the body (base64), or the body's S3 key
    when it would not fit in a message (then stored first: one PutObject)."""
    message = queue_message(record["user_id"], record["event_id"], record["source_id"], run_id)
    message["record"] = dict(record)
    message["body"] = base64.b64encode(body).decode()
    if len(json.dumps(message)) <= QUEUE_MESSAGE_LIMIT:
        return message
    del message["body"]
    message["record"].update(
        raw_bodies.store(record["source_id"], record["event_id"], body, inline=False)
    )
    return message


def _claim_and_queue(
    source: sources.ReceiptSource,
    headers: dict[str, str],
    body: bytes,
    event_type: str,
    dedupe_key: str,
) -> Received:
    event_id = ids.new_id("evt")
    ttl = int(source.record.get("dedupe_ttl_seconds") or DEFAULT_DEDUPE_TTL_SECONDS)
    owner = {"user_id": source.user_id, "source_id": source.source_id}
    claim = receipts.claim(dedupe_key, ttl, event_id, owner)
    if claim.duplicate:
        log.info(
            "inbound duplicate",
            extra={"source_id": source.source_id, "event_id": claim.first_event_id},
        )
        return Received(str(claim.first_event_id), duplicate=True)
    record = new_record(source, event_id, headers, body, event_type)
    try:
        send(settings().inbound_queue_url, first_run_message(record, ids.new_id("run"), body))
    except Exception as error:
        log.error(
            "inbound event could not be stored or queued; giving its dedupe key back",
            extra={
                "source_id": source.source_id,
                "event_id": event_id,
                "error": _error_code(error),
            },
        )
        _release(dedupe_key, event_id)
        raise ServiceUnavailable(NOT_STORED) from None
    log.info(
        "inbound received",
        extra={"source_id": source.source_id, "event_id": event_id, "event_type": event_type},
    )
    return Received(event_id, duplicate=False)


def _release(dedupe_key: str, event_id: str) -> None:
    try:
        receipts.release(dedupe_key, event_id)
    except Exception as error:
        # The provider's retry will be answered as a duplicate of an event that was never
        # queued; the dedupe key expires with its TTL.
        log.error(
            "could not give an inbound dedupe key back",
            extra={"event_id": event_id, "error": _error_code(error)},
        )


# Processing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One processing run of an event. `fields` is the record itself on the event's first run
    (then written with the outcome, so that one write creates it), empty on a replay."""

    user_id: str
    event_id: str
    run_id: str
    fields: dict[str, Any]


def _json_safe(value: Any) -> Any:
    """A handler's result as plain JSON DynamoDB can hold, cut down when it is large."""
    try:
        text = json.dumps(value, default=str, allow_nan=False)
    except (TypeError, ValueError, RecursionError):
        return {"unserializable": type(value).__name__}
    if len(text) > MAX_RESULT_BYTES:
        return {"truncated": True, "bytes": len(text)}
    plain = json.loads(text)
    if not utf8_storable(plain):
        return {"unstorable": True}
    try:
        dynamo.to_value(plain)
    except Exception:
        return {"unstorable": True}
    return plain


def handler_name(handler: Handler) -> str:
    module = getattr(handler, "__module__", "")
    name = getattr(handler, "__qualname__", type(handler).__name__)
    return f"{module}.{name}" if module else str(name)


def load_batch(messages: list[Any]) -> dynamo.Shelf:
    """The records and sources of a whole processor batch in one eventually consistent
    BatchGetItem, each key once (`dynamo.shelve_batch`: a batch from one source reads its source
    once, 11 keys for 10 events, not 20). AWS calls: 1 BatchGetItem; 2 when a source or a
    replayed record is missing."""
    return dynamo.shelve_batch(messages, _keys)


def load(
    message: Mapping[str, Any], shelf: dynamo.Shelf | None = None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The event (if written yet) and its source: from the batch's `shelf` when it read them,
    else in one eventually consistent BatchGetItem of its own (half the read units of a strong
    one; the worker reads so too: shared/outbound/worker.py `load`).

    A first run expects no record yet (its message carries it); a source, or the record a replay
    names, that the read misses is read again strongly before it is called gone. A redelivered
    first-run message read a moment after its run ended may run its handlers once more (they run
    at least once, as with any SQS consumer); its record's one write keeps the outcome.
    AWS calls: none from a shelf; else 1 BatchGetItem, 2 when a source or a replayed record is
    missing.
    """
    keys, optional = _keys(message)
    if shelf is None or not shelf.holds(keys):
        shelf = dynamo.shelve(keys, optional=optional)
    config = settings()
    event = shelf.take(config.events_table, keys[config.events_table][0])
    source = shelf.take(config.sources_table, keys[config.sources_table][0])
    return event, source


def _keys(message: Mapping[str, Any]) -> dynamo.Reads:
    """The keys `load` reads (the record, the source) and those that may not exist yet (a first
    run's record)."""
    config = settings()
    record = events_table.key(message["user_id"], message["event_id"], "inbound")
    keys = {
        config.events_table: [record],
        config.sources_table: [{"source_id": message["source_id"]}],
    }
    return keys, [(config.events_table, record)] if message.get("record") else []


def _inbound_event(
    event: Mapping[str, Any], source: Mapping[str, Any] | None, body: bytes
) -> InboundEvent:
    return InboundEvent(
        event_id=event["event_id"],
        user_id=event["user_id"],
        source_id=event["source_id"],
        provider=str(event.get("provider") or (source or {}).get("provider") or ""),
        type=event["type"],
        headers=headers_of(event),
        body=body,
        content_type=str(event.get("content_type") or ""),
        received_at=event["created_at"],
    )


def unreadable_reason(inbound: InboundEvent) -> str | None:
    """Why a provider that only sends JSON (or a form holding it) sent a body that is neither."""
    if inbound.provider not in providers.JSON_PROVIDERS:
        return None  # Shopify XML, custom formats: the handlers read the raw bytes
    return inbound.decoded.error


class BodyNotStored(Exception):
    """Its batch's shared object could not be stored (the AWS error code): SQS retries it."""


@dataclass(frozen=True)
class Bundled:
    """Bodies a batch stored together before its records ran (`bundle_bodies`): per event id,
    the record's location fields, or the error that stopped their one PutObject."""

    fields: dict[str, dict[str, Any]]
    failed: dict[str, Exception]


NOTHING_BUNDLED = Bundled({}, {})


def bundle_bodies(messages: list[Any], shelf: dynamo.Shelf) -> Bundled:
    """Store the bodies of a processor batch that go to S3, one object per source for all of
    them (`raw_bodies.store_bundle`): ten large bodies cost one PutObject, not ten. A body goes
    there when it is a first run's, readable as the payload the API shows, and too large inline
    even deflated; a body alone in its source, or that the API must link (not readable), gets
    its own object when its record runs. AWS calls: 1 PutObject per source with two or more."""
    groups: dict[str, dict[str, bytes]] = {}
    for message in messages:
        candidate = _bundle_candidate(message, shelf)
        if candidate is not None:  # two copies of one message: its body once
            groups.setdefault(str(message["source_id"]), {}).setdefault(*candidate)
    fields: dict[str, dict[str, Any]] = {}
    failed: dict[str, Exception] = {}
    for source_id, bodies in groups.items():
        if len(bodies) < 2:
            continue
        try:
            fields.update(raw_bodies.store_bundle(source_id, list(bodies.items())))
        except Exception as error:
            failed.update({event_id: error for event_id in bodies})
    return Bundled(fields, failed)


def _bundle_candidate(message: Any, shelf: dynamo.Shelf) -> tuple[str, bytes] | None:
    """(event id, body) of a first run whose body goes to S3; None for any other message (a
    malformed one included: it fails on its own run)."""
    try:
        first = message.get("record")
        if first is None or message.get("body") is None:
            return None
        keys, _ = _keys(message)
        events = settings().events_table
        if not shelf.holds(keys) or shelf.take(events, keys[events][0]) is not None:
            return None  # not read with the batch, or a copy of a run whose record exists
        body = base64.b64decode(message["body"])
        if len(body) <= raw_bodies.INLINE_LIMIT or raw_bodies.inline_field(body) is not None:
            return None
        readable = storable_payload(body, decode(body, str(first.get("content_type") or "")))
        return (str(message["event_id"]), body) if readable is not None else None
    except Exception:
        return None


def process(
    message: Mapping[str, Any],
    handlers_for: HandlerLookup,
    shelf: dynamo.Shelf | None = None,
    bundled: Bundled = NOTHING_BUNDLED,
) -> str:
    """Run the registered handlers, forward, record the outcome in one write.

    `processed`; or `failed` when the body cannot be read (recorded with the reason and not
    raised: SQS must not retry what can never succeed). Raises when a handler fails otherwise or
    the raw body cannot be fetched or stored, so that SQS retries the message.
    AWS calls: its share of the batch's one BatchGetItem (`load_batch`; its own when alone), the
    body's (none when it rides in the message and is stored inline; else one PutObject or
    GetObject), the forward's, one UpdateItem.
    """
    stored, source = load(message, shelf)
    first = message.get("record")
    if stored is None and first is None:
        return "missing"  # a replay of an event that is gone: nothing to do
    run_id = str(message.get("run_id") or "")
    if stored is not None and run_id and _finished(stored, run_id):
        return "skipped"  # SQS delivered this run's message again after it was finished
    event: dict[str, Any] = {**(first or {}), **(stored or {})}
    run, inbound = _begin(message, event, stored, source, bundled)
    reason = unreadable_reason(inbound)
    if reason is not None:
        _record_failure(run, reason, retryable=False)
        return "failed"
    results = _run_handlers(run, inbound, handlers_for)
    if results is None:
        return "failed"
    _finish(run, event, source, results)
    return "processed"


def _finished(stored: Mapping[str, Any], run_id: str) -> bool:
    """Whether a run has ended: its latest entry in the event's history is `processed`, or a
    failure retrying cannot fix. A retryable failure reopens it; a replay is a run of its own,
    so a late copy of an earlier run's message stays skipped after one."""
    for entry in reversed(stored.get("history") or []):
        if entry.get("run_id") == run_id:
            action = entry.get("action")
            return action == "processed" or (action == "failed" and entry.get("retryable") is False)
    return False


def _begin(
    message: Mapping[str, Any],
    event: dict[str, Any],
    stored: Mapping[str, Any] | None,
    source: Mapping[str, Any] | None,
    bundled: Bundled,
) -> tuple[Run, InboundEvent]:
    """The run and what its handlers see. A first run (its message carries the record) keeps the
    record's fields to write with its outcome, and stores the body where it will live."""
    first = message.get("record")
    fields = _as_stored(first) if first is not None and stored is None else {}
    run = Run(event["user_id"], event["event_id"], str(message.get("run_id") or ""), fields)
    inbound = _inbound_event(event, source, _raw_body(message, event, run))
    if first is not None and (stored is None or not raw_bodies.is_stored(stored)):
        run = replace(run, fields={**fields, **_body_fields(run, event, inbound, bundled)})
    return run, inbound


def _as_stored(record: Mapping[str, Any]) -> dict[str, Any]:
    """A first run's record as written: its headers deflated when that is smaller (a provider's
    headers are ~0.5 KB, mostly names and ids, of a record DynamoDB bills by the KB)."""
    stored = dict(record)
    headers = stored.get("headers")
    if not headers:
        return stored
    packed = raw_bodies.deflate(json.dumps(headers, separators=(",", ":")).encode())
    # DynamoDB sizes a map as 3 bytes + per entry 1 + its name + its value; a Binary by its bytes.
    as_map = 3 + sum(1 + len(k.encode()) + len(str(v).encode()) for k, v in headers.items())
    if len(packed) + len(HEADERS_DEFLATED) - len("headers") < as_map:
        del stored["headers"]
        stored[HEADERS_DEFLATED] = packed
    return stored


def headers_of(record: Mapping[str, Any]) -> dict[str, str]:
    """An inbound event's headers as kept: a map, or deflated JSON (`_as_stored`); none when a
    deflated value does not read back (only our code writes it)."""
    packed = record.get(HEADERS_DEFLATED)
    if packed is None:
        return {str(name): str(value) for name, value in (record.get("headers") or {}).items()}
    try:
        headers = json.loads(raw_bodies.inflate(raw_bodies.as_bytes(packed)))
    except (raw_bodies.BodyCorrupt, ValueError):
        return {}
    if not isinstance(headers, dict):
        return {}
    return {str(name): str(text) for name, text in headers.items()}


def _raw_body(message: Mapping[str, Any], event: Mapping[str, Any], run: Run) -> bytes:
    """The body from the message (a first run), else where the record says it is stored; a
    failure to fetch it is recorded on the event, then retried."""
    if message.get("body") is not None:
        return base64.b64decode(message["body"])
    try:
        return raw_bodies.body_of(event)
    except Exception as error:
        _record_failure(run, f"raw body could not be read: {_error_code(error)}", retryable=True)
        raise


def _body_fields(
    run: Run, event: Mapping[str, Any], inbound: InboundEvent, bundled: Bundled
) -> dict[str, Any]:
    """Where a first run keeps the raw body: inline when it is readable as the payload and small
    (deflated, `raw_bodies.store`), else in S3: in its batch's shared object (`bundle_bodies`),
    or in its own (a body too large for the queue message is there already). The body is the one
    copy: the payload the API shows is read from it (`payload_of`), never written beside it,
    since DynamoDB bills each write by the KB of the whole item."""
    readable = storable_payload(inbound.body, inbound.decoded) is not None
    shown = {PAYLOAD_IN_BODY: True} if readable else {}
    if raw_bodies.is_stored(event):
        return shown
    if inbound.event_id in bundled.fields:
        return {**bundled.fields[inbound.event_id], **shown}
    failure = bundled.failed.get(inbound.event_id)
    if failure is not None:
        _record_failure(
            run, f"raw body could not be stored: {_error_code(failure)}", retryable=True
        )
        raise BodyNotStored(_error_code(failure))
    try:
        where = raw_bodies.store(inbound.source_id, inbound.event_id, inbound.body, inline=readable)
    except Exception as error:
        _record_failure(run, f"raw body could not be stored: {_error_code(error)}", retryable=True)
        raise
    return where if raw_bodies.is_inline(where) else {**where, **shown}


def payload_of(record: Mapping[str, Any]) -> Any:
    """What an inbound event shows as `payload`: its raw body read as its content type says
    (a form's fields, else the JSON), when small and plain enough (`storable_payload`), else
    None. Records written before bodies were kept once still carry a `payload` of their own.
    AWS calls: none for an inline body; one S3 GetObject for a body stored there."""
    if record.get("payload") is not None:
        return record.get("payload")
    if not (raw_bodies.is_inline(record) or record.get(PAYLOAD_IN_BODY)):
        return None  # a body in S3 that reads as no payload: no call to find that out again
    try:
        body = raw_bodies.body_of(record)
    except (raw_bodies.BodyGone, raw_bodies.BodyCorrupt):
        return None
    return storable_payload(body, decode(body, str(record.get("content_type") or "")))


def _run_handlers(
    run: Run, inbound: InboundEvent, handlers_for: HandlerLookup
) -> list[dict[str, Any]] | None:
    """Each matching handler's result; None when one found the body unreadable (recorded)."""
    results: list[dict[str, Any]] = []
    for handler in handlers_for(inbound.provider, inbound.type):
        try:
            outcome = handler(inbound)
        except BodyNotReadable as error:
            _record_failure(run, str(error), retryable=False, handler=handler)
            return None
        except Exception as error:
            _record_failure(run, type(error).__name__, retryable=True, handler=handler)
            raise
        results.append({"handler": handler_name(handler), "result": _json_safe(outcome)})
    return results


def _finish(
    run: Run,
    event: Mapping[str, Any],
    source: Mapping[str, Any] | None,
    results: list[dict[str, Any]],
) -> None:
    """Record `processed`, then queue the forward (its worker reads the record's body). Should
    the forward not be queued, the run is reopened so that SQS's retry forwards it."""
    forward = _forward_delivery(event, source)
    _record_processed(run, results, forward["delivery_id"] if forward else None)
    if forward is None:
        return
    try:
        publishing.deliver([forward])
    except Exception as error:
        _record_failure(run, f"forward not queued: {_error_code(error)}", retryable=True)
        raise


def _record_processed(run: Run, results: list[dict[str, Any]], forward_id: str | None) -> None:
    now = clock.iso()
    entry: dict[str, Any] = {
        "at": now,
        "action": "processed",
        "run_id": run.run_id,
        "handler_results": results,
    }
    if forward_id:
        entry["forward_delivery_id"] = forward_id
    # The results are kept once, in the history entry: DynamoDB bills the record by the KB.
    sets: dict[str, Any] = {"status": "processed"}
    _write(run, sets, entry)


def _write(run: Run, sets: dict[str, Any], entry: dict[str, Any]) -> None:
    """The run's one write; a first run's also creates the record."""
    receipts.record(run.user_id, run.event_id, {**run.fields, **sets}, entry)


def _forward_delivery(
    event: Mapping[str, Any], source: Mapping[str, Any] | None
) -> dict[str, Any] | None:
    """The delivery of the original body to the source's forward_url (signed by the worker)."""
    url = (source or {}).get("forward_url")
    if not url:
        return None
    return publishing.new_delivery(
        user_id=event["user_id"],
        event_id=event["event_id"],
        event_type=event["type"],
        url=str(url),
        webhook_id=None,
        target="forward",
        source_id=event["source_id"],
    )


def _record_failure(
    run: Run,
    error: str,
    *,
    retryable: bool,
    handler: Handler | None = None,
) -> None:
    """`failed` with the reason in the history. A failure that retrying cannot fix also ends
    the run (`_finished`), so a redelivered copy of its message is skipped; a retryable one
    reopens it."""
    now = clock.iso()
    entry: dict[str, Any] = {
        "at": now,
        "action": "failed",
        "run_id": run.run_id,
        "error": error,
        "retryable": retryable,
    }
    if handler is not None:
        entry["handler"] = handler_name(handler)
    sets: dict[str, Any] = {"status": "failed", "last_error": error}
    log.warning(
        "inbound processing failed; SQS will retry the message"
        if retryable
        else "inbound body cannot be read; recorded as failed, not retried",
        extra={"event_id": run.event_id, "handler": entry.get("handler"), "error": error},
    )
    try:
        _write(run, sets, entry)
    except Exception as update_error:
        if not retryable:
            raise  # unrecorded, the failure must be retried rather than lost
        log.warning(  # the original failure is what SQS must see
            "could not record an inbound failure",
            extra={"event_id": run.event_id, "error": type(update_error).__name__},
        )


# Replay ------------------------------------------------------------------------------------------


def replay(user_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Process an inbound event again from its stored raw body (through the queue).

    The record says `received` before the message is sent: a processor quick enough to finish
    the run first must not have its outcome overwritten. Two calls: UpdateItem, SendMessage.
    """
    if not raw_bodies.is_stored(record):
        raise Conflict(f"event {record['event_id']} has no stored body to replay")
    run_id, now = ids.new_id("run"), clock.iso()
    events_table.update(
        user_id,
        record["event_id"],
        "inbound",
        {"status": "received"},
        appends={"history": [{"at": now, "action": "replay", "run_id": run_id}]},
    )
    message = queue_message(user_id, record["event_id"], str(record.get("source_id")), run_id)
    try:
        send(settings().inbound_queue_url, message)
    except Exception as error:
        run = Run(user_id, str(record["event_id"]), run_id, {})
        _record_failure(run, f"replay not queued: {_error_code(error)}", retryable=True)
        raise
    return {"event_id": record["event_id"], "status": "queued"}
