"""CDK entry point: `python -m infra.app` or `python infra/app.py` (what cdk.json runs).

The one stack is checked by cdk-nag's AwsSolutions pack as a CDK validation plugin: any finding
that is not acknowledged with a reason fails the synth.

Context (`-c key=value` or cdk.json):
- `stage`: deploys `ServerlessWebhooks-<stage>` beside other stages in one account and region;
  without it the stack is `ServerlessWebhooks`.
- `alarm_email`: an address subscribed to the alarm topic.
- `retention_days`: how long events, deliveries, attempt logs and raw bodies are kept (1-3650,
  default 30; README: Retention).
- `reserve_worker_concurrency`: `true` reserves each queue worker's maximum concurrency
  (see infra/declaration.py for why it is off by default).
- `inbound_function_url`: `true` gives the inbound function a public function URL that sources
  hand to providers instead of the API's route (no API Gateway charge; README: Deploying to AWS).
- `publish_function_url`: `true` gives the publish function one too, for publishers to post
  events to instead of the API's route (README: Deploying to AWS).
- `retired_indexes_kept`: how many of a table's dropped indexes an upgrade step still deploys
  (CloudFormation deletes one index per table per update; README: Upgrading). Default 0.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: infra/ must not shadow the `constructs` library
    _INFRA = Path(__file__).resolve().parent
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _INFRA]
    sys.path.insert(0, str(_INFRA.parent))

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks

from infra import declaration as decl
from infra.constructs.naming import stack_name
from infra.stack import ServerlessWebhooksStack
from shared.core import resources as res
from shared.core.config import DEFAULT_RETENTION_DAYS, retention_days

CDK_JSON = Path(__file__).resolve().parent.parent / "cdk.json"
# Recommended feature flags this app leaves at the old default, each with its reason. cdk.json
# sets them explicitly (so `cdk` reports no unconfigured flag); a test keeps both lists in step.
FLAGS_AT_OLD_DEFAULT: dict[str, str] = {
    "@aws-cdk/core:enableAdditionalMetadataCollection": (
        "Reports which construct properties the app uses to AWS beyond the CDK's default usage "
        "data; the stack behaves the same without it, and widening what a deployment reports "
        "is the deploying team's choice, not this project's."
    ),
}


def cdk_json_context(path: Path = CDK_JSON) -> dict[str, Any]:
    """The `context` of cdk.json (the feature flags): the CLI passes it to the app, and tests and
    `python -m infra.app` read it here, so all three synthesize the same template."""
    context: dict[str, Any] = json.loads(path.read_text()).get("context", {})
    return context


def is_true(value: Any) -> bool:
    """Context from `-c key=value` arrives as text, from cdk.json as JSON: accept both."""
    return value is True or str(value).strip().lower() in {"true", "1", "yes"}


def build_app(
    context: dict[str, Any] | None = None, *, outdir: str | None = None, nag: bool = True
) -> cdk.App:
    """The app with its stack and, unless `nag=False`, the AwsSolutions validation plugin."""
    app = cdk.App(context={**cdk_json_context(), **(context or {})}, outdir=outdir)
    name = stack_name(app.node.try_get_context("stage"))
    ServerlessWebhooksStack(
        app,
        name,
        reserve_worker_concurrency=is_true(app.node.try_get_context("reserve_worker_concurrency")),
        retention_days=retention_days(
            str(app.node.try_get_context("retention_days") or DEFAULT_RETENTION_DAYS)
        ),
        strict_event_types=is_true(app.node.try_get_context("strict_event_types")),
        retired_indexes_kept=retired_indexes_kept(app.node.try_get_context("retired_indexes_kept")),
        public_urls=tuple(
            spec for spec in decl.PUBLIC_URLS if is_true(app.node.try_get_context(spec.context))
        ),
    )
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app


def retired_indexes_kept(value: Any) -> int:
    """The `retired_indexes_kept` context: a whole number from 0 to the most indexes any table
    retired (README: Upgrading); anything else stops the synth with the reason."""
    most = max(len(table.retired_indexes) for table in res.TABLES)
    text = str(value if value is not None else 0).strip()
    if not text.isdigit() or int(text) > most:
        raise ValueError(f"retired_indexes_kept must be a whole number from 0 to {most}: {value!r}")
    return int(text)


def main() -> None:
    build_app().synth()


if __name__ == "__main__":
    main()
