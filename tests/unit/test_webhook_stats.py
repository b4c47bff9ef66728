"""Webhook stats arithmetic (README "Webhook stats")."""

from __future__ import annotations

from shared.outbound.stats import Attempt, percentile, summarize


def test_nearest_rank_percentiles() -> None:
    values = list(range(1, 101))
    assert percentile(values, 0.50) == 50
    assert percentile(values, 0.95) == 95
    assert percentile([7], 0.95) == 7
    assert percentile([], 0.5) is None


def test_summary_counts_only_attempts_started_in_the_window() -> None:
    attempts = [
        Attempt("2026-12-01T09:00:00Z", 5000, False),  # before the window
        Attempt("2026-12-01T10:00:00Z", 100, True),
        Attempt("2026-12-01T10:05:00Z", 300, False),
        Attempt("2026-12-01T10:10:00Z", 200, True),
        Attempt("2026-12-01T10:20:00Z", 400, False),
    ]
    stats = summarize("1h", "2026-12-01T09:30:00Z", attempts)
    assert stats == {
        "window": "1h",
        "attempts": 4,
        "succeeded": 2,
        "failed": 2,
        "success_rate": 0.5,
        "p50_ms": 200,
        "p95_ms": 400,
        "last_success_at": "2026-12-01T10:10:00Z",
        "last_failure_at": "2026-12-01T10:20:00Z",
    }


def test_an_empty_window_has_nulls_not_zeros_for_rates() -> None:
    stats = summarize("24h", "2026-12-01T00:00:00Z", [])
    assert stats["attempts"] == 0
    assert stats["success_rate"] is None
    assert stats["p50_ms"] is None and stats["last_success_at"] is None
