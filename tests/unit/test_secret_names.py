"""Secrets Manager names for user and source secrets: valid on AWS for every accepted id.

AWS's rule (moto accepts more): a name has only ASCII letters, digits and `/_+=.@-`, and at most
512 characters — https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
"""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from shared.core import ids
from shared.core.aws import client
from shared.core.patterns import USER_ID_PATTERN
from shared.store import secrets
from tests.conftest import ADMIN_KEY
from tests.support.api import InProcessApi

AWS_SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
# A CloudFormation stack name is at most 128 characters; its kebab-case form (the prefix) may
# gain a hyphen per capital letter.
PREFIXES = st.from_regex(r"[a-z][a-z0-9-]{0,254}", fullmatch=True)
ACCEPTED_USER_IDS = st.from_regex(USER_ID_PATTERN, fullmatch=True)
KEPT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.@-"


def unescape(segment: str) -> str:
    """The escaping's inverse, written from its definition: proves no two ids share a name."""
    out = bytearray()
    position = 0
    while position < len(segment):
        char = segment[position]
        if char == "=":
            out.append(int(segment[position + 1 : position + 3], 16))
            position += 3
        else:
            assert char in KEPT, segment
            out += char.encode()
            position += 1
    return out.decode("utf-8", "surrogatepass")


def user_segment(name: str, prefix: str) -> str:
    assert name.startswith(f"{prefix}/users/") and name.endswith("/signing"), name
    return name.removeprefix(f"{prefix}/users/").removesuffix("/signing")


@given(user_id=ACCEPTED_USER_IDS, prefix=PREFIXES)
def test_every_accepted_user_id_names_a_valid_secret_of_its_own(user_id: str, prefix: str) -> None:
    name = secrets.user_secret_name(user_id, prefix)
    assert AWS_SECRET_NAME.fullmatch(name), name
    segment = user_segment(name, prefix)
    if not segment.startswith("+"):
        assert unescape(segment) == user_id


@given(user_id=st.text(max_size=300), prefix=PREFIXES)
def test_any_text_at_all_names_a_valid_secret_of_its_own(user_id: str, prefix: str) -> None:
    """Ids outside today's rule too (older records, future rules) get a valid, distinct name."""
    name = secrets.user_secret_name(user_id, prefix)
    assert AWS_SECRET_NAME.fullmatch(name), name
    segment = user_segment(name, prefix)
    if segment.startswith("+"):
        assert re.fullmatch(r"\+[0-9a-f]{64}", segment), segment
    else:
        assert unescape(segment) == user_id


@given(first=st.text(min_size=1), second=st.text(min_size=1))
def test_two_ids_never_share_a_name(first: str, second: str) -> None:
    if first != second:
        assert secrets.user_secret_name(first, "p") != secrets.user_secret_name(second, "p")


@given(user_id=st.from_regex(r"[A-Za-z0-9_.@-]{1,128}", fullmatch=True))
def test_ids_that_were_valid_names_keep_the_name_their_secret_has(user_id: str) -> None:
    assert secrets.user_secret_name(user_id, "stack") == f"stack/users/{user_id}/signing"


def test_ids_near_the_edges() -> None:
    assert secrets.user_secret_name("acme:42", "p") == "p/users/acme=3A42/signing"
    assert secrets.user_secret_name("a=3A", "p") == "p/users/a=3D3A/signing"
    long_id = ":" * 128  # 384 characters escaped: over 512 with a long prefix
    hashed = secrets.user_secret_name(long_id, "p" * 200)
    assert AWS_SECRET_NAME.fullmatch(hashed) and "/users/+" in hashed
    assert secrets.user_secret_name("", "p") != secrets.user_secret_name("=", "p")


def test_source_secret_names_hold_no_user_id_and_are_valid(aws: dict[str, str]) -> None:
    for _ in range(20):
        assert AWS_SECRET_NAME.fullmatch(secrets.source_secret_name(ids.new_id("src")))


def test_a_user_id_with_a_colon_gets_a_secret_under_a_valid_name(
    aws: dict[str, str], receiver: Any
) -> None:
    """`:` is allowed in user ids, not in secret names: AWS would refuse CreateSecret.

    https://docs.aws.amazon.com/secretsmanager/latest/apireference/API_CreateSecret.html
    """
    api = InProcessApi()
    key = api.new_user_key(ADMIN_KEY, "acme:team@example.com")
    reply = api.request("POST", "/v1/webhooks", key, {"url": receiver.url("/c"), "events": ["*"]})
    assert reply.status == 201, reply.body
    assert api.request("GET", "/v1/secret", key).status == 200
    names = [item["Name"] for item in client("secretsmanager").list_secrets()["SecretList"]]
    assert names and all(AWS_SECRET_NAME.fullmatch(name) for name in names), names
