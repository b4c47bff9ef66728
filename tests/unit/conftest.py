"""Fixtures the in-process unit tests share: the API over moto, two users, settings overrides."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

import examples.inbound_handlers  # noqa: F401  (registers the example handlers for these tests)
from shared.core.config import settings
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi
from tests.support.faults import FaultSet, no_backoff
from tests.support.read_lag import ReadLag


@pytest.fixture
def api(aws: dict[str, str]) -> InProcessApi:
    return InProcessApi()


@pytest.fixture
def alice(api: InProcessApi) -> str:
    return api.new_user_key(ADMIN_KEY, "alice")


@pytest.fixture
def bob(api: InProcessApi) -> str:
    return api.new_user_key(ADMIN_KEY, "bob")


@pytest.fixture
def setting(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[str, str], None]]:
    """Override one environment setting for this test (the cached settings are re-read)."""

    def override(name: str, value: str) -> None:
        monkeypatch.setenv(name, value)
        settings.cache_clear()

    yield override
    settings.cache_clear()


@pytest.fixture
def faults(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[FaultSet]:
    """AWS faults injected through botocore hooks, without retry back-off; removed afterwards."""
    no_backoff(monkeypatch)
    made = FaultSet()
    yield made
    made.remove_all()


@pytest.fixture
def lag(aws: dict[str, str]) -> Iterator[ReadLag]:
    """Eventually consistent reads that can be made to lag (tests/support/read_lag.py)."""
    recorder = ReadLag()
    yield recorder
    recorder.remove()
