"""Receive provider webhooks (verify, dedupe, store, enqueue) and process them from the queue.

Receipt, in this order of cost:
1. size check and source lookup (the source and its secret are cached per container);
2. signature verification on the exact raw bytes (no AWS call);
3. one TransactWriteItems: claim the dedupe key under TTL and write the event record; a taken
   key cancels it and hands back the first event id: a duplicate costs this single call;
4. S3 PutObject of the raw bytes, then SQS SendMessage to the inbound queue.
A warm new event therefore costs 3 AWS calls, a duplicate 1. Should S3 or SQS fail after the
transaction, the claim and the event are undone (best effort) and the answer is a 503, so the
provider retries. Nothing is processed inline (the Slack URL challenge is the one exception).

Any body that verifies is stored and acknowledged, whatever it holds: reading it (JSON, a form,
see `body`) never raises, and nothing unreadable reaches DynamoDB (lone surrogates, for one, have
no UTF-8 form: such a payload stays in the raw body only).

Processing (the inbound queue consumer) runs the handlers registered for (provider, type),
then forwards the original body to the source's `forward_url` through the outbound delivery
machinery, and moves the event from `received` to `processed`, or to `failed` with the reason in
its history: SQS retries a failing handler, but not a body that cannot be read (it never will).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.core import clock, ids
from shared.core.config import settings
from shared.core.errors import Conflict
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
MESSAGE_KIND = "inbound_event"
# Headers that carry credentials of their own are not kept on the event record.
DROPPED_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key"}
)
SAFE_CONTENT_TYPE = re.compile(r"^[\x21-\x7e][\x20-\x7e]{0,254}$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"

Handler = Callable[[InboundEvent], Any]
HandlerLookup = Callable[[str, str], Sequence[Handler]]


@dataclass(frozen=True)
class Answer:
    """The HTTP answer to a provider: status, JSON body, extra headers."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def _error(status: int, code: str, message: str, **headers: str) -> Answer:
    return Answer(status, {"error": {"code": code, "message": message}}, dict(headers))


TOO_LARGE = _error(413, "payload_too_large", "request body is larger than 1 MB")
UNKNOWN_SOURCE = _error(404, "not_found", "no such inbound source")
INVALID_SIGNATURE = _error(401, "invalid_signature", "the webhook signature could not be verified")
UNAVAILABLE = _error(
    503,
    "service_unavailable",
    "the webhook could not be stored; retry later",
    **{"Retry-After": "5"},
)


# Receipt -----------------------------------------------------------------------------------------


def normalize_headers(headers: Mapping[str, Any]) -> dict[str, str]:
    """Lower-case names, string values (API Gateway HTTP APIs already join repeats with commas)."""
    return {str(name).lower(): str(value) for name, value in headers.items()}


