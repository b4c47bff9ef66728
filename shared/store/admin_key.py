"""The deployment's bootstrap admin key, read from Secrets Manager and cached per container.

Both the access check (is this the admin key? shared/access/auth.py) and the pagination cursors
(their signing key is derived from it, shared/store/cursors.py) read it here.
"""

from __future__ import annotations

import json
import time

from botocore.exceptions import BotoCoreError, ClientError

from shared.core.aws import client
from shared.core.config import settings
from shared.core.errors import ServiceUnavailable

_admin_key: tuple[float, str] | None = None
ADMIN_KEY_CACHE_SECONDS = 300.0
KEY_CHECK_FAILED = "the API key could not be checked right now; try again shortly"


def bootstrap_admin_key() -> str:
    """The deployment's first admin key, kept in Secrets Manager (JSON `{"api_key": ...}`)."""
    global _admin_key
    if _admin_key and _admin_key[0] > time.monotonic():
        return _admin_key[1]
    secret_id = settings().admin_key_secret_id
    value = ""
    if secret_id:
        value = _read(secret_id)
    _admin_key = (time.monotonic() + ADMIN_KEY_CACHE_SECONDS, value)
    return value


def _read(secret_id: str) -> str:
    """One GetSecretValue; AWS failing it is a 503 (try again), as for the key table."""
    try:
        raw = client("secretsmanager").get_secret_value(SecretId=secret_id)["SecretString"]
    except (BotoCoreError, ClientError) as error:
        raise ServiceUnavailable(KEY_CHECK_FAILED) from error
    return str(json.loads(raw).get("api_key", ""))


def reset_cache() -> None:
    global _admin_key
    _admin_key = None
