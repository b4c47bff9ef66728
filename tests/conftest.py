"""Fixtures: moto in-process (unit), a real HTTP receiver, AWS call counting."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
ADMIN_KEY = "wk_test_admin_key"


AFTER_SUITE = "after_suite"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{AFTER_SUITE}: reads what the rest of the suite recorded; deselected unless selected "
        f"with `-m {AFTER_SUITE}` (`make test` runs them after the suite)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests sharing an expensive resource run on one xdist worker: one local service, one synth."""
    _deselect_after_suite_tests(config, items)
    for item in items:
        path = str(item.fspath)
        if path.endswith(f"{os.sep}test_load.py"):
            item.add_marker(pytest.mark.xdist_group("load"))  # its own service, beside e2e
        elif f"{os.sep}e2e{os.sep}" in path:
            item.add_marker(pytest.mark.xdist_group("e2e"))
        elif f"{os.sep}infra{os.sep}" in path:
            item.add_marker(pytest.mark.xdist_group("cdk"))


def _deselect_after_suite_tests(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Unless `-m` names them: run beside the suite they would read incomplete recordings."""
    if AFTER_SUITE in (config.option.markexpr or ""):
        return
    later = [item for item in items if item.get_closest_marker(AFTER_SUITE)]
    if later:
        config.hook.pytest_deselected(items=later)
        items[:] = [item for item in items if item.get_closest_marker(AFTER_SUITE) is None]


@pytest.fixture(scope="session", autouse=True)
def record_aws_calls() -> None:
    """With WEBHOOKS_RECORD_AWS_CALLS set (`make test`), record the AWS calls our functions make.

    tests/infra/test_iam_calls.py then checks each one against the deployed roles' policies.
    """
    from tests.support.aws_call_recording import record_this_process

    record_this_process()


def reset_process_caches() -> None:
    from shared.access import auth
    from shared.core.aws import reset_clients
    from shared.core.config import settings
    from shared.outbound import event_types
    from shared.store import secrets

    settings.cache_clear()
    reset_clients()
    auth.reset_caches()
    secrets.clear_caches()
    event_types.clear_caches()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """Moto in-process with the stack's resources, the function environment set."""
    from moto import mock_aws

    from infra.local.moto_fixes import apply_all
    from infra.local.provision import provision

    apply_all()
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        env = provision(boto3.session.Session(region_name="us-east-1"), "test", ADMIN_KEY)
        env["WEBHOOKS_ALLOW_PRIVATE_TARGETS"] = "1"
        env["WEBHOOKS_RETRY_SCHEDULE"] = "1,1,1"
        env["PUBLIC_BASE_URL"] = "http://127.0.0.1:8080"
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_process_caches()
        yield env
        reset_process_caches()


@pytest.fixture
def receiver() -> Iterator[Any]:
    from tests.support.receiver import Receiver

    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def calls(aws: dict[str, str]) -> Iterator[Any]:
    from tests.support.aws_calls import CallCounter

    counter = CallCounter()
    yield counter
    counter.close()