def storable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers kept on the event: no credentials, only text DynamoDB can store."""
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
    return {
        "kind": MESSAGE_KIND,
        "user_id": user_id,
        "event_id": event_id,
        "source_id": source_id,
        "run_id": run_id,
    }


def receive(source_id: str, headers: Mapping[str, Any], body: bytes) -> Answer:
    """Verify, dedupe, store and enqueue one provider webhook; never processes it inline."""
    if len(body) > MAX_BODY_BYTES:
        return TOO_LARGE
    source = sources.for_receipt(source_id)
    if source is None:
        return UNKNOWN_SOURCE
    record = source.record
    lowered = normalize_headers(headers)
    moment = clock.now()
    secrets = source.secret.active_secrets(moment) if source.secret else []
    if not providers.verify(verify_settings(record), secrets, lowered, body, moment):
        log.info("inbound signature rejected", extra={"source_id": source_id})
        return INVALID_SIGNATURE
    provider = str(record["provider"])
    decoded = decode(body, _content_type(lowered))
    if provider == "slack" and decoded.has_json:
        challenge = providers.slack_challenge(decoded.json)
        if challenge is not None:
            return Answer(200, {"challenge": challenge})
    document = decoded.document
    event_type = providers.event_type(provider, lowered, document)
    rule = record.get("dedupe") or {}
    dedupe_key = f"inbound#{source_id}#" + providers.dedupe_value(
        provider, lowered, document, body, rule.get("key")
    )
    return _store(source, lowered, body, decoded, event_type, dedupe_key)


def _store(
    source: sources.ReceiptSource,
    headers: dict[str, str],
    body: bytes,
    decoded: Decoded,
    event_type: str,
    dedupe_key: str,
) -> Answer:
    user_id, source_id = source.user_id, source.source_id
    event_id = ids.new_id("evt")
    run_id = ids.new_id("run")
    now = clock.iso()
    content_type = _content_type(headers)
    event = {
        "user_id": user_id,
        "event_id": event_id,
        "direction": "inbound",
        "type": event_type,
        "status": "received",
        "created_at": now,
        "updated_at": now,
        "source_id": source_id,
        "provider": source.record["provider"],
        "headers": storable_headers(headers),
        "payload": storable_payload(body, decoded),
        "raw_s3_key": raw_bodies.key(source_id, event_id),
        "content_type": content_type,
        "size_bytes": len(body),
        "dedupe_key": dedupe_key,
        "run_id": run_id,
        "history": [],
        **events_table.index_attributes(
            user_id, "inbound", event_type, event_id=event_id, source_id=source_id
        ),
    }
    ttl = int(source.record.get("dedupe_ttl_seconds") or 604800)
    owner = {"user_id": user_id, "source_id": source_id}
    try:
        claim = receipts.claim_and_record(dedupe_key, ttl, event, owner)
    except receipts.PayloadNotStorable:
        claim = receipts.claim_and_record(dedupe_key, ttl, {**event, "payload": None}, owner)
    if claim.duplicate:
        log.info(
            "inbound duplicate",
            extra={"source_id": source_id, "event_id": claim.first_event_id},
        )
        return Answer(200, {"received": True, "event_id": claim.first_event_id, "duplicate": True})
    try:
        raw_bodies.put(event["raw_s3_key"], body)
        send(settings().inbound_queue_url, queue_message(user_id, event_id, source_id, run_id))
    except Exception as error:
        log.error(
            "inbound event could not be stored or queued; undoing its receipt",
            extra={"source_id": source_id, "event_id": event_id, "error": type(error).__name__},
        )
        _undo(dedupe_key, user_id, event_id)
        return UNAVAILABLE
    log.info(
        "inbound received",
        extra={"source_id": source_id, "event_id": event_id, "event_type": event_type},
    )
    return Answer(200, {"received": True, "event_id": event_id, "duplicate": False})


def _undo(dedupe_key: str, user_id: str, event_id: str) -> None:
    try:
        receipts.undo(dedupe_key, user_id, event_id)
    except Exception as error:
        # The provider's retry will be answered as a duplicate of an event without a body;
        # the event record (if it survived) shows it, and the dedupe key expires with its TTL.
        log.error(
            "could not undo an inbound receipt",
            extra={"event_id": event_id, "error": type(error).__name__},
        )


# Processing --------------------------------------------------------------------------------------


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


def load(message: Mapping[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The event and its source in one BatchGetItem."""
    config = settings()
    found = dynamo.batch_get(
        {
            config.events_table: [events_table.key(message["user_id"], message["event_id"])],
            config.sources_table: [{"source_id": message["source_id"]}],
        }
    )
    event = found[config.events_table]
    source = found[config.sources_table]
    return (event[0] if event else None), (source[0] if source else None)


def _raw_body(event: Mapping[str, Any], run_id: str) -> bytes:
    """The stored raw body; a failure to fetch it is recorded on the event, then retried."""
    try:
        return raw_bodies.read(event["raw_s3_key"])
    except Exception as error:
        reason = f"raw body could not be read: {_error_code(error)}"
        _record_failure(event, run_id, reason, retryable=True)
        raise


