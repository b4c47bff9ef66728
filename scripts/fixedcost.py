"""What the stack costs a month whatever its traffic: secrets, custom metrics, alarms, dashboards.

Counted, never assumed:
- secrets: the stack's own (AWS::SecretsManager::Secret in the synthesized template) and the
  ones the code creates per tenant (secretsmanager.CreateSecret calls the bench metered while a
  tenant was set up: user, webhook, inbound source);
- custom metrics: every (namespace, metric, dimension set, dimension values) the handlers' EMF
  output carried in the metered runs; a dimension whose value is a tenant's id (user, webhook,
  source) makes one metric per tenant, the others one in all. CloudWatch bills a custom metric
  for the hours it receives data, so an idle stack pays none;
- alarms: per metric each AWS::CloudWatch::Alarm reads (a metric math alarm: each MetricStat of
  its expression); dashboards: AWS::CloudWatch::Dashboard resources.

`python -m scripts.fixedcost OUT.json` synthesizes the app (bundling skipped, no cdk-nag) and
writes the template's counts to OUT.json: the bench runs it in a child process, as jsii wants.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scripts import prices

Metric = tuple[str, str, tuple[tuple[str, str], ...]]  # namespace, name, dimensions


@dataclass(frozen=True)
class StackCounts:
    secrets: int
    alarm_metrics: int
    alarms: int
    dashboards: int


def template_counts(template: dict[str, Any]) -> StackCounts:
    resources = template.get("Resources", {}).values()

    def of(kind: str) -> list[dict[str, Any]]:
        return [r.get("Properties", {}) for r in resources if r.get("Type") == kind]

    alarms = of("AWS::CloudWatch::Alarm")
    metrics = sum(
        sum(1 for query in alarm["Metrics"] if "MetricStat" in query) if "Metrics" in alarm else 1
        for alarm in alarms
    )
    return StackCounts(
        secrets=len(of("AWS::SecretsManager::Secret")),
        alarm_metrics=metrics,
        alarms=len(alarms),
        dashboards=len(of("AWS::CloudWatch::Dashboard")),
    )


def emf_metrics(documents: Iterable[dict[str, Any]]) -> set[Metric]:
    """Every metric the EMF documents define: one per dimension set and its values."""
    found: set[Metric] = set()
    for document in documents:
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            namespace = str(directive.get("Namespace", ""))
            for definition in directive.get("Metrics", []):
                for dimension_set in directive.get("Dimensions", []) or [[]]:
                    values = tuple((name, str(document.get(name, ""))) for name in dimension_set)
                    found.add((namespace, str(definition.get("Name", "")), values))
    return found


def split_by_tenant(metrics: set[Metric], tenant_ids: set[str]) -> tuple[int, int]:
    """(metrics whatever the tenants, metrics per tenant): a metric with a dimension whose value
    is a tenant's id exists once per tenant; those differing only in that id count once."""
    shared = {metric for metric in metrics if not _per_tenant(metric, tenant_ids)}
    per_tenant = {
        (namespace, name, tuple(name_ for name_, _ in dimensions))
        for namespace, name, dimensions in metrics
        if _per_tenant((namespace, name, dimensions), tenant_ids)
    }
    return len(shared), len(per_tenant)


def _per_tenant(metric: Metric, tenant_ids: set[str]) -> bool:
    return any(value in tenant_ids for _, value in metric[2])


@dataclass(frozen=True)
class Monthly:
    """One row of the fixed monthly cost: counts and dollars per component."""

    name: str
    secrets: int
    metrics: int
    alarm_metrics: int
    dashboards: int

    def dollars(self) -> dict[str, float]:
        return {
            "Secrets Manager secrets": self.secrets * prices.SECRET_MONTH.per_unit(),
            "CloudWatch custom metrics": self.metrics * prices.CUSTOM_METRIC_MONTH.per_unit(),
            "CloudWatch alarms": self.alarm_metrics * prices.ALARM_METRIC_MONTH.per_unit(),
            "CloudWatch dashboards": self.dashboards * prices.DASHBOARD_MONTH.per_unit(),
        }

    def total(self) -> float:
        return sum(self.dollars().values())


def monthly(
    name: str,
    stack: StackCounts,
    tenants: int,
    secrets_per_tenant: int,
    metrics: tuple[int, int],
    active: bool,
) -> Monthly:
    """The fixed cost of `tenants` tenants; `active`: every metric receives data all month."""
    shared, per_tenant = metrics
    return Monthly(
        name,
        secrets=stack.secrets + tenants * secrets_per_tenant,
        metrics=(shared + tenants * per_tenant) if active else 0,
        alarm_metrics=stack.alarm_metrics,
        dashboards=stack.dashboards,
    )


def synthesize() -> dict[str, Any]:
    from infra.app import build_app
    from infra.constructs.naming import stack_name

    with tempfile.TemporaryDirectory() as outdir:
        app = build_app({"aws:cdk:bundling-stacks": []}, outdir=outdir, nag=False)
        app.synth()
        path = Path(outdir) / f"{stack_name(app.node.try_get_context('stage'))}.template.json"
        template: dict[str, Any] = json.loads(path.read_text())
    return template


def main(out: str) -> int:
    counts = template_counts(synthesize())
    Path(out).write_text(json.dumps(counts.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
