"""cdk-nag AwsSolutions: no unacknowledged finding, and every acknowledgment says why."""

from __future__ import annotations

from typing import Any

import pytest
from aws_cdk import App, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk.assertions import Annotations, Match
from cdk_nag import AwsSolutionsChecks

from infra.constructs.nag import (
    WildcardAcknowledger,
    flatten_reference,
    resource_star_for,
    statement_findings,
)

pytestmark = pytest.mark.xdist_group("cdk")

ACKNOWLEDGED = Validations.ACKNOWLEDGED_RULES_METADATA_KEY


def _acknowledgments(root: Any) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for construct in root.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == ACKNOWLEDGED and entry.data:
                found.setdefault(construct.node.path, {}).update(entry.data)
    return found


def test_synth_with_the_nag_plugin_succeeds(synth: Any) -> None:
    """The app as `cdk synth` builds it: the plugin fails the synth on any finding."""
    assert synth.nag_failure is None, synth.nag_failure


def test_no_unacknowledged_errors_or_warnings(synth: Any) -> None:
    report = AwsSolutionsChecks().validate_scope(synth.app)
    findings = [
        f"{v.severity} {v.rule_name}: {[r.construct_path for r in v.violating_resources]}"
        for v in report.violations
    ]
    assert findings == []
    assert report.success


def test_every_acknowledgment_has_a_reason(synth: Any) -> None:
    acknowledgments = _acknowledgments(synth.app)
    assert acknowledgments  # the stack does rely on some, each explained
    for path, rules in acknowledgments.items():
        for rule, reason in rules.items():
            assert "AwsSolutions-" in rule, (path, rule)
            assert len(reason.split()) >= 8, (path, rule, reason)


def _policy(statements: list[dict[str, Any]]) -> tuple[App, iam.CfnPolicy]:
    app = App()
    policy = iam.CfnPolicy(
        Stack(app, "S"),
        "P",
        policy_name="p",
        roles=["r"],
        policy_document={"Version": "2012-10-17", "Statement": statements},
    )
    return app, policy


def test_wildcard_acknowledger_only_acknowledges_explained_statements() -> None:
    acknowledger = WildcardAcknowledger([resource_star_for(["xray:PutTraceSegments"], "why")])
    xray = {"Effect": "Allow", "Action": "xray:PutTraceSegments", "Resource": "*"}
    s3 = {"Effect": "Allow", "Action": ["s3:GetObject*"], "Resource": "*"}
    app, explained = _policy([xray])
    acknowledger.visit(explained)
    # CDK records rule ids without a known plugin prefix as `Annotation::<id>`; cdk-nag strips it.
    assert _acknowledgments(app) == {"S/P": {"Annotation::AwsSolutions-IAM5[Resource::*]": "why"}}
    app, mixed = _policy([xray, s3])  # the same finding from an unexplained statement
    acknowledger.visit(mixed)
    assert _acknowledgments(app) == {}


def test_findings_are_flattened_like_cdk_nag() -> None:
    arn = {"Fn::GetAtt": ["Events", "Arn"]}
    assert flatten_reference({"Fn::Join": ["", [arn, "/index/*"]]}) == "<Events.Arn>/index/*"
    assert flatten_reference({"Ref": "AWS::Region"}) == "<AWS::Region>"
    statement = {"Effect": "Allow", "Action": ["s3:List*", "s3:GetObject"], "Resource": [arn]}
    assert statement_findings(statement) == ["Action::s3:List*"]
    assert statement_findings({**statement, "Effect": "Deny"}) == []


def test_no_error_or_warning_annotations(synth: Any) -> None:
    """cdk-nag 3 reports through the validation plugin, not annotations; CDK's own must be clean."""
    annotations = Annotations.from_stack(synth.stack)
    assert annotations.find_error("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.any_value()) == []
    assert annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*")) == []
