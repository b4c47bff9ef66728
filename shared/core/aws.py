"""One boto3 client per service per container: built on first use, reused by every request."""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

# Standard retry mode backs off on throttling and 5xx; short timeouts keep a request path fast.
CLIENT_CONFIG = Config(
    retries={"max_attempts": 4, "mode": "standard"},
    connect_timeout=3,
    read_timeout=10,
    max_pool_connections=20,
)


@cache
def client(service: str) -> Any:
    """A cached boto3 client; AWS_ENDPOINT_URL (local mode) is honoured by boto3 itself."""
    return boto3.session.Session().client(service, config=CLIENT_CONFIG)  # type: ignore[call-overload]


def reset_clients() -> None:
    """Forget cached clients (tests that switch between emulators)."""
    client.cache_clear()
