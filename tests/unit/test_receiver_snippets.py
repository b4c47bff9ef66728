"""The receiver snippets in docs/snippets, run as they are, against signatures our signer made."""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import requests

from shared.outbound.signing import signature_headers

ROOT = Path(__file__).resolve().parents[2]
PYTHON_SNIPPET = ROOT / "docs" / "snippets" / "receiver.py"
NODE_SNIPPET = ROOT / "docs" / "snippets" / "receiver.js"
NODE = shutil.which("node") or "/usr/bin/node"
SECRET = "whcms_" + base64.b64encode(bytes(range(32))).decode()
OLD_SECRET = "whcms_" + base64.b64encode(bytes(range(32, 64))).decode()
EVENT_ID = "evt_01JSNIPPET00000000000000"


def signed(
    secrets: list[str], *, body: bytes | None = None, at: int | None = None
) -> tuple[dict[str, str], bytes]:
    payload = (
        body
        or json.dumps(
            {
                "id": EVENT_ID,
                "type": "user.created",
                "created_at": "2026-11-01T00:00:00.000Z",
                "api_version": "2026-11-01",
                "data": {"name": "Zoë"},
            },
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
    )
    timestamp = int(time.time()) if at is None else at
    headers = signature_headers(secrets, event_id=EVENT_ID, timestamp=timestamp, body=payload)
    return {"Content-Type": "application/json", **headers}, payload


def samples() -> list[tuple[str, dict[str, str], bytes, bool]]:
    """(label, headers, body, should verify with SECRET)."""
    headers, body = signed([SECRET])
    rotated_headers, _ = signed([OLD_SECRET, SECRET])  # SECRET is the second signature
    stale_headers, _ = signed([SECRET], at=int(time.time()) - 301)
    future_headers, _ = signed([SECRET], at=int(time.time()) + 301)
    other_headers, _ = signed([OLD_SECRET])
    tampered = body.replace(b"Zo\xc3\xab", b"Eve")
    return [
        ("valid", headers, body, True),
        ("rotation, second signature", rotated_headers, body, True),
        ("tampered body", headers, tampered, False),
        ("one byte appended", headers, body + b" ", False),
        ("stale timestamp", stale_headers, body, False),
        ("future timestamp", future_headers, body, False),
        ("other secret", other_headers, body, False),
        ("no signature", {"Content-Type": "application/json"}, body, False),
        (
            "moved timestamp",
            {**headers, "X-Webhook-Timestamp": str(int(headers["X-Webhook-Timestamp"]) + 1)},
            body,
            False,
        ),
        (
            "junk signature",
            {**headers, "X-Webhook-Signature": "sha256=zz sha256= v1,abc"},
            body,
            False,
        ),
        (
            "signature with trailing junk",
            {**headers, "X-Webhook-Signature": headers["X-Webhook-Signature"] + "00"},
            body,
            False,
        ),
        ("junk timestamp", {**headers, "X-Webhook-Timestamp": "12ab"}, body, False),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def run_server() -> Iterator[Any]:
    started: list[subprocess.Popen[bytes]] = []

    def start(command: list[str]) -> str:
        # The snippet says when it listens; a port another test took meanwhile makes it exit,
        # and it is started again on another one (probing the socket could reach that other test).
        output = ""
        for _ in range(5):
            port = free_port()
            env = {**os.environ, "WEBHOOK_SECRET": SECRET, "PORT": str(port)}
            process = subprocess.Popen(
                command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
            started.append(process)
            assert process.stdout is not None
            first_line = process.stdout.readline().decode()
            if first_line.startswith("listening on"):
                return f"http://127.0.0.1:{port}/hooks"
            process.wait(timeout=10)
            output = first_line + process.stdout.read().decode()
        raise RuntimeError(f"{command} did not start listening: {output}")

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def load_python_snippet() -> ModuleType:
    spec = importlib.util.spec_from_file_location("receiver_snippet", PYTHON_SNIPPET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_python_snippet_function_accepts_valid_and_rejects_tampered() -> None:
    snippet = load_python_snippet()
    for label, headers, body, expected in samples():
        assert snippet.verify_webhook(SECRET, headers, body) is expected, label
    headers, body = signed([SECRET], at=1_700_000_000)
    assert snippet.verify_webhook(SECRET, headers, body, now=1_700_000_300)
    assert not snippet.verify_webhook(SECRET, headers, body, now=1_700_000_301)
    assert snippet.verify_webhook(SECRET, headers, body, tolerance=10**9)
    lowercase = {name.lower(): value for name, value in headers.items()}
    assert snippet.verify_webhook(SECRET, lowercase, body, now=1_700_000_000)


def check_server(url: str) -> None:
    for label, headers, body, expected in samples():
        reply = requests.post(url, data=body, headers=headers, timeout=10)
        assert reply.status_code == (200 if expected else 401), (label, reply.text)
        assert reply.json() == ({"received": True} if expected else {"error": "invalid signature"})


def test_python_snippet_runs_as_is(run_server: Any) -> None:
    check_server(run_server([sys.executable, str(PYTHON_SNIPPET)]))


def test_node_snippet_runs_as_is(run_server: Any) -> None:
    assert Path(NODE).exists(), "node is installed in this environment"
    check_server(run_server([NODE, str(NODE_SNIPPET)]))


def test_node_snippet_function_and_tolerance() -> None:
    headers, body = signed([OLD_SECRET, SECRET], at=1_700_000_000)
    script = """
const { verifyWebhook } = require(process.argv[1]);
const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
const body = Buffer.from(input.body, 'base64');
const out = [
  verifyWebhook(input.secret, input.headers, body, 300, 1700000300),
  verifyWebhook(input.secret, input.headers, body, 300, 1700000301),
  verifyWebhook(input.secret, input.headers, Buffer.concat([body, Buffer.of(32)]), 300, 1700000000),
  verifyWebhook('whcms_other', input.headers, body, 300, 1700000000),
  verifyWebhook(input.secret, {}, body),
];
process.stdout.write(JSON.stringify(out));
"""
    completed = subprocess.run(
        [NODE, "-e", script, str(NODE_SNIPPET)],
        input=json.dumps(
            {"secret": SECRET, "headers": headers, "body": base64.b64encode(body).decode()}
        ).encode(),
        capture_output=True,
        timeout=30,
        check=True,
    )
    assert json.loads(completed.stdout) == [True, False, False, False, False]
