"""Start local mode as a child process on free ports: what the end-to-end tests and the
throughput bench both need."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import requests

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spawn(env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    """`python -m infra.local` from the repository root, its output to `log`."""
    return subprocess.Popen(
        [sys.executable, "-m", "infra.local"],
        cwd=ROOT,
        env={**env, "PYTHONPATH": str(ROOT)},
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
    )


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], seconds: float) -> bool:
    """True once `GET /health` answers 200; False if the process exits or time runs out."""
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        if process.poll() is not None:
            return False
        try:
            if requests.get(f"{base_url}/health", timeout=1).status_code == 200:
                return True
        except requests.RequestException:  # starting, or a busy machine
            pass
        time.sleep(0.2)
    return False
