"""SQS batch handling with partial failures, records processed in parallel.

Lambda's event source mapping deletes every message not listed in `batchItemFailures`. The
records run on threads, all of a batch at once: one slow receiver must not hold the other nine,
and a whole batch takes one delivery deadline, which the worker's timeout and the queue's
visibility timeout are sized for (shared/core/resources.py).

A handler runs on several threads at once: it keeps per-message state in its own locals (log
context goes in each log call's `extra`, never `logger.append_keys`, which every thread shares),
and module-level caches it uses must be safe to fill from two threads.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)

MAX_WORKERS = 10  # the queues' batch size: every record of a batch runs at the same time


@dataclass(frozen=True)
class Received:
    """One SQS record as a handler needs it: the parsed body, and how often SQS has handed this
    message out (`ApproximateReceiveCount`: above 1, an earlier receipt did not finish it)."""

    message_id: str
    body: Any
    receive_count: int = 1


def process_batch(
    event: dict[str, Any], handle: Callable[[dict[str, Any]], Any], max_workers: int = MAX_WORKERS
) -> tuple[dict[str, Any], list[Any]]:
    """Run `handle(parsed_body)` per record; (partial batch response, handler results)."""
    failed, done = process_records(event, lambda received: handle(received.body), max_workers)
    return batch_response(failed), [result for _, result in done]


def process_records(
    event: dict[str, Any], handle: Callable[[Received], Any], max_workers: int = MAX_WORKERS
) -> tuple[list[str], list[tuple[str, Any]]]:
    """Run `handle(Received)` per record, all at once; (failed message ids, (id, result) pairs)."""
    records = event.get("Records", [])
    failed: list[str] = []
    done: list[tuple[str, Any]] = []

    def run(record: dict[str, Any]) -> Any:
        return handle(_received(record))

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(records)))) as pool:
        futures = [(record, pool.submit(run, record)) for record in records]
        for record, future in futures:
            try:
                done.append((record["messageId"], future.result()))
            except Exception as error:  # this record is retried by SQS, the others are not
                log.warning(
                    "record failed; SQS will retry it",
                    extra={"message_id": record["messageId"], "error": type(error).__name__},
                )
                failed.append(record["messageId"])
    return failed, done


def parsed_bodies(event: dict[str, Any]) -> list[Any]:
    """The JSON bodies of a batch's records, for a read done once for the whole batch; a record
    that does not parse is left out (its own run reports it)."""
    bodies = []
    for record in event.get("Records", []):
        try:
            bodies.append(json.loads(record["body"]))
        except (KeyError, TypeError, ValueError):
            continue
    return bodies


def batch_response(failed_message_ids: list[str]) -> dict[str, Any]:
    """The partial batch response: the event source mapping deletes every other message."""
    return {"batchItemFailures": [{"itemIdentifier": mid} for mid in failed_message_ids]}


def _received(record: dict[str, Any]) -> Received:
    count = str((record.get("attributes") or {}).get("ApproximateReceiveCount", "1"))
    return Received(
        record["messageId"], json.loads(record["body"]), int(count) if count.isdigit() else 1
    )
