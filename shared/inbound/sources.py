"""Inbound sources: create, read, change, delete; the receipt path's cached lookup.

A source's provider secret is a versioned secret (shared/store/secrets.py, the same store as the
users' signing secrets): the current secret and, during a provider-side rotation, the previous
one with its expiry. It is never returned by the API and never logged; the source record keeps
only the non-secret facts about it (when it changed, until when the previous one verifies).

The inbound path reads a source and its secret through `for_receipt`, a per-container cache
(60 s): a warm receipt costs no lookup at all. A change made here is seen at once by this
container and within the cache time by the others; a previous secret kept for a grace window
keeps verifying meanwhile, so providers switching secrets are never refused.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from shared.core import clock, ids
from shared.core.config import settings
from shared.core.errors import InvalidRequest, NotFound
from shared.core.observability import logger as log
from shared.store import secrets
from shared.store import sources as table

if TYPE_CHECKING:  # pydantic stays off the inbound receipt's cold start
    from shared.schemas.requests import SourceCreate, SourceUpdate

DEFAULT_SECRET_GRACE_SECONDS = 86400
RECEIPT_CACHE_SIZE = 1024
SOURCE_ID = re.compile(r"src_[0-9A-Z]{26}")  # fullmatch: `$` lets a trailing newline in
PUBLIC_FIELDS = (
    "name",
    "provider",
    "signature",
    "tolerance_seconds",
    "dedupe",
    "dedupe_ttl_seconds",
    "forward_url",
)
NOT_NULL_ON_UPDATE = ("name", "tolerance_seconds", "dedupe_ttl_seconds", "secret")


@dataclass(frozen=True)
class ReceiptSource:
    """What the inbound path needs: the source record and its secrets."""

    record: dict[str, Any]
    secret: secrets.VersionedSecret | None

    @property
    def source_id(self) -> str:
        return str(self.record["source_id"])

    @property
    def user_id(self) -> str:
        return str(self.record["user_id"])


def inbound_url(source_id: str) -> str:
    """Where the provider sends: the API's route, or the inbound function's own URL when the
    stack has one (README: Deploying to AWS); the path is the same."""
    return f"{settings().inbound_base_url}/inbound/{source_id}"


def public_view(record: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {"id": record["source_id"]}
    for name in PUBLIC_FIELDS:
        view[name] = record.get(name)
    if view["signature"]:
        # Stored without its null fields (DynamoDB); shown with every field. Imported here, not at
        # the top: pydantic stays off the inbound receipt's cold start.
        from shared.schemas.requests import HmacSignatureRule

        view["signature"] = HmacSignatureRule.model_validate(view["signature"]).model_dump()
    view["inbound_url"] = inbound_url(record["source_id"])
    previous_expires = record.get("previous_secret_expires_at")
    if previous_expires and clock.parse_iso(previous_expires) <= clock.now():
        previous_expires = None
    view["secret_updated_at"] = record.get("secret_updated_at")
    view["previous_secret_expires_at"] = previous_expires
    view["created_at"] = record["created_at"]
    view["updated_at"] = record["updated_at"]
    return view


# Management --------------------------------------------------------------------------------------


def create(user_id: str, body: SourceCreate) -> dict[str, Any]:
    _ensure_signing_secret(user_id, body.forward_url)
    now = clock.iso()
    source_id = ids.new_id("src")
    given = body.model_dump(mode="json", exclude={"secret"})
    record = {
        "source_id": source_id,
        "user_id": user_id,
        **given,
        "secret_updated_at": now,
        "created_at": now,
        "updated_at": now,
    }
    secrets.create_for_source(source_id, body.secret)
    try:
        table.put(record)
    except Exception:
        _delete_secret(source_id)
        raise
    return public_view(record)


def get_record(user_id: str, source_id: str) -> dict[str, Any]:
    record = table.get_owned(user_id, source_id) if SOURCE_ID.fullmatch(source_id) else None
    if record is None:
        raise NotFound(f"source {source_id} not found")
    return record


def get(user_id: str, source_id: str) -> dict[str, Any]:
    return public_view(get_record(user_id, source_id))


def list_page(user_id: str, limit: int, cursor: str | None) -> dict[str, Any]:
    records, next_cursor = table.list_page(user_id, limit, cursor)
    return {"data": [public_view(record) for record in records], "next_cursor": next_cursor}


def _invalid(field_name: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, details=[{"field": f"body.{field_name}", "message": message}])


def update(user_id: str, source_id: str, body: SourceUpdate) -> dict[str, Any]:
    """Check the change, rotate the provider secret if a new one is given, write the record."""
    record = get_record(user_id, source_id)
    given = body.model_dump(mode="json", exclude_unset=True)
    _check_update(str(record["provider"]), given, body)
    _ensure_signing_secret(user_id, given.get("forward_url"))
    now = clock.iso()
    changes, removals = _record_changes(given)
    if body.secret is not None:
        grace = body.secret_grace_seconds
        rotated = secrets.rotate_for_source(
            source_id, body.secret, DEFAULT_SECRET_GRACE_SECONDS if grace is None else grace
        )
        _secret_facts(rotated, now, changes, removals)
    changes["updated_at"] = now
    updated = table.update(user_id, source_id, changes, removals)
    forget(source_id)
    if updated is None:
        raise NotFound(f"source {source_id} not found")
    return public_view(updated)


def _check_update(provider: str, given: dict[str, Any], body: SourceUpdate) -> None:
    """The rules a partial change must keep; raises InvalidRequest naming the field."""
    for name in NOT_NULL_ON_UPDATE:
        if name in given and given[name] is None:
            raise _invalid(name, f"{name} cannot be null")
    if provider == "hmac" and "signature" in given and given["signature"] is None:
        raise _invalid("signature", "signature cannot be removed from an hmac source")
    # Imported here: pydantic stays off the inbound receipt's cold start.
    from shared.schemas.requests import SourceSettingError, check_source_settings

    try:
        check_source_settings(provider, body.secret, body.signature, body.dedupe)
    except SourceSettingError as error:
        raise _invalid(error.field, str(error)) from None


def _record_changes(given: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(attributes to set, attributes to remove) of the record; the secret is not on it."""
    secret_fields = ("secret", "secret_grace_seconds")
    changes = {
        name: value
        for name, value in given.items()
        if value is not None and name not in secret_fields
    }
    removals = [name for name, value in given.items() if value is None]
    return changes, removals


