"""Evaluate recorded AWS calls against the role policies of the synthesized template.

IAM rules applied (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html):
- `*` matches any run of characters (also `/` and `:`), `?` exactly one character, in actions
  and in resource ARNs; action names compare case-insensitively, resource ARNs case-sensitively;
- only `Allow` statements exist in our roles (no Deny, NotAction, NotResource or Condition: a
  statement with one of those is refused here rather than half understood);
- a Secrets Manager ARN ends in `-` and six random characters, so a grant must end in `-??????`
  or `*` to match it (https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html).

Template expressions (`Ref`, `Fn::GetAtt ... Arn`, `Fn::Join`) are resolved to the physical names
the recording used: the environment variables declared in shared.core.resources (table names, queue
URLs, bucket, state machine, admin secret) tie each logical resource the functions reference to the
value local mode's provision() gives it for the recording's name prefix. Partition, region and
account are normalized on both sides. Logical resources no function names (log groups) resolve to
`<LogicalId.Arn>`, which no recorded call matches.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from infra.local.recorder import queue_arn, secret_arn

PARTITION, REGION, ACCOUNT = "aws", "us-east-1", "123456789012"
PSEUDO_PARAMETERS = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}
STATEMENT_KEYS = {"Effect", "Action", "Resource", "Sid"}


@functools.cache
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(
        ".*" if char == "*" else "." if char == "?" else re.escape(char) for char in pattern
    )
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """IAM action match: wildcards, case-insensitive."""
    return _wildcard(pattern, True).fullmatch(action) is not None


def resource_matches(pattern: str, arn: str) -> bool:
    """IAM resource match: wildcards, case-sensitive, across `:` and `/` too."""
    return _wildcard(pattern, False).fullmatch(arn) is not None


def normalize_arn(arn: str) -> str:
    """Fixed partition, region and account (where the ARN has them and they are no wildcard)."""
    parts = arn.split(":", 5)
    if len(parts) < 6 or parts[0] != "arn":
        return arn
    parts[1] = PARTITION
    for index, value in ((3, REGION), (4, ACCOUNT)):
        if parts[index] and not set(parts[index]) & {"*", "?"}:
            parts[index] = value
    return ":".join(parts)


@dataclass(frozen=True)
class Physical:
    """What `Ref` and `Fn::GetAtt [.., Arn]` of one logical resource resolve to."""

    ref: str
    arn: str


def physical_resources(
    template: Mapping[str, Any], provisioned_env: Mapping[str, str]
) -> dict[str, Physical]:
    """Logical id → its local physical name/ARN, joined through the functions' env variables."""
    found: dict[str, Physical] = {}
    resources = template["Resources"]
    for resource in resources.values():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        variables = resource["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            if isinstance(value, dict) and set(value) == {"Ref"} and name in provisioned_env:
                logical = value["Ref"]
                found[logical] = _physical(resources[logical]["Type"], provisioned_env[name])
    return found


def _physical(cfn_type: str, value: str) -> Physical:
    """`value` is what provision() put in the variable: a name, a URL or an ARN."""
    if cfn_type == "AWS::DynamoDB::Table":
        return Physical(value, f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{value}")
    if cfn_type == "AWS::SQS::Queue":
        return Physical(value, queue_arn(value))
    if cfn_type == "AWS::S3::Bucket":
        return Physical(value, f"arn:aws:s3:::{value}")
    if cfn_type == "AWS::SecretsManager::Secret":
        return Physical(secret_arn(value), secret_arn(value))
    if cfn_type == "AWS::StepFunctions::StateMachine":
        return Physical(value, value)
    raise ValueError(f"no physical form known for {cfn_type} ({value})")


class Resolver:
    """Resolves policy expressions of one template for one recording prefix."""

    def __init__(
        self, physical: Mapping[str, Physical], stack_prefix: str, recorded_prefix: str
    ) -> None:
        self.physical = physical
        # Runtime secrets are named `<SECRET_PREFIX>/...`; the template spells the stack's prefix.
        self.secret_names = (f":secret:{stack_prefix}/", f":secret:{recorded_prefix}/")

    def resolve(self, expression: Any) -> str:
        if isinstance(expression, str):
            return expression.replace(*self.secret_names)
        if isinstance(expression, dict) and len(expression) == 1:
            ((function, argument),) = expression.items()
            if function == "Ref":
                return self._ref(argument)
            if function == "Fn::GetAtt" and argument[1] == "Arn":
                known = self.physical.get(argument[0])
                return known.arn if known else f"<{argument[0]}.Arn>"
            if function == "Fn::Join":
                separator, parts = argument
                return str(separator).join(self.resolve(part) for part in parts)
        raise ValueError(f"cannot resolve policy expression {expression!r}")

    def _ref(self, name: str) -> str:
        if name in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[name]
        known = self.physical.get(name)
        return known.ref if known else f"<{name}>"


def render(expression: Any) -> str:
    """A template expression as cdk-nag prints it: `<Events.Arn>/index/*`, for messages."""
    if isinstance(expression, str):
        return expression
    ((function, argument),) = expression.items()
    if function == "Ref":
        return f"<{argument}>"
    if function == "Fn::GetAtt":
        return f"<{argument[0]}.{argument[1]}>"
    if function == "Fn::Join":
        return str(argument[0]).join(render(part) for part in argument[1])
    return repr(expression)


@dataclass(frozen=True)
class Grant:
    """One action on one resource expression of a role's policy statement."""

    function: str
    action: str
    resource: Any  # the template expression

    def __str__(self) -> str:
        return f"{self.function}: {self.action} on {render(self.resource)}"


@dataclass(frozen=True)
class Call:
    """One recorded call (see infra/local/recorder.py)."""

    function: str
    operation: str
    action: str
    resource: str
    prefix: str

    @classmethod
    def from_record(cls, record: Mapping[str, str]) -> Call:
        return cls(
            record["function"],
            record["operation"],
            record["action"],
            record["resource"],
            record["prefix"],
        )

    def __str__(self) -> str:
        return f"{self.function}: {self.action} on {self.resource} ({self.operation})"


def grants_of(statements: Iterable[Mapping[str, Any]], function: str) -> list[Grant]:
    """Every (action, resource) pair of the statements; anything but plain Allow is refused."""
    grants = []
    for statement in statements:
        unexpected = set(statement) - STATEMENT_KEYS
        if statement["Effect"] != "Allow" or unexpected:
            raise ValueError(f"{function}: statement not understood here: {statement}")
        for action in _as_list(statement["Action"]):
            grants += [Grant(function, action, item) for item in _as_list(statement["Resource"])]
    return grants


def allows(grant: Grant, call: Call, resolver: Resolver) -> bool:
    if grant.function != call.function or not action_matches(grant.action, call.action):
        return False
    pattern = normalize_arn(resolver.resolve(grant.resource))
    return resource_matches(pattern, normalize_arn(call.resource))


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]
