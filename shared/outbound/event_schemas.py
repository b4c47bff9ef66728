"""JSON Schemas of the event type catalog: checked when stored, compiled once, applied at publish.

An admin may give an event type a JSON Schema (draft 2020-12; README "Event type catalog");
publishing an event of that type validates its `data` first, and a failure names the JSON path
(`body.data.amount`) with the schema's message.

The validator is `jsonschema_rs` (a compiled Rust validator, already in the dependency tree and
shipped as a manylinux wheel): `make bench` measured its import at ~35 ms against ~120 ms for the
pure-Python `jsonschema` (about one `import boto3`) and ~14 ms for `fastjsonschema`, which stops
at draft 7 and so cannot take the draft the catalog promises. It is imported on the first schema
use only, so a container that never meets a schema never pays it, and the publish handler's
import stays within 1.5 x `import boto3`. In a publish container it adds ~4-9 ms (its import
after the handler's) plus ~0.2 ms to compile a small schema, once (docs/benchmarks.md, the
cold start row for jsonschema_rs; scripts/coldstart.py `validator_cost`). Compiled validators
are kept per container, keyed by the type and a digest of its schema, so a changed schema is
recompiled and an unchanged one never is. Remote `$ref`s are never fetched: a schema is
self-contained.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import jsonschema_rs

MAX_SCHEMA_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 300
_MAX_DETAILS = 10

_cache: dict[tuple[str, str], jsonschema_rs.Validator] = {}
_cache_lock = threading.Lock()


@dataclass(frozen=True)
class SchemaViolation:
    """One way `data` breaks its type's schema: the JSON path inside `data` and why."""

    path: tuple[str | int, ...]
    message: str

    def field(self, prefix: str) -> str:
        """`prefix` + the path, dotted: `body.data.items.0.sku`."""
        return ".".join([prefix, *(str(part) for part in self.path)])


def check(schema: Any) -> dict[str, Any]:
    """The schema if it is a JSON Schema (draft 2020-12) of at most 64 KB, else ValueError."""
    if not isinstance(schema, dict):
        raise ValueError("schema must be a JSON object")
    if len(json.dumps(schema, separators=(",", ":")).encode()) > MAX_SCHEMA_BYTES:
        raise ValueError(f"schema is larger than {MAX_SCHEMA_BYTES // 1024} KB")
    import jsonschema_rs

    try:
        jsonschema_rs.meta.validate(schema)
        _compile(schema)
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as error:
        raise ValueError(f"schema is not a valid JSON Schema: {_message(error)}") from None
    return schema


def violations(
    event_type: str, version: str, schema: dict[str, Any], data: Any
) -> list[SchemaViolation]:
    """How `data` breaks the schema (at most 10 ways), empty when it is valid.

    `version` (a digest of the schema) keys the compiled validator with the type.
    """
    validator = _validator(event_type, version, schema)
    found = []
    for error in validator.iter_errors(data):
        found.append(SchemaViolation(tuple(error.instance_path), _message(error)))
        if len(found) == _MAX_DETAILS:
            break
    return found


def _validator(event_type: str, version: str, schema: dict[str, Any]) -> jsonschema_rs.Validator:
    key = (event_type, version)
    with _cache_lock:
        found = _cache.get(key)
    if found is None:
        found = _compile(schema)
        with _cache_lock:
            _cache[key] = found
    return found


def _compile(schema: dict[str, Any]) -> jsonschema_rs.Validator:
    import jsonschema_rs

    return jsonschema_rs.Draft202012Validator(schema, retriever=_refuse_remote)


def _refuse_remote(uri: str) -> Any:
    raise ValueError(f"remote $ref {uri[:100]} is not fetched; inline it under $defs")


def _message(error: Exception) -> str:
    """The validator's message, first line only (its later lines repeat the instance)."""
    text = getattr(error, "message", None) or str(error)
    return " ".join(text.splitlines()[0].split())[:MAX_MESSAGE_CHARS]