def _secret_facts(
    rotated: secrets.VersionedSecret, now: str, changes: dict[str, Any], removals: list[str]
) -> None:
    """The non-secret facts of a rotation, kept on the record for the API to show."""
    changes["secret_updated_at"] = now
    if rotated.previous_expires_at:
        changes["previous_secret_expires_at"] = rotated.previous_expires_at
    else:
        removals.append("previous_secret_expires_at")


def _ensure_signing_secret(user_id: str, forward_url: str | None) -> None:
    """Forwarded bodies are signed with the owner's `whcms_` secret, which the delivery worker
    may only read: make it before a forward can be queued."""
    if forward_url:
        secrets.ensure(user_id)


def delete(user_id: str, source_id: str) -> None:
    if not SOURCE_ID.fullmatch(source_id) or not table.delete(user_id, source_id):
        raise NotFound(f"source {source_id} not found")
    forget(source_id)
    _delete_secret(source_id)


def _delete_secret(source_id: str) -> None:
    try:
        secrets.delete_for_source(source_id)
    except Exception as error:  # the source is gone either way; an orphan secret verifies nothing
        log.warning(
            "could not delete a source secret",
            extra={"source_id": source_id, "error": type(error).__name__},
        )


# Receipt-time lookup (cached per container) ------------------------------------------------------

_cache: OrderedDict[str, tuple[float, ReceiptSource | None]] = OrderedDict()
_cache_lock = threading.Lock()


def for_receipt(source_id: str) -> ReceiptSource | None:
    """The source and its secret for the inbound path; None for an unknown source.

    Cold: one GetItem and one GetSecretValue. Warm (within `WEBHOOKS_SOURCE_CACHE_SECONDS`,
    60 s by default): no AWS call. Another container learns of a deletion or a new provider
    secret when its entry expires; the two-secret window covers a provider's rotation.
    """
    if not SOURCE_ID.fullmatch(source_id):
        return None
    moment = time.monotonic()
    with _cache_lock:
        cached = _cache.get(source_id)
        if cached and cached[0] > moment:
            _cache.move_to_end(source_id)
            return cached[1]
    record = table.get(source_id)
    found = ReceiptSource(record, _read_secret(source_id)) if record else None
    with _cache_lock:
        _cache[source_id] = (moment + settings().source_cache_seconds, found)
        _cache.move_to_end(source_id)
        while len(_cache) > RECEIPT_CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def _read_secret(source_id: str) -> secrets.VersionedSecret | None:
    found = secrets.read_for_source(source_id)
    if found is None:
        log.warning("source has no provider secret", extra={"source_id": source_id})
    return found


def forget(source_id: str) -> None:
    with _cache_lock:
        _cache.pop(source_id, None)


def clear_cache() -> None:
    with _cache_lock:
        _cache.clear()
