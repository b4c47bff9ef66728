"""Recording the AWS calls our functions make while the tests run (checked against IAM later).

`make test` sets WEBHOOKS_RECORD_AWS_CALLS to a directory. Every pytest process (xdist worker)
records the calls made by function code it runs in-process into a file of its own there, and the
local mode service the end-to-end tests start passes the variable to its function containers,
which write one file per container. tests/infra/test_iam_calls.py reads them all afterwards.
"""

from __future__ import annotations

import os
from pathlib import Path

from infra.local.recorder import RECORD_ENV, install_by_stack


def recordings_dir() -> Path | None:
    """The directory asked for, absolute (child processes may start elsewhere), or None."""
    value = os.environ.get(RECORD_ENV)
    return Path(value).resolve() if value else None


def record_this_process() -> None:
    """Record this test process's calls, if asked: one file per xdist worker process."""
    directory = recordings_dir()
    if directory is None:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    install_by_stack(str(directory / f"tests-{worker}-{os.getpid()}.jsonl"))
