"""End-to-end: `python -m infra.local` in a subprocess, spoken to over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_api import wait_until
from tests.support.local_service import LocalService, running_local_service


@pytest.fixture(scope="session")
def local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """The local service the end-to-end tests share."""
    with running_local_service(tmp_path_factory) as service:
        yield service


@pytest.fixture
def poll() -> Any:
    return wait_until
