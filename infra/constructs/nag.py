"""cdk-nag acknowledgments: every one carries a written reason.

cdk-nag 3 reads acknowledgments from `Validations.of(construct).acknowledge(...)` on a resource or
any of its ancestors. AwsSolutions-IAM5 reports one finding per wildcard (`IAM5[Action::s3:List*]`,
`IAM5[Resource::<Table.Arn>/index/*]`, ...) and each must be acknowledged by its exact id. Rather
than copying rendered token strings by hand, `WildcardAcknowledger` recomputes the findings the
way cdk-nag does and acknowledges a finding only when every statement that produces it is covered
by one of a few narrow, explained rules; any other wildcard still fails the check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jsii
from aws_cdk import Acknowledgment, IAspect, Stack, Validations
from aws_cdk import aws_iam as iam
from constructs import IConstruct

IAM5 = "AwsSolutions-IAM5"


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one nag rule on a construct and everything below it."""
    Validations.of(construct).acknowledge(Acknowledgment(id=rule_id, reason=reason))


@dataclass(frozen=True)
class WildcardRule:
    """A justified kind of IAM wildcard: `matches(finding, actions, resources)` and why."""

    reason: str
    matches: Callable[[str, Sequence[str], Sequence[str]], bool]


def resource_star_for(actions: Iterable[str], reason: str) -> WildcardRule:
    """`Resource::*` allowed only on statements whose actions are all in `actions`."""
    allowed = frozenset(actions)

    def matches(finding: str, statement_actions: Sequence[str], _: Sequence[str]) -> bool:
        return finding == "Resource::*" and set(statement_actions) <= allowed

    return WildcardRule(reason, matches)


def finding_pattern(pattern: str, reason: str) -> WildcardRule:
    """A finding (already flattened like cdk-nag does) that fully matches `pattern`."""
    compiled = re.compile(pattern)

    def matches(finding: str, _actions: Sequence[str], _resources: Sequence[str]) -> bool:
        return compiled.fullmatch(finding) is not None

    return WildcardRule(reason, matches)


def flatten_reference(value: Any) -> str:
    """cdk-nag's `flattenCfnReference`: `{"Fn::GetAtt": ["T", "Arn"]}` → `<T.Arn>`, and so on."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if isinstance(value, dict):
        if value.get("Fn::Join"):
            delimiter, items = value["Fn::Join"]
            return str(delimiter).join(flatten_reference(item) for item in items)
        if value.get("Fn::Sub"):
            return flatten_reference(value["Fn::Sub"])
        if value.get("Fn::GetAtt"):
            resource, attribute = value["Fn::GetAtt"]
            return f"<{flatten_reference(resource)}.{flatten_reference(attribute)}>"
        if value.get("Fn::ImportValue"):
            return flatten_reference(value["Fn::ImportValue"])
        if value.get("Ref"):
            return f"<{flatten_reference(value['Ref'])}>"
    return json.dumps(value, separators=(",", ":"))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statement_findings(statement: dict[str, Any]) -> list[str]:
    """The IAM5 findings cdk-nag reports for one statement (Allow only)."""
    if statement.get("Effect") != "Allow":
        return []
    actions = [str(action) for action in _as_list(statement.get("Action"))]
    resources = [flatten_reference(r) for r in _as_list(statement.get("Resource"))]
    return [f"Action::{a}" for a in actions if "*" in a] + [
        f"Resource::{r}" for r in resources if "*" in r
    ]


@jsii.implements(IAspect)
class WildcardAcknowledger:
    """Acknowledges IAM5 findings on IAM policies when a `WildcardRule` explains them."""

    def __init__(self, rules: Sequence[WildcardRule]) -> None:
        self.rules = list(rules)

    def visit(self, node: IConstruct) -> None:
        if not isinstance(node, iam.CfnPolicy):
            return
        document = Stack.of(node).resolve(node.policy_document)
        reasons: dict[str, list[str | None]] = {}
        for statement in document.get("Statement", []):
            actions = [str(action) for action in _as_list(statement.get("Action"))]
            resources = [flatten_reference(r) for r in _as_list(statement.get("Resource"))]
            for finding in statement_findings(statement):
                reasons.setdefault(finding, []).append(self._reason(finding, actions, resources))
        for finding, found in reasons.items():
            if all(found):
                acknowledge(node, f"{IAM5}[{finding}]", " ".join(sorted({str(r) for r in found})))

    def _reason(self, finding: str, actions: Sequence[str], resources: Sequence[str]) -> str | None:
        for rule in self.rules:
            if rule.matches(finding, actions, resources):
                return rule.reason
        return None
