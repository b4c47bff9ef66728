"""Every name we hand AWS, built from ids the API accepts or makes, is one AWS accepts.

moto accepts names AWS refuses. The rules, from AWS's pages:
- Step Functions execution names: 1-80 characters; letters, digits, `-` and `_` keep them usable
  in CloudWatch (https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html).
- S3 object keys: at most 1,024 bytes of UTF-8; the safe characters are letters, digits and
  ``!-_.*'()/`` (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html).
(Secrets Manager names: tests/unit/test_secret_names.py.)
"""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from shared.core.ids import new_id
from shared.inbound.sources import SOURCE_ID
from shared.outbound.retry_carrier import BATCH_EXECUTION_PREFIX
from shared.outbound.worker import _retry
from shared.store.raw_bodies import key as raw_body_key

EXECUTION_NAME = re.compile(r"[A-Za-z0-9_-]{1,80}")
S3_SAFE_KEY = re.compile(r"[A-Za-z0-9!\-_.*'()/]+")
MILLIS = st.integers(min_value=0, max_value=2**48 - 1)  # every instant a ULID can carry
ATTEMPTS = st.integers(min_value=1, max_value=10_000)


@given(at_ms=MILLIS, failed_attempt=ATTEMPTS)
def test_retry_execution_names_fit_step_functions(at_ms: int, failed_attempt: int) -> None:
    delivery = {
        "delivery_id": new_id("dlv", at_ms),
        "user_id": "u",
        "event_id": new_id("evt", at_ms),
        "webhook_id": new_id("wh", at_ms),
    }
    name, _ = _retry(delivery, failed_attempt)
    assert EXECUTION_NAME.fullmatch(name), name


@given(at_ms=MILLIS)
def test_raw_body_keys_fit_s3(at_ms: int) -> None:
    source_id, event_id = new_id("src", at_ms), new_id("evt", at_ms)
    assert SOURCE_ID.fullmatch(source_id)  # the only source ids the API accepts
    key = raw_body_key(source_id, event_id)
    assert S3_SAFE_KEY.fullmatch(key) and len(key.encode()) <= 1024, key


@given(at_ms=MILLIS)
def test_batch_retry_execution_names_fit_step_functions(at_ms: int) -> None:
    """One execution carries a worker batch's long retries of one step (retry_carrier)."""
    name = new_id(BATCH_EXECUTION_PREFIX, at_ms)
    assert EXECUTION_NAME.fullmatch(name), name
