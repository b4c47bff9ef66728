"""API keys: issued once as `wk_<random>`, stored only as a SHA-256 hash, with a role."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any, Literal

from shared.core import clock, ids
from shared.core.config import settings
from shared.core.errors import NotFound, Unauthorized
from shared.store import admin_key as admin_key_store
from shared.store import api_keys

Role = Literal["user", "admin"]
BOOTSTRAP_ADMIN_USER = "admin"
# Valid keys are remembered briefly per container; a revoked key stops working within this.
_key_cache: dict[str, tuple[float, Principal]] = {}


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    key_id: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def hash_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()


def extract_key(headers: dict[str, str]) -> str | None:
    """`x-api-key: <key>` or `Authorization: Bearer <key>` (header names case-insensitive)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    key = lowered.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, token = lowered.get("authorization", "").strip().partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def authenticate(headers: dict[str, str]) -> Principal:
    key = extract_key(headers)
    if not key:
        raise Unauthorized("missing API key: send x-api-key or Authorization: Bearer")
    admin_key = admin_key_store.bootstrap_admin_key()
    if admin_key and hmac.compare_digest(key.encode(), admin_key.encode()):
        return Principal(user_id=BOOTSTRAP_ADMIN_USER, role="admin", key_id="key_bootstrap")
    key_hash = hash_key(key)
    cached = _key_cache.get(key_hash)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    record = api_keys.get_by_hash(key_hash)
    if not record:
        raise Unauthorized("invalid API key")
    principal = Principal(user_id=record["user_id"], role=record["role"], key_id=record["key_id"])
    _key_cache[key_hash] = (time.monotonic() + settings().api_key_cache_seconds, principal)
    return principal


def create_key(user_id: str, role: Role) -> dict[str, Any]:
    """Issue a key; the plain key is in this answer only."""
    plain = "wk_" + secrets.token_urlsafe(32)
    record = {
        "key_hash": hash_key(plain),
        "key_id": ids.new_id("key"),
        "user_id": user_id,
        "role": role,
        "created_at": clock.iso(),
    }
    api_keys.put(record)
    return {
        "id": record["key_id"],
        "api_key": plain,
        "user_id": user_id,
        "role": role,
        "created_at": record["created_at"],
    }


def revoke_key(key_id: str) -> None:
    record = api_keys.get_by_id(key_id)
    if not record:
        raise NotFound(f"API key {key_id} not found")
    api_keys.delete(record["key_hash"])
    _key_cache.pop(record["key_hash"], None)


def reset_caches() -> None:
    admin_key_store.reset_cache()
    _key_cache.clear()
