"""Signed pagination cursors: a list accepts only the cursors it issued, to that caller.

A cursor is `<payload>.<mac>`: the payload is the opaque position (base64url JSON) and the mac an
HMAC-SHA256 over the list's scope (which list, the acting user, its filters) and the payload. The
scope itself is not in the cursor: the list recomputes it from the request, so a cursor carried
to another list, another user or other filters — or made by hand — fails the check and is
answered 422 `invalid_cursor`, never handed to DynamoDB.

The key is derived from the deployment's bootstrap admin key (Secrets Manager), so every function
instance of one deployment agrees on it and no other deployment can mint its cursors. Replacing
that secret (README: Operations) invalidates cursors handed out before, which only means a client
starts its listing again.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from typing import Any

from shared.core.errors import InvalidRequest
from shared.store.admin_key import bootstrap_admin_key

Scope = Mapping[str, str | None]
KEY_LABEL = b"serverless-webhooks/pagination-cursor/v1"
# Only when no admin key secret is configured (a bare test process): unforgeable, per process.
_PROCESS_KEY = os.urandom(32)


def invalid_cursor() -> InvalidRequest:
    return InvalidRequest(
        "cursor is not valid for this list: pass the next_cursor this list returned, "
        "with the same filters",
        code="invalid_cursor",
        details=[{"field": "query.cursor", "message": "not a cursor of this list"}],
    )


def _signing_key() -> bytes:
    """AWS calls: one GetSecretValue per container every 300 s (the admin key's cache, shared
    with the API key check); none otherwise."""
    admin_key = bootstrap_admin_key()
    if not admin_key:
        return _PROCESS_KEY
    return hmac.new(admin_key.encode(), KEY_LABEL, hashlib.sha256).digest()


def _mac(scope: Scope, payload: str) -> str:
    message = json.dumps(dict(scope), sort_keys=True, separators=(",", ":")).encode()
    digest = hmac.new(_signing_key(), message + b"\n" + payload.encode(), hashlib.sha256)
    return _b64(digest.digest())


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def seal(position: dict[str, Any], scope: Scope) -> str:
    """The cursor for `position` (JSON-able), valid only for `scope`."""
    payload = _b64(json.dumps(position, sort_keys=True, separators=(",", ":")).encode())
    return f"{payload}.{_mac(scope, payload)}"


def open_cursor(cursor: str, scope: Scope) -> dict[str, Any]:
    """The position inside a cursor this scope issued; `invalid_cursor` for anything else."""
    payload, _, mac = cursor.partition(".")
    if not payload.isascii() or not mac.isascii():
        raise invalid_cursor()
    if not hmac.compare_digest(_mac(scope, payload).encode(), mac.encode()):
        raise invalid_cursor()
    try:
        position = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError) as error:
        raise invalid_cursor() from error
    if not isinstance(position, dict):
        raise invalid_cursor()
    return position
