"""The embedded AWS: moto server in a child process of its own.

Local mode runs the API, the pollers and every handler in one Python process; moto in the same
process would share its one GIL and halve throughput on a busy machine. The child applies the
same fixes (`moto_fixes`); the parent switches Step Functions execution on once it answers.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time

import requests

TTL_SWEEP_SECONDS = 60.0  # how often expired DynamoDB items are deleted


class MotoProcess:
    """Start, await and stop `python -m infra.local.emulator` on one port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.process = subprocess.Popen(  # noqa: S603 -- our own module, fixed arguments
            [sys.executable, "-m", "infra.local.emulator", str(self.port)],
            env={**os.environ, "MOTO_PORT": str(self.port)},
            start_new_session=True,  # Ctrl-C reaches local mode, which then stops this child
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode}")
            try:
                requests.post(
                    f"{self.url}/moto-api/config",
                    json={"stepfunctions": {"execute_state_machine": True}},
                    timeout=1,
                ).raise_for_status()
                return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not start on port {self.port}")

    def request_stop(self) -> None:
        """Ask the emulator to stop (TERM) without waiting for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def stop(self, timeout: float = 3.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def serve(port: int) -> None:
    from moto.server import ThreadedMotoServer

    from infra.local.lifetime import exit_with_parent
    from infra.local.moto_fixes import apply_all, expire_ttl_items

    exit_with_parent()  # a killed local mode leaves no emulator behind
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    apply_all()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    signal.signal(signal.SIGINT, lambda *_: stopped.set())
    while not stopped.wait(TTL_SWEEP_SECONDS):
        expire_ttl_items(time.time())
    server.stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