def _error_code(error: Exception) -> str:
    """An AWS error code (`NoSuchKey`) or the exception's class name; never its message."""
    response = getattr(error, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return str(code) if code else type(error).__name__


def _inbound_event(
    event: Mapping[str, Any], source: Mapping[str, Any] | None, body: bytes
) -> InboundEvent:
    return InboundEvent(
        event_id=event["event_id"],
        user_id=event["user_id"],
        source_id=event["source_id"],
        provider=str(event.get("provider") or (source or {}).get("provider") or ""),
        type=event["type"],
        headers=dict(event.get("headers") or {}),
        body=body,
        content_type=str(event.get("content_type") or ""),
        received_at=event["created_at"],
    )


def unreadable_reason(inbound: InboundEvent) -> str | None:
    """Why a provider that only sends JSON (or a form holding it) sent a body that is neither."""
    if inbound.provider not in providers.JSON_PROVIDERS:
        return None  # Shopify XML, custom formats: the handlers read the raw bytes
    return inbound.decoded.error


def process(message: Mapping[str, Any], handlers_for: HandlerLookup) -> str:
    """Run the registered handlers, forward, record the outcome.

    `processed`; or `failed` when the body cannot be read (recorded with the reason and not
    raised: SQS must not retry what can never succeed). Raises when a handler fails otherwise or
    the raw body cannot be fetched, so that SQS retries the message.
    """
    event, source = load(message)
    if event is None:
        return "missing"  # the event was deleted (or its receipt undone): nothing to do
    run_id = str(message.get("run_id") or "")
    if run_id and event.get("processed_run") == run_id:
        return "skipped"  # SQS delivered this run's message again after it was finished
    inbound = _inbound_event(event, source, _raw_body(event, run_id))
    reason = unreadable_reason(inbound)
    if reason is not None:
        _record_failure(event, run_id, reason, retryable=False)
        return "failed"
    results = _run_handlers(event, run_id, inbound, handlers_for)
    if results is None:
        return "failed"
    _record_processed(event, run_id, results, _forward(event, source))
    return "processed"


def _run_handlers(
    event: Mapping[str, Any], run_id: str, inbound: InboundEvent, handlers_for: HandlerLookup
) -> list[dict[str, Any]] | None:
    """Each matching handler's result; None when one found the body unreadable (recorded)."""
    results: list[dict[str, Any]] = []
    for handler in handlers_for(inbound.provider, inbound.type):
        try:
            outcome = handler(inbound)
        except BodyNotReadable as error:
            _record_failure(event, run_id, str(error), retryable=False, handler=handler)
            return None
        except Exception as error:
            _record_failure(event, run_id, type(error).__name__, retryable=True, handler=handler)
            raise
        results.append({"handler": handler_name(handler), "result": _json_safe(outcome)})
    return results


def _record_processed(
    event: Mapping[str, Any], run_id: str, results: list[dict[str, Any]], forward_id: str | None
) -> None:
    now = clock.iso()
    entry: dict[str, Any] = {
        "at": now,
        "action": "processed",
        "run_id": run_id,
        "handler_results": results,
    }
    if forward_id:
        entry["forward_delivery_id"] = forward_id
    sets: dict[str, Any] = {
        "status": "processed",
        "processed_at": now,
        "updated_at": now,
        "processed_run": run_id,
        "handler_results": results,
    }
    events_table.update(event["user_id"], event["event_id"], sets, appends={"history": [entry]})


def _forward(event: Mapping[str, Any], source: Mapping[str, Any] | None) -> str | None:
    """Queue the original body for the source's forward_url (signed by the delivery worker)."""
    url = (source or {}).get("forward_url")
    if not url:
        return None
    delivery = publishing.new_delivery(
        user_id=event["user_id"],
        event_id=event["event_id"],
        event_type=event["type"],
        url=str(url),
        webhook_id=None,
        target="forward",
        source_id=event["source_id"],
    )
    publishing.deliver([delivery])
    return str(delivery["delivery_id"])


def _record_failure(
    event: Mapping[str, Any],
    run_id: str,
    error: str,
    *,
    retryable: bool,
    handler: Handler | None = None,
) -> None:
    """`failed` with the reason in the history. A failure that retrying cannot fix also ends
    the run (`processed_run`), so a redelivered copy of its message is skipped."""
    now = clock.iso()
    entry: dict[str, Any] = {
        "at": now,
        "action": "failed",
        "run_id": run_id,
        "error": error,
        "retryable": retryable,
    }
    if handler is not None:
        entry["handler"] = handler_name(handler)
    sets: dict[str, Any] = {"status": "failed", "updated_at": now, "last_error": error}
    if not retryable:
        sets["processed_run"] = run_id
    log.warning(
        "inbound processing failed; SQS will retry the message"
        if retryable
        else "inbound body cannot be read; recorded as failed, not retried",
        extra={"event_id": event["event_id"], "handler": entry.get("handler"), "error": error},
    )
    try:
        events_table.update(event["user_id"], event["event_id"], sets, appends={"history": [entry]})
    except Exception as update_error:
        if not retryable:
            raise  # unrecorded, the failure must be retried rather than lost
        log.warning(  # the original failure is what SQS must see
            "could not record an inbound failure",
            extra={"event_id": event["event_id"], "error": type(update_error).__name__},
        )


# Replay ------------------------------------------------------------------------------------------


def replay(user_id: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """Process an inbound event again from its stored raw body (through the queue)."""
    if not record.get("raw_s3_key"):
        raise Conflict(f"event {record['event_id']} has no stored body to replay")
    run_id = ids.new_id("run")
    send(
        settings().inbound_queue_url,
        queue_message(user_id, record["event_id"], str(record.get("source_id")), run_id),
    )
    now = clock.iso()
    events_table.update(
        user_id,
        record["event_id"],
        {"status": "received", "updated_at": now, "run_id": run_id},
        appends={"history": [{"at": now, "action": "replay", "run_id": run_id}]},
    )
    return {"event_id": record["event_id"], "status": "queued"}
