"""One synth per test session (jsii start-up plus synth costs ~10 s), shared by every infra test.

The app is built exactly as `cdk synth` builds it (cdk-nag plugin included) but with bundling
skipped. If cdk-nag fails the synth, the templates are written anyway: the template tests still
run from them and the nag test reports the findings.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra import declaration as decl
from infra.app import build_app
from infra.constructs.naming import stack_name
from infra.stack import STACK_NAME, ServerlessWebhooksStack

SKIP_BUNDLING: dict[str, Any] = {"aws:cdk:bundling-stacks": []}


@dataclass
class Synth:
    """The synthesized app, with helpers to find resources in its one template."""

    app: cdk.App
    stack: ServerlessWebhooksStack
    template: Template
    json: dict[str, Any]
    nag_failure: str | None

    @staticmethod
    def ref(logical_id: str) -> dict[str, Any]:
        return {"Ref": logical_id}

    @staticmethod
    def arn(logical_id: str) -> dict[str, Any]:
        return {"Fn::GetAtt": [logical_id, "Arn"]}

    def resources(self, cfn_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource
            for logical_id, resource in self.json["Resources"].items()
            if resource["Type"] == cfn_type
        }

    def props(self, logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.json["Resources"][logical_id]["Properties"]
        return properties

    def function_id(self, spec: decl.Function) -> str:
        """Logical id of the Lambda function declared by `spec` (handlers are unique)."""
        (found,) = [
            logical_id
            for logical_id, fn in self.resources("AWS::Lambda::Function").items()
            if fn["Properties"]["Handler"] == spec.handler
        ]
        return found

    def role_statements(self, spec: decl.Function) -> list[dict[str, Any]]:
        """Every statement of the function's role policies (its own role: one default policy)."""
        role = self.props(self.function_id(spec))["Role"]["Fn::GetAtt"][0]
        statements: list[dict[str, Any]] = []
        for policy in self.resources("AWS::IAM::Policy").values():
            if {"Ref": role} in policy["Properties"]["Roles"]:
                statements += policy["Properties"]["PolicyDocument"]["Statement"]
        return statements

    def grants(self, spec: decl.Function) -> set[tuple[str, str]]:
        """(action, resource) pairs, resources rendered as compact JSON for matching."""
        pairs: set[tuple[str, str]] = set()
        for statement in self.role_statements(spec):
            assert statement["Effect"] == "Allow"
            for action in as_list(statement["Action"]):
                for resource in as_list(statement["Resource"]):
                    pairs.add((action, json.dumps(resource, sort_keys=True)))
        return pairs


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Synth]:
    outdir = tmp_path_factory.mktemp("cdk.out")
    app = build_app(SKIP_BUNDLING, outdir=str(outdir))
    stack = app.node.find_child(STACK_NAME)
    assert isinstance(stack, ServerlessWebhooksStack)
    nag_failure = None
    try:
        app.synth()
    except RuntimeError as error:  # the validation plugin failed the synth
        report = outdir / "validation-report.json"
        nag_failure = f"{error}\n{report.read_text() if report.exists() else ''}"
    template_json = json.loads((Path(outdir) / f"{STACK_NAME}.template.json").read_text())
    yield Synth(app, stack, Template.from_json(template_json), template_json, nag_failure)


@pytest.fixture(scope="session")
def template(synth: Synth) -> Template:
    return synth.template


def stage_template(stage: str, outdir: Path, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The stage's template as `cdk synth -c stage=<stage>` writes it (bundling skipped)."""
    context = {**SKIP_BUNDLING, "stage": stage, **(extra or {})}
    build_app(context, outdir=str(outdir), nag=False).synth()
    template: dict[str, Any] = json.loads(
        (outdir / f"{stack_name(stage)}.template.json").read_text()
    )
    return template


@pytest.fixture(scope="session")
def stages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Templates of `-c stage=staging` and `-c stage=prod`, the second also with
    `-c reserve_worker_concurrency=true` (as text, the way the CLI passes context)."""
    return {
        "staging": stage_template("staging", tmp_path_factory.mktemp("staging")),
        "prod": stage_template(
            "prod", tmp_path_factory.mktemp("prod"), {"reserve_worker_concurrency": "true"}
        ),
    }
