"""IAM matching as tests/infra/test_iam_calls.py applies it (tests/support/iam_policies.py).

Wildcards: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
(`*` any run of characters, `?` one character, in any ARN segment) and
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html (action
names are case-insensitive). Secret ARNs: https://docs.aws.amazon.com/secretsmanager/latest/userguide/auth-and-access_examples.html
(the name is followed by `-` and six random characters, so a grant names `name-??????` or `name*`).
"""

from __future__ import annotations

import pytest

from tests.support.iam_policies import (
    Call,
    Grant,
    Physical,
    Resolver,
    action_matches,
    allows,
    grants_of,
    normalize_arn,
    resource_matches,
)

SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/users/u1-AbCdEf"


def test_a_star_spans_slashes_and_colons() -> None:
    assert resource_matches("arn:aws:s3:::raw/*", "arn:aws:s3:::raw/inbound/src_1/evt_2")
    assert resource_matches(
        "arn:aws:dynamodb:*:*:table/T/index/*", "arn:aws:dynamodb:r:1:table/T/index/i"
    )
    assert not resource_matches("arn:aws:s3:::raw/*", "arn:aws:s3:::raw")


def test_a_question_mark_is_exactly_one_character() -> None:
    pattern = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/users/u1-??????"
    assert resource_matches(pattern, SECRET)
    assert not resource_matches(pattern, SECRET[:-1])
    assert not resource_matches(pattern, SECRET + "x")


def test_a_grant_on_a_secrets_bare_name_does_not_cover_its_arn() -> None:
    """The ARN AWS evaluates carries the random suffix the name lacks."""
    bare = "arn:aws:secretsmanager:us-east-1:123456789012:secret:app/users/u1"
    assert not resource_matches(bare, SECRET)
    assert resource_matches(bare + "*", SECRET)


def test_actions_ignore_case_but_resources_do_not() -> None:
    assert action_matches("SQS:sendmessage", "sqs:SendMessage")
    assert action_matches("s3:GetObject*", "s3:GetObjectVersion")
    assert not action_matches("s3:GetObject", "s3:GetObjectVersion")
    assert not resource_matches("arn:aws:s3:::Raw/*", "arn:aws:s3:::raw/k")


def test_partition_region_and_account_are_normalized_but_wildcards_kept() -> None:
    assert (
        normalize_arn("arn:aws-cn:sqs:cn-north-1:111:q") == "arn:aws:sqs:us-east-1:123456789012:q"
    )
    assert normalize_arn("arn:aws:sqs:*:*:q") == "arn:aws:sqs:*:*:q"
    assert normalize_arn("arn:aws:s3:::b/k") == "arn:aws:s3:::b/k"


def _resolver() -> Resolver:
    physical = {
        "Tbl": Physical("test-Tbl", "arn:aws:dynamodb:us-east-1:123456789012:table/test-Tbl")
    }
    return Resolver(physical, stack_prefix="stack", recorded_prefix="test")


def test_template_expressions_resolve_to_the_recordings_names() -> None:
    resolver = _resolver()
    index = {"Fn::Join": ["", [{"Fn::GetAtt": ["Tbl", "Arn"]}, "/index/*"]]}
    assert (
        resolver.resolve(index) == "arn:aws:dynamodb:us-east-1:123456789012:table/test-Tbl/index/*"
    )
    secrets = {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":secretsmanager:", {"Ref": "AWS::Region"}, ":",
             {"Ref": "AWS::AccountId"}, ":secret:stack/users/*"],
        ]
    }  # fmt: skip
    assert resolver.resolve(secrets).endswith(":secret:test/users/*")
    assert resolver.resolve({"Fn::GetAtt": ["LogGroup", "Arn"]}) == "<LogGroup.Arn>"
    with pytest.raises(ValueError, match="cannot resolve"):
        resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:s3:::x"})


def test_a_grant_allows_only_its_own_functions_calls() -> None:
    grant = Grant("api", "dynamodb:Query", {"Fn::GetAtt": ["Tbl", "Arn"]})
    table = "arn:aws:dynamodb:eu-west-1:999999999999:table/test-Tbl"
    assert allows(grant, Call("api", "Query", "dynamodb:Query", table, "test"), _resolver())
    assert not allows(grant, Call("inbound", "Query", "dynamodb:Query", table, "test"), _resolver())
    other = Call("api", "Query", "dynamodb:Query", table + "/index/by_x", "test")
    assert not allows(grant, other, _resolver())


def test_statements_other_than_a_plain_allow_are_refused() -> None:
    with pytest.raises(ValueError, match="not understood"):
        grants_of([{"Effect": "Deny", "Action": "s3:*", "Resource": "*"}], "api")
    conditional = {"Effect": "Allow", "Action": "s3:*", "Resource": "*", "Condition": {}}
    with pytest.raises(ValueError, match="not understood"):
        grants_of([conditional], "api")
