"""CDK entry point: `python -m infra.app` or `python infra/app.py` (what cdk.json runs).

The one stack is checked by cdk-nag's AwsSolutions pack as a CDK validation plugin: any finding
that is not acknowledged with a reason fails the synth.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: infra/ must not shadow the `constructs` library
    _INFRA = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _INFRA]
    sys.path.insert(0, str(_INFRA.parent))

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra.stack import STACK_NAME, ServerlessWebhooksStack

# Defaults below cdk.json and --context: behaviour the stack relies on, also in tests.
FEATURE_FLAGS: dict[str, Any] = {
    "@aws-cdk/aws-iam:minimizePolicies": True,  # keeps the API function's policy small
    "@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy": True,  # no ACLs on the log bucket
}


def build_app(
    context: dict[str, Any] | None = None, *, outdir: str | None = None, nag: bool = True
) -> cdk.App:
    """The app with its stack and, unless `nag=False`, the AwsSolutions validation plugin."""
    app = cdk.App(context={**FEATURE_FLAGS, **(context or {})}, outdir=outdir)
    ServerlessWebhooksStack(app, STACK_NAME)
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
