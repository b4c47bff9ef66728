"""Local mode in a subprocess (`python -m infra.local`) on free ports, for end-to-end tests."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests

from infra.local.launch import free_port, spawn, wait_healthy
from infra.local.recorder import RECORD_ENV
from tests.support.aws_call_recording import recordings_dir

ADMIN_KEY = "wk_e2e_admin_key"
# A webhook failing this long is disabled (README "Failing endpoints: auto-disable"): longer than
# any other end-to-end test keeps an endpoint failing (their retries, 1,1,1 s, end within their
# own 40 s waits), short enough for tests/e2e/test_auto_disable.py to wait for.
DISABLE_AFTER_SECONDS = 45


@dataclass
class LocalService:
    base_url: str
    moto_url: str
    admin_key: str
    log_path: Path

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )

    def queue_url(self, logical_id: str) -> str:
        name = f"serverless-webhooks-{logical_id}"
        return str(self.client("sqs").get_queue_url(QueueName=name)["QueueUrl"])

    def new_user(self, user_id: str, role: str = "user") -> dict[str, str]:
        reply = requests.post(
            f"{self.base_url}/v1/admin/api-keys",
            headers={"x-api-key": self.admin_key},
            json={"user_id": user_id, "role": role},
            timeout=10,
        )
        assert reply.status_code == 201, reply.text
        return {"x-api-key": reply.json()["api_key"]}


@contextlib.contextmanager
def running_local_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    """`python -m infra.local` on free ports until the block ends."""
    port, moto_port = free_port(), free_port()
    log_path = tmp_path_factory.mktemp("local") / "local.log"
    env = {
        **os.environ,
        "WEBHOOKS_PORT": str(port),
        "MOTO_PORT": str(moto_port),
        "WEBHOOKS_ADMIN_API_KEY": ADMIN_KEY,
        "WEBHOOKS_RETRY_SCHEDULE": "1,1,1",
        "WEBHOOKS_SOURCE_CACHE_SECONDS": "1",  # a deleted source is refused a second later
        "WEBHOOKS_API_KEY_CACHE_SECONDS": "1",  # so is a revoked key
        "WEBHOOKS_EVENT_TYPE_CACHE_SECONDS": "1",  # and a catalog PUT is seen by every publish
        "WEBHOOKS_LOCAL_RETRY_VISIBILITY_SECONDS": "1",
        "WEBHOOKS_DISABLE_AFTER_SECONDS": str(DISABLE_AFTER_SECONDS),
        "POWERTOOLS_LOG_LEVEL": "INFO",
        # The example handlers (test.fail, ...) are registered by tests only, never deployed.
        "WEBHOOKS_LOCAL_HANDLER_MODULES": "examples.inbound_handlers",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    recordings = recordings_dir()  # each function container records its AWS calls there
    if recordings is not None:
        env[RECORD_ENV] = str(recordings)
    with open(log_path, "wb") as log:
        process = spawn(env, log)
        base_url = f"http://127.0.0.1:{port}"
        if not wait_healthy(base_url, process, 60):
            process.kill()
            raise RuntimeError(f"local mode did not become healthy: {log_path.read_text()[-3000:]}")
        try:
            yield LocalService(base_url, f"http://127.0.0.1:{moto_port}", ADMIN_KEY, log_path)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
