"""Children of local mode never outlive it.

Each child process (the AWS emulator, every function container) watches the process that
started it and exits as soon as that parent is gone, however the parent ended (Ctrl-C, TERM,
KILL, a crash). Polling the parent id is used rather than Linux's PR_SET_PDEATHSIG, which fires
when the *thread* that started the child ends: containers are started from short-lived request
threads.
"""

from __future__ import annotations

import os
import threading

CHECK_SECONDS = 0.5


def exit_with_parent() -> None:
    """Start a daemon thread that ends this process when its parent process has gone."""
    parent = os.getppid()

    def watch() -> None:
        stop = threading.Event()
        while not stop.wait(CHECK_SECONDS):
            if os.getppid() != parent:
                os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()
