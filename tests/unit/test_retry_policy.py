"""The retry schedule: default with jitter, env override, webhook policy, Retry-After, give up."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from shared.core import clock
from shared.core.config import DEFAULT_RETRY_SCHEDULE, parse_retry_schedule, settings
from shared.outbound.retry_policy import JITTER, next_delay, retry_after_seconds, schedule

SAMPLES = 400


def use_schedule(monkeypatch: pytest.MonkeyPatch, value: str | None) -> None:
    if value is None:
        monkeypatch.delenv("WEBHOOKS_RETRY_SCHEDULE", raising=False)
    else:
        monkeypatch.setenv("WEBHOOKS_RETRY_SCHEDULE", value)
    settings.cache_clear()


@pytest.fixture(autouse=True)
def fresh_settings() -> Iterator[None]:
    settings.cache_clear()
    state = random.getstate()
    random.seed(20261101)
    yield
    random.setstate(state)
    settings.cache_clear()


def http_date(delta_seconds: int) -> str:
    moment = datetime.fromtimestamp(clock.now(), tz=UTC) + timedelta(seconds=delta_seconds)
    return format_datetime(moment, usegmt=True)


# --- Default schedule --------------------------------------------------------------------


def test_default_schedule_is_1m_5m_30m_2h_24h(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, None)
    assert DEFAULT_RETRY_SCHEDULE == (60, 300, 1800, 7200, 86400)
    assert schedule(None) == ([60, 300, 1800, 7200, 86400], 86400)


@pytest.mark.parametrize(
    ("failed_attempt", "base"), [(1, 60), (2, 300), (3, 1800), (4, 7200), (5, 86400)]
)
def test_default_delays_have_ten_percent_jitter(
    monkeypatch: pytest.MonkeyPatch, failed_attempt: int, base: int
) -> None:
    use_schedule(monkeypatch, None)
    delays = [next_delay(None, failed_attempt, 500, None) for _ in range(SAMPLES)]
    assert all(d is not None for d in delays)
    values = [int(d) for d in delays if d is not None]
    low, high = round(base * (1 - JITTER)), round(base * (1 + JITTER))
    assert JITTER == 0.10
    assert all(low <= value <= high for value in values), (min(values), max(values))
    # The jitter is real: both sides of the base delay are drawn, and values spread out.
    assert min(values) < base < max(values)
    assert max(values) - min(values) >= base * 0.15


def test_default_gives_up_after_the_sixth_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, None)
    assert next_delay(None, 5, 500, None) is not None
    assert next_delay(None, 6, 500, None) is None
    assert next_delay(None, 7, None, None) is None


def test_failures_without_status_are_retried_too(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, None)
    delay = next_delay(None, 1, None, None)  # timeout, connection or TLS error
    assert delay is not None and 54 <= delay <= 66


# --- WEBHOOKS_RETRY_SCHEDULE -------------------------------------------------------------


def test_env_schedule_replaces_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, "1,2,4")
    assert schedule(None) == ([1, 2, 4], 86400)
    assert next_delay(None, 1, 500, None) == 1
    assert next_delay(None, 2, 500, None) == 2
    assert next_delay(None, 3, 500, None) == 4  # 3.6..4.4 rounds to 4
    assert next_delay(None, 4, 500, None) is None


def test_env_schedule_1_1_1_means_four_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, "1,1,1")
    assert [next_delay(None, n, 503, None) for n in (1, 2, 3, 4)] == [1, 1, 1, None]


def test_env_schedule_jitters_larger_delays(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, "100")
    values = {next_delay(None, 1, 500, None) for _ in range(SAMPLES)}
    assert values <= set(range(90, 111))
    assert len(values) > 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [("", None), ("  ", None), ("1,2,4", (1, 2, 4)), (" 5 , 10 ,", (5, 10)), ("0", (0,))],
)
def test_parse_retry_schedule(text: str, expected: tuple[int, ...] | None) -> None:
    assert parse_retry_schedule(text) == expected


@pytest.mark.parametrize("text", ["-1", "1,-2", "a", "1.5"])
def test_parse_retry_schedule_refuses_nonsense(text: str) -> None:
    with pytest.raises(ValueError):
        parse_retry_schedule(text)


# --- A webhook's retry policy ------------------------------------------------------------


def policy(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "attempts": 4,
        "backoff": "exponential",
        "initial_delay_seconds": 10,
        "max_delay_seconds": 50,
    }
    return {**base, **overrides}


def test_exponential_policy_doubles_up_to_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, "1,1,1")  # the webhook's policy wins over the deployment's
    assert schedule(policy()) == ([10, 20, 40, 50], 50)
    assert schedule(policy(attempts=6, max_delay_seconds=1000)) == (
        [10, 20, 40, 80, 160, 320],
        1000,
    )


def test_fixed_policy_repeats_the_initial_delay() -> None:
    assert schedule(policy(backoff="fixed")) == ([10, 10, 10, 10], 50)
    assert schedule(policy(backoff="fixed", initial_delay_seconds=50)) == ([50] * 4, 50)


def test_policy_delays_are_jittered_and_bounded() -> None:
    for failed_attempt, base in ((1, 10), (2, 20), (3, 40), (4, 50)):
        values = [next_delay(policy(), failed_attempt, 500, None) for _ in range(SAMPLES)]
        assert all(v is not None and round(base * 0.9) <= v <= round(base * 1.1) for v in values)


def test_policy_gives_up_after_its_attempts() -> None:
    assert next_delay(policy(), 4, 500, None) is not None
    assert next_delay(policy(), 5, 500, None) is None
    assert next_delay(policy(attempts=0), 1, 500, None) is None


def test_policy_defaults_for_missing_fields() -> None:
    assert schedule({"attempts": 2}) == ([60, 120], 86400)
    assert schedule({"backoff": "fixed"}) == ([60] * 5, 86400)


# --- Retry-After -------------------------------------------------------------------------


def test_retry_after_seconds_parsing() -> None:
    assert retry_after_seconds("120") == 120
    assert retry_after_seconds(" 7 ") == 7
    assert retry_after_seconds("0") == 0
    for unreadable in (None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2020"):
        assert retry_after_seconds(unreadable) is None
    in_ten_minutes = retry_after_seconds(http_date(600))
    assert in_ten_minutes is not None and 598 <= in_ten_minutes <= 600
    assert retry_after_seconds(http_date(-3600)) == 0


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured_on_429_and_503(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    use_schedule(monkeypatch, None)
    assert next_delay(None, 1, status, "600") == 600
    date_delay = next_delay(None, 1, status, http_date(1200))
    assert date_delay is not None and 1198 <= date_delay <= 1200


def test_retry_after_never_shortens_the_schedule(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, None)
    delay = next_delay(None, 3, 429, "5")
    assert delay is not None and 1620 <= delay <= 1980


def test_retry_after_is_capped_by_max_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, None)
    assert next_delay(None, 1, 503, "999999") == 86400
    assert next_delay(policy(), 1, 503, "1000") == 50
    assert next_delay(policy(), 1, 429, http_date(7200)) == 50


def test_retry_after_is_ignored_for_other_statuses(monkeypatch: pytest.MonkeyPatch) -> None:
    use_schedule(monkeypatch, None)
    for status in (500, 502, 404, None):
        delay = next_delay(None, 1, status, "3600")
        assert delay is not None and 54 <= delay <= 66


def test_retry_after_does_not_extend_the_number_of_attempts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    use_schedule(monkeypatch, "1,1,1")
    assert next_delay(None, 4, 503, "30") is None
