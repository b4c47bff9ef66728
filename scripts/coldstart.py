"""Cold start: import time of each Lambda handler module beside `import boto3`, in fresh
processes, measured inside the child with time.perf_counter around the import.

The child environment is a Lambda's as far as imports care: AWS_LAMBDA_FUNCTION_NAME set and
POWERTOOLS_TRACE_DISABLED unset, so the Powertools tracer imports and patches what it does on
Lambda. Runs are interleaved (boto3, every handler, boto3, ...) so machine noise hits all alike;
each module is imported once first, unmeasured, to write its bytecode cache.
"""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "boto3"
CHILD = (
    "import time, importlib, sys\n"
    "started, cpu = time.perf_counter(), time.process_time()\n"
    "importlib.import_module(sys.argv[1])\n"
    "print(time.perf_counter() - started, time.process_time() - cpu)\n"
)


@dataclass
class ImportTimes:
    samples: dict[str, list[float]] = field(default_factory=dict)  # module -> wall seconds
    cpu: dict[str, list[float]] = field(default_factory=dict)  # module -> CPU seconds
    no_bytecode: dict[str, list[float]] = field(default_factory=dict)
    heaviest: dict[str, list[tuple[str, float]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def median(self, module: str) -> float | None:
        values = self.samples.get(module)
        return statistics.median(values) if values else None

    def median_cpu(self, module: str) -> float | None:
        values = self.cpu.get(module)
        return statistics.median(values) if values else None

    def median_no_bytecode(self, module: str) -> float | None:
        values = self.no_bytecode.get(module)
        return statistics.median(values) if values else None


def child_env(function: str | None) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("POWERTOOLS_", "AWS_"))
    }
    env.update(
        {
            "PYTHONPATH": str(ROOT),
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "POWERTOOLS_SERVICE_NAME": "serverless-webhooks",
            "POWERTOOLS_METRICS_NAMESPACE": "ServerlessWebhooks",
        }
    )
    if function:
        env["AWS_LAMBDA_FUNCTION_NAME"] = function
    return env


def _function_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) == 3 and parts[0] == "functions" else None


def import_once(
    module: str, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> tuple[float, float]:
    """(wall, CPU) seconds to import `module` in a fresh interpreter, measured inside it."""
    command = [sys.executable, *(extra or []), "-c", CHILD, module]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=env or child_env(_function_of(module)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip().splitlines()[-1] if done.stderr else "failed")
    wall, cpu = done.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


def measure(modules: list[str], runs: int = 5, no_bytecode_runs: int = 3) -> ImportTimes:
    times = ImportTimes()
    everything = [REFERENCE, *modules]
    for module in everything:  # write bytecode caches, warm the page cache
        try:
            import_once(module)
        except (RuntimeError, subprocess.TimeoutExpired) as error:
            times.errors[module] = str(error)
    alive = [module for module in everything if module not in times.errors]
    for _ in range(runs):
        for module in alive:
            wall, cpu = import_once(module)
            times.samples.setdefault(module, []).append(wall)
            times.cpu.setdefault(module, []).append(cpu)
    if no_bytecode_runs:
        # As shipped to Lambda: the assets carry no .pyc and /var/task, /opt are read-only, so
        # every cold start compiles what it imports. An empty pycache_prefix reproduces that.
        with tempfile.TemporaryDirectory() as empty:
            for _ in range(no_bytecode_runs):
                for module in alive:
                    env = {**child_env(_function_of(module)), "PYTHONDONTWRITEBYTECODE": "1"}
                    wall, _ = import_once(module, ["-X", f"pycache_prefix={empty}"], env)
                    times.no_bytecode.setdefault(module, []).append(wall)
    return times


def heaviest_packages(module: str, top: int = 5) -> list[tuple[str, float]]:
    """Top-level packages by their own import time (`python -X importtime`), in seconds."""
    command = [sys.executable, "-X", "importtime", "-c", f"import {module}"]
    done = subprocess.run(
        command,
        cwd=ROOT,
        env=child_env(_function_of(module)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    totals: Counter[str] = Counter()
    pattern = re.compile(r"import time:\s+(\d+)\s+\|\s+\d+\s+\|\s+(\S+)")
    for line in done.stderr.splitlines():
        found = pattern.match(line.strip())
        if found:
            totals[found.group(2).split(".")[0]] += int(found.group(1))
    return [(name, micros / 1e6) for name, micros in totals.most_common(top)]


# The event type catalog's validator (shared/outbound/event_schemas.py) is imported on the first
# schema a publish container meets, so what it adds there is its import after the handler's,
# plus compiling that schema once. Measured in a fresh interpreter, medians of `runs`.
VALIDATOR = "jsonschema_rs"
VALIDATOR_ALTERNATIVES = ("jsonschema",)  # fastjsonschema: stops at draft 7, not installed
VALIDATOR_CHILD = (
    "import time, json, sys\n"
    "import functions.publish.handler\n"
    "started = time.perf_counter()\n"
    "import jsonschema_rs\n"
    "imported = time.perf_counter()\n"
    "schema = json.loads(sys.argv[1])\n"
    "validator = jsonschema_rs.Draft202012Validator(schema)\n"
    "compiled = time.perf_counter()\n"
    "list(validator.iter_errors({'amount': '1', 'items': [{}]}))\n"
    "checked = time.perf_counter()\n"
    "print(imported - started, compiled - imported, checked - compiled)\n"
)
SAMPLE_SCHEMA = (
    '{"type": "object", "required": ["amount"], "properties": {"amount": {"type": "integer", '
    '"minimum": 0}, "items": {"type": "array", "items": {"type": "object", "required": ["sku"]}}}}'
)


@dataclass
class ValidatorCost:
    """Seconds, medians: the validator's import after the publish handler's, one compile, one
    validation of an invalid event (every error collected)."""

    import_after_handler: float
    compile: float
    validate: float


def validator_cost(runs: int = 5) -> ValidatorCost:
    samples: list[tuple[float, ...]] = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", VALIDATOR_CHILD, SAMPLE_SCHEMA],
            cwd=ROOT,
            env=child_env("publish"),
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        samples.append(tuple(float(x) for x in done.stdout.strip().splitlines()[-1].split()))
    return ValidatorCost(*(statistics.median(column) for column in zip(*samples, strict=True)))
