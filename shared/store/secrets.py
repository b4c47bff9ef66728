"""Versioned secrets with a grace window, in Secrets Manager: users' `whcms_` signing secrets and
inbound sources' provider secrets. One concept (`VersionedSecret`): the current secret plus,
during a grace window, the previous one and when it expires, stored as JSON in one secret.

User secrets, `{prefix}/users/<user id, escaped>/signing`: each write is a new Secrets Manager
version whose VersionId we choose; which version is live is in the user's account record
(shared/store/accounts.py). Only the API writes: it makes the secret with the user's first webhook,
their first forwarding source, or their first GET /v1/secret (whichever comes first), and rotates
it. The delivery worker only reads (its role may do nothing else): the account record arrives with
the batch's one BatchGetItem (shared/outbound/worker.py `load_batch`), and the secret is cached per
container under the version it was read for, so a rotation reaches the very next attempt while a
warm attempt costs no call here. A rotation writes the new version first and makes it live second.
If the second write fails the rotation answers an error and every reader keeps the version its users
were shown.

Source secrets, `{prefix}/sources/<source id>`: the provider's secret, never returned by the API
and never logged. Written by the API (create, rotate, delete); read by the inbound function
(one GetSecretValue per cold source lookup, cached by shared/inbound/sources.py).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import string
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from shared.core import clock
from shared.core.aws import client
from shared.core.config import settings
from shared.core.errors import Conflict
from shared.core.observability import logger
from shared.store import accounts

SECRET_PREFIX = "whcms_"
# Secrets Manager names allow letters, digits and /_+=.@- and at most 512 characters
# (https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html).
NAME_KEPT = frozenset(string.ascii_letters + string.digits + "_.@-")
NAME_ESCAPE = "="
NAME_HASHED = "+"
MAX_NAME_LENGTH = 512
DELIVERY_CACHE_SIZE = 4096


@dataclass(frozen=True)
class VersionedSecret:
    """A secret and, during its grace window, the previous one; `repr` shows no secret."""

    secret: str = field(repr=False)
    created_at: str
    previous: str | None = field(default=None, repr=False)
    previous_expires_at: str | None = None
    version: str | None = None  # the Secrets Manager VersionId that holds it (user secrets)

    def active_secrets(self, at: float | None = None) -> list[str]:
        """Secrets valid now (to sign or to verify): current first, then a still-valid previous."""
        moment = clock.now() if at is None else at
        secrets = [self.secret]
        if (
            self.previous
            and self.previous_expires_at
            and clock.parse_iso(self.previous_expires_at) > moment
        ):
            secrets.append(self.previous)
        return secrets

    def rotated(self, new_secret: str, grace_seconds: int) -> VersionedSecret:
        """The successor: `new_secret` current, this one still valid for `grace_seconds`
        (0, or the same secret again: no previous)."""
        keep = grace_seconds > 0 and new_secret != self.secret
        return VersionedSecret(
            secret=new_secret,
            created_at=clock.iso(),
            previous=self.secret if keep else None,
            previous_expires_at=clock.iso(clock.now() + grace_seconds) if keep else None,
            version=str(uuid.uuid4()),
        )

    def public_view(self) -> dict[str, Any]:
        expires = self.previous_expires_at if len(self.active_secrets()) > 1 else None
        return {
            "secret": self.secret,
            "created_at": self.created_at,
            "previous_expires_at": expires,
        }


class SecretMissing(Exception):
    """The user has no signing secret (only the API makes one): nothing can be signed for them."""


def new_signing_secret() -> str:
    """`whcms_` + STANDARD base64 of 32 random bytes (Standard Webhooks libraries decode that)."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


# Names --------------------------------------------------------------------------------------------


