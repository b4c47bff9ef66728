"""Metrics carry the stage's service, as the stack sets it, so each stage's alarms count its own.

The module reads the environment once at import: each case imports it in a fresh interpreter.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EMIT = (
    "import json\n"
    "from shared.core.observability import metrics\n"
    "metrics.add_metric(name='DeliverySucceeded', unit='Count', value=1)\n"
    "print(json.dumps(metrics.serialize_metric_set()))\n"
)


def _emitted_service(environment: dict[str, str]) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOOLS_")}
    env |= {"PYTHONPATH": str(ROOT), **environment}
    done = subprocess.run(
        [sys.executable, "-c", EMIT], env=env, capture_output=True, text=True, check=True
    )
    service: str = json.loads(done.stdout.strip().splitlines()[-1])["service"]
    return service


def test_metrics_use_the_service_the_stack_sets() -> None:
    service = "serverless-webhooks-staging"
    assert _emitted_service({"POWERTOOLS_SERVICE_NAME": service}) == service


def test_metrics_default_to_the_unstaged_service() -> None:
    """Local mode and the stack without a stage use the name the alarms have always counted."""
    assert _emitted_service({}) == "serverless-webhooks"
