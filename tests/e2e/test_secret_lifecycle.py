"""The signing secret end to end: local mode over real HTTP, a real receiver on 127.0.0.1.

The API and the delivery worker run in separate processes here, as on AWS: the worker learns of
a rotation only through what it reads for each delivery, never from the API process's memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_api import LocalApi, unique
from tests.support.receiver import Received, Receiver
from tests.support.signatures import expected_by, signed_by

WAIT = 30


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def deliver_next(api: LocalApi, receiver: Receiver, path: str) -> Received:
    """Publish one event to the caller's single webhook and wait for its request."""
    count = len(receiver.received(path)) + 1
    api.publish("user.created", {"n": count})
    found = receiver.wait_for(path, count, timeout=WAIT)
    assert len(found) == count, f"{len(found)} of {count} requests arrived"
    return found[-1]


def rotate(api: LocalApi, grace_seconds: int) -> str:
    body = {"grace_seconds": grace_seconds}
    return str(api.ok("POST", "/v1/secret/rotate", json=body)["secret"])


def test_rotation_reaches_the_very_next_delivery(local: Any, receiver: Receiver) -> None:
    # A user id with `:` (allowed for users, not in Secrets Manager names), who never reads
    # the secret before the first delivery: the webhook made it, the worker only reads it.
    api = LocalApi(local.base_url, local.new_user(unique("acme:rotation")))
    path = "/" + unique("hook")
    api.create_webhook(receiver.url(path), ["*"])

    first = deliver_next(api, receiver, path)
    old = str(api.ok("GET", "/v1/secret")["secret"])
    assert signed_by(first.headers) == expected_by(first.headers, first.body, old)

    new = rotate(api, 0)
    after = deliver_next(api, receiver, path)
    assert signed_by(after.headers) == expected_by(after.headers, after.body, new)

    newer = rotate(api, 300)
    during = deliver_next(api, receiver, path)
    assert signed_by(during.headers) == expected_by(during.headers, during.body, newer, new)
    assert api.ok("GET", "/v1/secret")["secret"] == newer
