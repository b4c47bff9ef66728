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
from typing import Any

log = logging.getLogger(__name__)

MAX_WORKERS = 10  # the queues' batch size: every record of a batch runs at the same time


def process_batch(
    event: dict[str, Any], handle: Callable[[dict[str, Any]], Any], max_workers: int = MAX_WORKERS
) -> tuple[dict[str, Any], list[Any]]:
    """Run `handle(parsed_body)` per record; (partial batch response, handler results)."""
    records = event.get("Records", [])
    failures: list[dict[str, str]] = []
    results: list[Any] = []

    def run(record: dict[str, Any]) -> Any:
        return handle(json.loads(record["body"]))

    with ThreadPoolExecutor(max_workers=max(1, min(max_workers, len(records)))) as pool:
        futures = [(record, pool.submit(run, record)) for record in records]
        for record, future in futures:
            try:
                results.append(future.result())
            except Exception as error:  # this record is retried by SQS, the others are not
                log.warning(
                    "record failed; SQS will retry it",
                    extra={"message_id": record["messageId"], "error": type(error).__name__},
                )
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}, results
