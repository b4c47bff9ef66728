"""API keys and who may act for whom: the one access check of every `/v1` route.

Keys are issued once as `wk_<random>`, stored only as a SHA-256 hash, with a role. Portal
sessions (`wps_<random>`, README "Consumer portal") are keys of the same table with the `user`
role and an `expires_at` (epoch seconds, the table's TTL attribute); one is refused once past it,
whether or not DynamoDB has swept it yet, and even from the cache. The API function checks the
key itself (no API Gateway authorizer, so no second Lambda invocation per
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
PORTAL_TOKEN_PREFIX = "wps_"
PORTAL_LINK_EXPIRED = "this portal link has expired: ask for a new link"
PORTAL_LINK_UNKNOWN = "this portal link has expired or is not valid: ask for a new link"
# Valid keys are remembered briefly per container; a revoked key stops working within this.
_key_cache: dict[str, tuple[float, Principal]] = {}


@dataclass(frozen=True)
class Principal:
    user_id: str
    role: Role
    key_id: str
    expires_at: float | None = None  # portal sessions only (epoch seconds)

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_portal_session(self) -> bool:
        return self.expires_at is not None

    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= clock.now()


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
    return _unexpired(key, _looked_up(key))


def _looked_up(key: str) -> Principal:
    """The key's principal, from the cache or one GetItem."""
    key_hash = hash_key(key)
    cached = _key_cache.get(key_hash)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    record = api_keys.get_by_hash(key_hash)
    if not record:
        if key.startswith(PORTAL_TOKEN_PREFIX):  # swept by the TTL, or never issued
            raise Unauthorized(PORTAL_LINK_UNKNOWN, code="session_expired")
        raise Unauthorized("invalid API key")
    principal = _principal(record)
    _key_cache[key_hash] = (time.monotonic() + settings().api_key_cache_seconds, principal)
    return principal


def _principal(record: dict[str, Any]) -> Principal:
    expires_at = record.get("expires_at")
    return Principal(
        user_id=record["user_id"],
        role=record["role"],
        key_id=record["key_id"],
        expires_at=float(expires_at) if isinstance(expires_at, int | float) else None,
    )


def _unexpired(key: str, principal: Principal) -> Principal:
    """Checked on every use, cached or not: the cache must not outlive a session."""
    if principal.expired():
        _key_cache.pop(hash_key(key), None)
        raise Unauthorized(PORTAL_LINK_EXPIRED, code="session_expired")
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


def create_portal_session(
    caller: Principal, user_id: str, ttl_seconds: int, base_url: str
) -> dict[str, Any]:
    """A short-lived `user`-role token for `user_id`'s portal page (README "Consumer portal").

    A portal session may not create another (it would extend itself). The plain token is in
    this answer only; the table keeps its hash, and its TTL removes the record once expired.
    AWS calls: one PutItem.
    """
    if caller.is_portal_session:
        raise Forbidden("a portal session cannot create portal sessions")
    if user_id == ids.OPS_USER_ID:
        raise InvalidRequest(
            f"{ids.OPS_USER_ID} is reserved for operational events: no portal acts as it",
            details=[{"field": "body.user_id", "message": "reserved user id"}],
        )
    plain = PORTAL_TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires_at = int(clock.now()) + ttl_seconds
    api_keys.put(
        {
            "key_hash": hash_key(plain),
            "key_id": ids.new_id("ps"),
            "user_id": user_id,
            "role": "user",
            "created_at": clock.iso(),
            "expires_at": expires_at,
        }
    )
    return {
        "token": plain,
        "url": f"{base_url}/portal#token={plain}",
        "expires_at": clock.iso(expires_at),
    }


def end_portal_session(caller: Principal) -> None:
    """Sign-out: the session's own record goes, so its token stops working at once in this
    container and, in the others, when their key cache expires (WEBHOOKS_API_KEY_CACHE_SECONDS,
    as for a revoked key). Only a session ends itself: API keys are revoked by an admin.
    AWS calls: one Query (the key id index) and one DeleteItem.
    """
    if not caller.is_portal_session:
        raise Forbidden(
            "only a portal session can end itself; an admin revokes API keys "
            "(DELETE /v1/admin/api-keys/{key_id})"
        )
    revoke_key(caller.key_id)


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
