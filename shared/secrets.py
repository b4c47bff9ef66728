"""Per-user `whcms_` signing secrets in Secrets Manager, with rotation and a grace window.

The secret's value is JSON: the current secret plus, during a grace window, the previous one and
when it expires. `put_secret_value` also moves the AWSPREVIOUS staging label, so the console
shows the history, but one cached read gives a delivery everything it needs to sign.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from shared import clock
from shared.aws import client
from shared.config import settings

SECRET_PREFIX = "whcms_"
DELIVERY_CACHE_SECONDS = 60
_provider: SecretsProvider | None = None


@dataclass(frozen=True)
class SigningSecret:
    secret: str
    created_at: str
    previous: str | None = None
    previous_expires_at: str | None = None

    def active_secrets(self, at: float | None = None) -> list[str]:
        """Secrets a delivery is signed with now: current first, then a still-valid previous."""
        moment = clock.now() if at is None else at
        secrets = [self.secret]
        if (
            self.previous
            and self.previous_expires_at
            and clock.parse_iso(self.previous_expires_at) > moment
        ):
            secrets.append(self.previous)
        return secrets

    def public_view(self) -> dict[str, Any]:
        expires = self.previous_expires_at if len(self.active_secrets()) > 1 else None
        return {
            "secret": self.secret,
            "created_at": self.created_at,
            "previous_expires_at": expires,
        }


def new_signing_secret() -> str:
    """`whcms_` + STANDARD base64 of 32 random bytes (Standard Webhooks libraries decode that)."""
    return SECRET_PREFIX + base64.b64encode(os.urandom(32)).decode()


def user_secret_name(user_id: str) -> str:
    return f"{settings().secret_prefix}/users/{user_id}/signing"


def _parse(raw: str) -> SigningSecret:
    data = json.loads(raw)
    return SigningSecret(
        secret=data["secret"],
        created_at=data["created_at"],
        previous=data.get("previous"),
        previous_expires_at=data.get("previous_expires_at"),
    )


def _serialize(value: SigningSecret) -> str:
    return json.dumps(
        {
            "secret": value.secret,
            "created_at": value.created_at,
            "previous": value.previous,
            "previous_expires_at": value.previous_expires_at,
        }
    )


def get_or_create(user_id: str) -> SigningSecret:
    """A fresh read (management routes); the secret is created on first use."""
    secrets_manager = client("secretsmanager")
    name = user_secret_name(user_id)
    try:
        return _parse(secrets_manager.get_secret_value(SecretId=name)["SecretString"])
    except secrets_manager.exceptions.ResourceNotFoundException:
        pass
    created = SigningSecret(secret=new_signing_secret(), created_at=clock.iso())
    try:
        secrets_manager.create_secret(
            Name=name,
            SecretString=_serialize(created),
            Description=f"Webhook signing secret of user {user_id}",
        )
        return created
    except secrets_manager.exceptions.ResourceExistsException:
        # Another request created it first: theirs wins.
        return _parse(secrets_manager.get_secret_value(SecretId=name)["SecretString"])


def rotate(user_id: str, grace_seconds: int) -> SigningSecret:
    current = get_or_create(user_id)
    rotated = SigningSecret(
        secret=new_signing_secret(),
        created_at=clock.iso(),
        previous=current.secret if grace_seconds > 0 else None,
        previous_expires_at=clock.iso(clock.now() + grace_seconds) if grace_seconds > 0 else None,
    )
    client("secretsmanager").put_secret_value(
        SecretId=user_secret_name(user_id), SecretString=_serialize(rotated)
    )
    return rotated


def _secrets_provider() -> SecretsProvider:
    global _provider
    if _provider is None:
        _provider = SecretsProvider(boto3_client=client("secretsmanager"))
    return _provider


def for_delivery(user_id: str) -> SigningSecret:
    """Cached read for the delivery worker; creates the secret if the user never asked for it."""
    try:
        raw = _secrets_provider().get(user_secret_name(user_id), max_age=DELIVERY_CACHE_SECONDS)
    except Exception:
        return get_or_create(user_id)
    return _parse(str(raw))


def clear_caches() -> None:
    global _provider
    _provider = None
