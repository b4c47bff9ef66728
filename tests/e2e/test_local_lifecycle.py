"""`make local` is easy to live with: quiet, stopped by Ctrl-C or TERM within 5 s, and a killed
local mode leaves nothing behind (the emulator and every function container watch their parent).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from infra.local.launch import ROOT, free_port, wait_healthy

STOP_SECONDS = 5.0
GONE_SECONDS = 5.0


def _children(pid: int) -> set[int]:
    """Every live descendant of `pid`, read from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    until = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < until:
        time.sleep(0.1)
    return _alive(pids)


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], str, Path]:
    port, moto_port = free_port(), free_port()
    log = tmp_path / "local.log"
    env = {**os.environ, "WEBHOOKS_PORT": str(port), "MOTO_PORT": str(moto_port)}
    env.pop("AWS_ENDPOINT_URL", None)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "infra.local"],
            cwd=ROOT,
            env={**env, "PYTHONPATH": str(ROOT)},
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group, as a terminal gives `make local`
        )
    base_url = f"http://127.0.0.1:{port}"
    if not wait_healthy(base_url, process, 90):
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"local mode did not start: {log.read_text()[-2000:]}")
    admin = log.read_text().split("Admin API key:")[1].split()[0]
    # A request to the API and one to publish: containers of both exist now.
    reply = requests.get(f"{base_url}/v1/webhooks", headers={"x-api-key": admin}, timeout=60)
    assert reply.status_code == 200, reply.text
    event = {"type": "local.started", "data": {}}
    reply = requests.post(
        f"{base_url}/v1/events", headers={"x-api-key": admin}, json=event, timeout=60
    )
    assert reply.status_code == 202, reply.text
    return process, base_url, log


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_term_to_the_group_stops_everything_within_5_s(
    tmp_path: Path, signal_number: int
) -> None:
    process, _, log = _start(tmp_path)
    family = _children(process.pid) | {process.pid}
    assert len(family) >= 4, "expected the emulator and function containers as children"
    os.killpg(process.pid, signal_number)
    left = _wait_gone(family, STOP_SECONDS)
    if left:
        os.killpg(process.pid, signal.SIGKILL)
    assert left == set(), f"still running {STOP_SECONDS} s after the signal: {left}"
    text = log.read_text()
    assert "Traceback" not in text, text[-2000:]


def test_a_killed_local_mode_leaves_no_emulator_or_container_behind(tmp_path: Path) -> None:
    process, _, _ = _start(tmp_path)
    family = _children(process.pid)
    assert family
    process.kill()  # SIGKILL: local mode gets no chance to clean up
    process.wait()
    left = _wait_gone(family, GONE_SECONDS)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == set(), f"orphans still running {GONE_SECONDS} s after local mode died"


def test_make_local_prints_no_aws_sdk_chatter(tmp_path: Path) -> None:
    """What `make local` prints is ours: no credential or endpoint discovery lines."""
    process, _, log = _start(tmp_path)
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)
    text = log.read_text()
    assert "Serverless Webhooks is running locally." in text
    for chatter in ("Found credentials", "botocore", "Loading JSON file", "Endpoint provider"):
        assert chatter not in text
