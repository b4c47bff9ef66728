"""API keys and who may act for whom: the one access check of every `/v1` route.

Keys are issued once as `wk_<random>`, stored only as a SHA-256 hash, with a role. The API
function checks the key itself (no API Gateway authorizer, so no second Lambda invocation per
request). A looked-up key is trusted per container for `WEBHOOKS_API_KEY_CACHE_SECONDS`, the
revocation delay (README: Architecture, "API keys are checked in the function"). AWS calls per
request: none with the key cached, else one DynamoDB GetItem (plus one Secrets Manager read per
container every 300 s for the bootstrap admin key).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from shared.core import clock, ids
from shared.core.config import settings
from shared.core.errors import Forbidden, InvalidRequest, NotFound, Unauthorized
from shared.core.patterns import USER_ID_RULE, is_valid_user_id
from shared.store import admin_key as admin_key_store
from shared.store import api_keys

USER_ID_PARAMETER = "user_id"

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


@dataclass(frozen=True)
class Actor:
    """The account a request acts on, and the key that asked."""

    caller: Principal
    user_id: str
    named_in_query: bool

    def for_body(self, body_user_id: str | None) -> str:
        """Publish may name its user in the body too; query and body must then agree."""
        if body_user_id is None:
            return self.user_id
        if self.named_in_query and body_user_id != self.user_id:
            raise InvalidRequest(
                "the query and the body name different users: name the user once",
                details=[{"field": "body.user_id", "message": "differs from query.user_id"}],
            )
        return acting_user(self.caller, body_user_id)


def requested_user(query: Mapping[str, str] | None) -> str | None:
    """The `?user_id=` of a request, if any (an empty value is still a value)."""
    return (query or {}).get(USER_ID_PARAMETER)


def acting_user(caller: Principal, requested: str | None) -> str:
    """Admins may act for another user; anyone may name themselves; others get 403."""
    if requested is None or requested == caller.user_id:
        return caller.user_id
    if not caller.is_admin:
        raise Forbidden("only an admin API key may act for another user")
    return requested


def admit(headers: Mapping[str, str], query: Mapping[str, str] | None, *, admin: bool) -> Actor:
    """Who may call at all, decided before the input is looked at (README: Architecture).

    401 without a valid key; 403 for a user key on an admin route or naming another user; 422
    for an impossible `?user_id=`, or any `?user_id=` on an admin route (which never acts for a
    user: the parameter is refused, not silently ignored).
    """
    caller = authenticate(dict(headers))
    requested = requested_user(query)
    if admin:
        return _admin_actor(caller, requested)
    owner = acting_user(caller, requested)
    if requested is not None and not is_valid_user_id(owner):
        raise InvalidRequest(
            USER_ID_RULE, details=[{"field": "query.user_id", "message": "not a valid user id"}]
        )
    return Actor(caller=caller, user_id=owner, named_in_query=requested is not None)


def _admin_actor(caller: Principal, requested: str | None) -> Actor:
    if not caller.is_admin:
        raise Forbidden("this route needs an admin API key")
    if requested is not None:
        raise InvalidRequest(
            "admin routes do not act for a user: leave out user_id",
            details=[{"field": "query.user_id", "message": "not accepted on admin routes"}],
        )
    return Actor(caller=caller, user_id=caller.user_id, named_in_query=False)
