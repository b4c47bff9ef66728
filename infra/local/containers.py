"""Lambda's execution model on this machine: each function served by a pool of containers.

A container is a process of its own that imports the function's handler on its first request
(a cold start) and then handles one invocation at a time, keeping its module state (caches,
clients, the Powertools resolver and logger) between invocations, exactly as a Lambda execution
environment does. Concurrent invocations of a function go to different containers, so no request
ever sees another's event or context: Powertools keeps the current request on module globals,
and handlers running on threads of one process answered each other's requests.

A pool grows on demand up to its size and then queues callers, like a function whose concurrency
is capped. An invocation that outlives the function's timeout kills its container (Lambda ends the
execution environment too); a handler exception is reported to the caller as Lambda reports it.
Containers die with local mode: they watch their parent and are stopped with the pool.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from infra import declaration as decl
from infra.local.gateway import FunctionFailed, LambdaContext, load_handler
from infra.local.lifetime import exit_with_parent

log = logging.getLogger("local.containers")

_spawn = multiprocessing.get_context("spawn")  # a fresh interpreter: no state inherited by fork
RECORD_ENV = "WEBHOOKS_RECORD_AWS_CALLS"
INIT_LIMIT_SECONDS = 120.0


class InvocationError(FunctionFailed):
    """The function failed the invocation: an unhandled exception, a timeout or a crash."""

    def __init__(self, function: str, kind: str, message: str) -> None:
        super().__init__(f"{function}: {kind}: {message}")
        self.function = function
        self.kind = kind


@dataclass(frozen=True)
class Invocation:
    """What one container reports back: the handler's result or why there is none."""

    ok: bool
    result: Any = None
    error_type: str = ""


def _container_main(function_name: str, connection: Connection) -> None:
    """A container's life: import on first use, then one invocation at a time until told to stop."""
    exit_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is local mode's to handle
    function = next(f for f in decl.FUNCTIONS if f.name == function_name)
    _record_calls_if_asked(function_name)
    handler = None
    while True:
        try:
            request = connection.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        event, context = request
        try:
            if handler is None:
                started = time.perf_counter()
                handler = load_handler(function)
                connection.send(round((time.perf_counter() - started) * 1000))
            result = handler(event, LambdaContext(**context))
            reply = Invocation(ok=True, result=result)
        except Exception as error:  # reported as Lambda reports an unhandled exception
            traceback.print_exc()
            reply = Invocation(ok=False, error_type=type(error).__name__)
        connection.send(asdict(reply))


def _record_calls_if_asked(function_name: str) -> None:
    """Tests ask every container to record its AWS calls (checked against the IAM policies)."""
    directory = os.environ.get(RECORD_ENV)
    if not directory:
        return
    from infra.local.recorder import install

    install(function_name, os.path.join(directory, f"{function_name}-{os.getpid()}.jsonl"))


