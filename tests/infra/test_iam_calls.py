"""Every AWS call our functions make is allowed by the role `cdk deploy` gives them, and every grant
of those roles is used (or kept for a stated reason).

moto never evaluates IAM: a call the role lacks passes every other test and fails only on AWS.
The rest of the suite records each call (infra/local/recorder.py: the unit tests' in-process
handlers, the end-to-end tests' local mode containers) into WEBHOOKS_RECORD_AWS_CALLS; these tests
read the records, so they run after the suite: `make test` runs them as its last step with
`-m after_suite` (a plain `pytest` deselects them, see tests/conftest.py). Without records they
fail instead of passing on nothing.

Matching follows IAM's rules for actions and resource ARNs, `*` and `?` included
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html), and
Secrets Manager's random ARN suffix, which grants must cover with `-??????` or `*`
(https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html); see
tests/support/iam_policies.py.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import boto3
import pytest

from infra import declaration as decl
from infra.constructs.permissions import KEPT_WITHOUT_A_TEST_CALL, KeptGrant
from infra.local.provision import provision
from infra.local.recorder import read_records
from tests.infra.conftest import Synth
from tests.support.aws_call_recording import recordings_dir
from tests.support.iam_policies import (
    Call,
    Grant,
    Resolver,
    allows,
    grants_of,
    physical_resources,
    render,
)

pytestmark = [pytest.mark.xdist_group("cdk"), pytest.mark.after_suite]


@pytest.fixture(scope="module")
def calls() -> list[Call]:
    directory = recordings_dir()
    assert directory is not None, "WEBHOOKS_RECORD_AWS_CALLS is not set: run `make test`"
    assert directory.is_dir(), f"no recordings in {directory}: run the suite with recording on"
    records = [Call.from_record(record) for record in read_records(directory)]
    assert records, f"{directory} holds no recorded call: nothing to check"
    return records


@pytest.fixture(scope="module")
def role_grants(synth: Synth) -> list[Grant]:
    return [
        grant
        for spec in decl.FUNCTIONS
        for grant in grants_of(synth.role_statements(spec), spec.name)
    ]


@pytest.fixture(scope="module")
def resolvers(synth: Synth, calls: list[Call]) -> dict[str, Resolver]:
    """One resolver per recorded name prefix ("test" in unit tests, the stack's in local mode)."""
    return {
        prefix: Resolver(
            physical_resources(synth.json, _provisioned_env(prefix)),
            synth.stack.secret_prefix,
            prefix,
        )
        for prefix in {call.prefix for call in calls}
    }


def _provisioned_env(prefix: str) -> dict[str, str]:
    """The names, URLs and ARNs local mode gives the stack's resources under `prefix`."""
    from moto import mock_aws

    with mock_aws():
        return provision(boto3.session.Session(region_name="us-east-1"), prefix, "unused")


def test_the_suite_recorded_calls_of_every_function(calls: list[Call]) -> None:
    """Both sources wrote records: in-process handlers and local mode's function containers."""
    directory = recordings_dir()
    assert directory is not None
    recorded = {call.function for call in calls}
    assert recorded == {spec.name for spec in decl.FUNCTIONS}, "functions without a recorded call"
    files = [path.name for path in Path(directory).glob("*.jsonl")]
    assert any(not name.startswith("tests-") for name in files), (
        f"no local mode container recorded its calls ({files}): is the variable passed on?"
    )


def test_every_recorded_call_is_allowed(
    calls: list[Call], role_grants: list[Grant], resolvers: dict[str, Resolver]
) -> None:
    denied = [
        call
        for call in sorted(set(calls), key=str)
        if not any(allows(grant, call, resolvers[call.prefix]) for grant in role_grants)
    ]
    if denied:
        message = "calls the deployed role would refuse:\n" + _denials(denied, role_grants)
        pytest.fail(message, pytrace=False)


def _denials(denied: list[Call], role_grants: list[Grant]) -> str:
    """One entry per function, action and operation: a resource, how many more, what is granted."""
    resources: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for call in denied:
        resources[(call.function, call.action, call.operation)].append(call.resource)
    lines = []
    for (function, action, operation), arns in sorted(resources.items()):
        more = f" (and {len(arns) - 1} more like it)" if len(arns) > 1 else ""
        granted = sorted(
            render(grant.resource)
            for grant in role_grants
            if grant.function == function and grant.action.lower() == action.lower()
        )
        lines += [
            f"  {function}: {action} on {arns[0]}{more}, called by {operation}",
            f"    missing grant: {action} on {arns[0]}; the {function} role grants {action} on: "
            + (", ".join(granted) or "nothing"),
        ]
    return "\n".join(lines)


def test_every_grant_is_used_or_kept_for_a_reason(
    calls: list[Call], role_grants: list[Grant], resolvers: dict[str, Resolver]
) -> None:
    unused = [
        grant
        for grant in role_grants
        if not any(allows(grant, call, resolvers[call.prefix]) for call in calls)
    ]
    unexplained = [grant for grant in unused if not _kept(grant)]
    if unexplained:
        pytest.fail(
            "grants no recorded call uses: remove them from infra/constructs, or keep them with "
            "a reason in infra/constructs/permissions.py (KEPT_WITHOUT_A_TEST_CALL):\n"
            + "\n".join(f"  {grant}" for grant in sorted(unexplained, key=str)),
            pytrace=False,
        )
    stale = [rule for rule in KEPT_WITHOUT_A_TEST_CALL if not any(_kept(g, [rule]) for g in unused)]
    assert not stale, f"reasons for grants that are gone or now used (remove them): {stale}"


def _kept(grant: Grant, rules: Iterable[KeptGrant] = KEPT_WITHOUT_A_TEST_CALL) -> bool:
    shown = render(grant.resource)
    return any(rule.covers(grant.function, grant.action, shown) for rule in rules)
