"""The event type catalog: what admins declare, what publish checks (README "Event type catalog").

Publish checks every event against the catalog before anything is stored or queued: a type with
a schema must have valid `data` (422 naming `body.data.<path>`, or `body.events.<i>.data.<path>`
in a batch, which is refused whole), and with `WEBHOOKS_STRICT_EVENT_TYPES=1` a type missing from
the catalog is refused too.

AWS-call budget on publish: none on a warm container. The catalog is loaded whole (one Query) at
most once per `WEBHOOKS_EVENT_TYPE_CACHE_SECONDS` (60 s) per container and kept with its compiled
schemas (shared/outbound/event_schemas.py), so a changed schema reaches every container within
that time; the container that changed it sees it at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from shared.core import clock
from shared.core.config import settings
from shared.core.errors import InvalidRequest, NotFound
from shared.core.patterns import is_valid_event_type
from shared.outbound import event_schemas
from shared.store import event_types as store

TYPE_RULE = "event type must look like 'resource.action' (lowercase, dot-separated)"


@dataclass(frozen=True)
class Checked:
    """One event to check: where it sits (`body`, `body.events.3`), its type and its data."""

    location: str
    event_type: str
    data: Any


class _Catalog:
    """The catalog as this container last loaded it, by type."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._types: dict[str, dict[str, Any]] = {}
        self._loaded_at: float | None = None

    def types(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            fresh = self._loaded_at is not None and (
                time.monotonic() - self._loaded_at < settings().event_type_cache_seconds
            )
            if not fresh:
                self._types = {record["type"]: _versioned(record) for record in store.load_all()}
                self._loaded_at = time.monotonic()
            return self._types

    def changed(self, event_type: str, record: dict[str, Any] | None) -> None:
        """This container's own write is seen at once, without a reload."""
        with self._lock:
            if record is None:
                self._types.pop(event_type, None)
            else:
                self._types[event_type] = _versioned(record)

    def forget(self) -> None:
        with self._lock:
            self._loaded_at = None
            self._types = {}


_catalog = _Catalog()


def _versioned(record: dict[str, Any]) -> dict[str, Any]:
    """The record with a digest of its schema: compiled validators are kept per digest, so a
    replaced schema is recompiled even within the same second."""
    text = json.dumps(record.get("schema"), sort_keys=True, separators=(",", ":"))
    return {**record, "schema_digest": hashlib.sha256(text.encode()).hexdigest()}


def _valid_type(event_type: str) -> str:
    if not is_valid_event_type(event_type):
        raise InvalidRequest(
            "invalid event type", details=[{"field": "path.type", "message": TYPE_RULE}]
        )
    return event_type


def put(event_type: str, description: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    """Adds or replaces a type; the schema was checked by the request model."""
    record = store.put(_valid_type(event_type), description, schema, clock.iso())
    _catalog.changed(event_type, record)
    return record


def delete(event_type: str) -> None:
    if not store.delete(_valid_type(event_type)):
        raise NotFound("event type not found")
    _catalog.changed(event_type, None)


def get(event_type: str) -> dict[str, Any]:
    record = store.get(_valid_type(event_type))
    if record is None:
        raise NotFound("event type not found")
    return record


def list_all() -> list[dict[str, Any]]:
    return store.load_all()


def check(events: Sequence[Checked]) -> None:
    """Raises InvalidRequest naming every failing path when any event breaks the catalog."""
    catalog = _catalog.types()
    details: list[dict[str, str]] = []
    for event in events:
        record = catalog.get(event.event_type)
        if record is None:
            if settings().strict_event_types:
                details.append(
                    {
                        "field": f"{event.location}.type",
                        "message": "event type is not in the catalog",
                    }
                )
            continue
        if record.get("schema") is None:
            continue
        for violation in event_schemas.violations(
            event.event_type, record["schema_digest"], record["schema"], event.data
        ):
            details.append(
                {"field": violation.field(f"{event.location}.data"), "message": violation.message}
            )
    if details:
        raise InvalidRequest("event does not match its event type", details=details)


def clear_caches() -> None:
    """Tests: drop this container's copy of the catalog."""
    _catalog.forget()