class Container:
    """One execution environment of a function: a child process and its end of a pipe."""

    def __init__(self, function: decl.Function, number: int, timeout_seconds: float) -> None:
        self.function = function
        self.number = number
        self.timeout_seconds = timeout_seconds
        self.connection, child_end = _spawn.Pipe()
        self.process: BaseProcess = _spawn.Process(
            target=_container_main,
            args=(function.name, child_end),
            name=f"{function.name}#{number}",
            daemon=True,
        )
        self.process.start()
        child_end.close()
        self.init_ms: int | None = None  # set once the handler is imported

    def _await_init(self) -> int:
        if not self.connection.poll(INIT_LIMIT_SECONDS):
            self.kill()
            raise InvocationError(self.function.name, "timeout", "cold start took too long")
        try:
            return int(self.connection.recv())
        except (EOFError, OSError) as error:
            self.kill()
            raise InvocationError(self.function.name, "crash", "the container exited") from error

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Invocation:
        """Send one invocation and wait for it, at most the function's timeout.

        As on Lambda, the timeout counts from the end of the cold start: importing the handler
        has a limit of its own (generous here, where a busy machine imports slowly).
        """
        self.connection.send((event, asdict(context)))
        if self.init_ms is None:
            self.init_ms = self._await_init()
        if not self.connection.poll(self.timeout_seconds):
            self.kill()
            raise InvocationError(
                self.function.name, "timeout", f"task timed out after {self.timeout_seconds} s"
            )
        try:
            return Invocation(**self.connection.recv())
        except (EOFError, OSError) as error:
            self.kill()
            raise InvocationError(self.function.name, "crash", "the container exited") from error

    @property
    def alive(self) -> bool:
        return self.process.is_alive()

    def ask_to_stop(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.connection.send(None)

    def stop(self) -> None:
        self.ask_to_stop()
        self.process.join(timeout=2)
        self.kill()

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
            self.process.join(timeout=2)
        self.connection.close()


class FunctionPool:
    """Up to `size` containers of one function; each serves one invocation at a time."""

    def __init__(self, function: decl.Function, size: int, timeout_seconds: float) -> None:
        self.function = function
        self.size = size
        self.timeout_seconds = timeout_seconds
        self._idle: list[Container] = []
        self._all: set[Container] = set()
        self._count = 0  # containers alive or being started
        self._numbers = itertools.count(1)
        self._changed = threading.Condition()
        self._closed = False

    def invoke(self, event: dict[str, Any], context: LambdaContext) -> Any:
        """The handler's result; InvocationError when the function failed the invocation."""
        with self._container() as container:
            cold = container.init_ms is None
            reply = container.invoke(event, context)
            if cold:
                log.info(
                    "cold start: %s#%d imported its handler in %d ms (%d of %d containers)",
                    self.function.name,
                    container.number,
                    container.init_ms,
                    self._count,
                    self.size,
                )
        if not reply.ok:
            raise InvocationError(self.function.name, "unhandled", reply.error_type)
        return reply.result

    def handler(self, event: dict[str, Any], context: Any) -> Any:
        """The pool as a Lambda-style handler (what the SQS pollers call)."""
        return self.invoke(event, context)

    def stats(self) -> str:
        return f"{self.function.name}: {self._count}/{self.size}"

    @contextlib.contextmanager
    def _container(self) -> Iterator[Container]:
        container = self._acquire()
        healthy = False
        try:
            yield container
            healthy = True
        finally:
            self._release(container, healthy)

    def _acquire(self) -> Container:
        with self._changed:
            while True:
                if self._closed:
                    raise InvocationError(self.function.name, "stopped", "local mode is stopping")
                while self._idle:
                    container = self._idle.pop()
                    if container.alive:
                        return container
                    self._forget(container)
                if self._count < self.size:
                    self._count += 1
                    number = next(self._numbers)
                    break
                self._changed.wait()
        try:
            container = Container(self.function, number, self.timeout_seconds)
        except Exception:
            with self._changed:
                self._count -= 1
                self._changed.notify()
            raise
        with self._changed:
            self._all.add(container)
        return container

    def _release(self, container: Container, healthy: bool) -> None:
        with self._changed:
            if healthy and container.alive and not self._closed:
                self._idle.append(container)
            elif healthy and container.alive:  # stopping: an idle container is not kept
                self._forget(container)
                threading.Thread(target=container.stop, daemon=True).start()
            else:
                self._forget(container)
                threading.Thread(target=container.kill, daemon=True).start()
            self._changed.notify()

    def _forget(self, container: Container) -> None:
        """Under the lock: the container no longer counts toward the pool."""
        self._count -= 1
        self._all.discard(container)

    @property
    def containers(self) -> int:
        return self._count

    def close(self) -> list[Container]:
        """Refuse new invocations, kill busy containers and ask idle ones to stop; return the
        idle ones, for the caller to wait for (every pool against one deadline)."""
        with self._changed:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = self._all.difference(idle)
            self._all.clear()
            self._changed.notify_all()
        for container in busy:
            container.kill()
        for container in idle:
            container.ask_to_stop()
        return idle


class Pools:
    """A pool per function; the gateway and the pollers invoke functions only through these."""

    def __init__(self, sizes: dict[str, int], timeout_scale: float = 1.0) -> None:
        self.by_name = {
            f.name: FunctionPool(
                f, sizes[f.name], f.timeout_seconds * (1.0 if f.consumes else timeout_scale)
            )
            for f in decl.FUNCTIONS
        }

    def __getitem__(self, function: decl.Function) -> FunctionPool:
        return self.by_name[function.name]

    def invoke(self, function: decl.Function, event: dict[str, Any], context: LambdaContext) -> Any:
        return self[function].invoke(event, context)

    def close(self, until: float) -> None:
        """Every container gone by `until` (a time.monotonic() value): all idle containers are
        asked at once and waited for against that one deadline, then the slow ones killed."""
        stopping = [container for pool in self.by_name.values() for container in pool.close()]
        for container in stopping:
            container.process.join(timeout=max(0.0, until - time.monotonic()))
            container.kill()