def _escape(user_id: str) -> str:
    """Letters, digits and `_.@-` kept; any other character as `=XX` per UTF-8 byte.

    Reversible (`=` itself is escaped), so two user ids never share a name; and ids that were
    already valid names keep the name their secret always had.
    """
    return "".join(
        char
        if char in NAME_KEPT
        else "".join(f"{NAME_ESCAPE}{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))
        for char in user_id
    )


def user_secret_name(user_id: str, prefix: str | None = None) -> str:
    """The user's secret name: always a valid Secrets Manager name, never another user's.

    An id whose escaped name would pass 512 characters is named by `+` and its SHA-256 instead
    (`+` is never part of an escaped id, so the two forms cannot meet).
    """
    base = f"{settings().secret_prefix if prefix is None else prefix}/users/"
    escaped = _escape(user_id)
    name = f"{base}{escaped}/signing"
    if escaped and len(name) <= MAX_NAME_LENGTH:
        return name
    digest = hashlib.sha256(user_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{base}{NAME_HASHED}{digest}/signing"


# Storage ------------------------------------------------------------------------------------------


def _parse(raw: str, version: str | None) -> VersionedSecret:
    data = json.loads(raw)
    return VersionedSecret(
        secret=str(data["secret"]),
        # Source secrets written before one store held both kinds named it `updated_at`.
        created_at=str(data.get("created_at") or data.get("updated_at") or ""),
        previous=data.get("previous"),
        previous_expires_at=data.get("previous_expires_at"),
        version=version,
    )


def _serialize(value: VersionedSecret) -> str:
    return json.dumps(
        {
            "secret": value.secret,
            "created_at": value.created_at,
            "previous": value.previous,
            "previous_expires_at": value.previous_expires_at,
        }
    )


def _read(user_id: str, version: str | None) -> VersionedSecret | None:
    """That version of the user's secret (None: the AWSCURRENT one); None if there is none."""
    secrets_manager = client("secretsmanager")
    pinned = {"VersionId": version} if version else {}
    try:
        response = secrets_manager.get_secret_value(SecretId=user_secret_name(user_id), **pinned)
    except secrets_manager.exceptions.ResourceNotFoundException:
        return None
    return _parse(response["SecretString"], response.get("VersionId"))


def _create(user_id: str) -> VersionedSecret:
    made = VersionedSecret(new_signing_secret(), clock.iso(), version=str(uuid.uuid4()))
    secrets_manager = client("secretsmanager")
    try:
        secrets_manager.create_secret(
            Name=user_secret_name(user_id),
            SecretString=_serialize(made),
            Description=f"Webhook signing secret of user {user_id}",
            ClientRequestToken=made.version,
        )
    except secrets_manager.exceptions.ResourceExistsException:
        # Another request created it first: theirs wins.
        found = _read(user_id, None)
        if found is None:
            raise
        return found
    return made


# Management (the API) -----------------------------------------------------------------------------


def get_or_create(user_id: str) -> VersionedSecret:
    """The live secret, made now if the user has none (a fresh read: management routes)."""
    live = accounts.secret_version(user_id)
    if live is not None:
        found = _read(user_id, live)
        if found is not None:
            return found
    return _make_live(user_id, replacing=live)


def ensure(user_id: str) -> None:
    """Make the user's secret before anything is queued for them (one GetItem once it exists).

    Called where deliveries become possible: a new webhook, a new forwarding source.
    """
    if accounts.secret_version(user_id) is None:
        _make_live(user_id, replacing=None)


def _make_live(user_id: str, replacing: str | None) -> VersionedSecret:
    """Adopt the secret's current version (one made before account records) or create one."""
    found = _read(user_id, None) or _create(user_id)
    if found.version and accounts.set_secret_version(user_id, found.version, replacing=replacing):
        return found
    # Another request made a version live meanwhile: theirs wins.
    live = accounts.secret_version(user_id)
    winner = _read(user_id, live) if live else None
    if winner is None:
        raise RuntimeError("the user's live signing secret cannot be read")
    return winner


def rotate(user_id: str, grace_seconds: int) -> VersionedSecret:
    """A new live secret; the replaced one still signs for `grace_seconds` (0: never again).

    Made live only if the live version is still the one it replaces: of two rotations at the
    same moment one wins and the other is a conflict, never a secret that was shown but unused.
    """
    current = get_or_create(user_id)
    rotated = current.rotated(new_signing_secret(), grace_seconds)
    client("secretsmanager").put_secret_value(
        SecretId=user_secret_name(user_id),
        SecretString=_serialize(rotated),
        ClientRequestToken=rotated.version,
    )
    if not accounts.set_secret_version(user_id, str(rotated.version), replacing=current.version):
        raise Conflict("the secret was rotated by another request at the same time: read it again")
    return rotated


# Delivery (the worker: reads only) ----------------------------------------------------------------

_cache: OrderedDict[str, tuple[str | None, VersionedSecret]] = OrderedDict()
_cache_lock = threading.Lock()


def for_delivery(user_id: str, live_version: str | None) -> VersionedSecret:
    """The secret to sign with; `live_version` is the account record's (None: no record yet).

    Cached per container under the version it was read for: no call while the version holds,
    one GetSecretValue after a rotation changed it. Never creates anything.
    """
    with _cache_lock:
        cached = _cache.get(user_id)
        if cached is not None and cached[0] == live_version:
            _cache.move_to_end(user_id)
            return cached[1]
    found = _read(user_id, live_version)
    if found is None:
        logger.error(
            "delivery not signed: the user has no signing secret (the API makes it with their "
            "first webhook, forwarding source or GET /v1/secret); SQS will retry the message",
            extra={"user_id": user_id, "secret_version": live_version},
        )
        raise SecretMissing(f"user {user_id} has no signing secret")
    with _cache_lock:
        _cache[user_id] = (live_version, found)
        _cache.move_to_end(user_id)
        while len(_cache) > DELIVERY_CACHE_SIZE:
            _cache.popitem(last=False)
    return found


def clear_caches() -> None:
    with _cache_lock:
        _cache.clear()


# Source secrets (the API writes, the inbound function reads) --------------------------------------


def source_secret_name(source_id: str) -> str:
    """Named by the source id alone (`src_` + ULID: always a valid name, no user id in it)."""
    return f"{settings().secret_prefix}/sources/{source_id}"


def create_for_source(source_id: str, secret: str) -> VersionedSecret:
    """One CreateSecret."""
    made = VersionedSecret(secret=secret, created_at=clock.iso())
    client("secretsmanager").create_secret(
        Name=source_secret_name(source_id),
        SecretString=_serialize(made),
        Description=f"Provider signing secret of inbound source {source_id}",
    )
    return made


def read_for_source(source_id: str) -> VersionedSecret | None:
    """One GetSecretValue; None when the source has no secret."""
    secrets_manager = client("secretsmanager")
    try:
        response = secrets_manager.get_secret_value(SecretId=source_secret_name(source_id))
    except secrets_manager.exceptions.ResourceNotFoundException:
        return None
    return _parse(response["SecretString"], response.get("VersionId"))


def rotate_for_source(source_id: str, new_secret: str, grace_seconds: int) -> VersionedSecret:
    """The provider's new secret becomes current; the old one verifies for `grace_seconds` more.
    One GetSecretValue and one PutSecretValue."""
    current = read_for_source(source_id)
    if current is None:
        return create_for_source(source_id, new_secret)
    rotated = current.rotated(new_secret, grace_seconds)
    client("secretsmanager").put_secret_value(
        SecretId=source_secret_name(source_id),
        SecretString=_serialize(rotated),
        ClientRequestToken=rotated.version,
    )
    return rotated


def delete_for_source(source_id: str) -> None:
    """Deleted at once (no recovery window): a deleted source verifies nothing."""
    secrets_manager = client("secretsmanager")
    with contextlib.suppress(secrets_manager.exceptions.ResourceNotFoundException):
        secrets_manager.delete_secret(
            SecretId=source_secret_name(source_id), ForceDeleteWithoutRecovery=True
        )
