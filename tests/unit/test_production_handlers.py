"""The deployed inbound processor runs only the customer's handlers, never the examples.

A regression test: the production handler once imported the example module, whose `always_fail`
claims `("hmac", "test.fail")`, so a customer's custom-HMAC source sending an event of type
`test.fail` had it failed and dead-lettered in production.
"""

from __future__ import annotations

import json
import subprocess
import sys

from infra.bundling import REPO_ROOT, FunctionCodeBundler

PROBE = """
import json
from functions.inbound_processor import handler  # noqa: F401  (what the Lambda imports)
from functions.inbound_processor.registry import handlers_for, registry
print(json.dumps({
    "registered": [(r.provider, r.event_type) for r in registry._registrations],
    "test_fail": [h.__module__ for h in handlers_for("hmac", "test.fail")],
}))
"""


def test_the_production_handler_registers_no_example_or_test_handler() -> None:
    # A fresh interpreter: the unit tests' conftest registers the examples in this one.
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT), "AWS_DEFAULT_REGION": "us-east-1"}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO_ROOT, env=env, capture_output=True, text=True
    )
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert found == {"registered": [], "test_fail": []}


def test_the_inbound_processor_bundle_ships_no_examples() -> None:
    shipped = [str(relative) for _, relative in FunctionCodeBundler("inbound_processor").files()]
    assert "functions/inbound_processor/handler.py" in shipped
    assert not [path for path in shipped if "example" in path]
    assert not [path for path in shipped if path.startswith(("tests/", "examples/"))]
