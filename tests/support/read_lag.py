"""An eventually consistent read that lags, on AWS's terms, for tests of the readers.

DynamoDB: "An eventually consistent read might not reflect the results of a recently completed
write operation" and costs half of a strongly consistent one
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.ReadConsistency.html).
moto is always consistent, so the lag is injected at botocore's events: while `lagging`, the
answer to an eventually consistent BatchGetItem loses its items.
"""

from __future__ import annotations

from typing import Any

from shared.core.aws import client


class ReadLag:
    """Records every BatchGetItem's ConsistentRead flags; while `lagging`, an eventually
    consistent answer comes back empty (the items reported as not found)."""

    def __init__(self) -> None:
        self.reads: list[set[bool]] = []
        self.lagging = False
        self.events = client("dynamodb").meta.events
        self.events.register("before-parameter-build.dynamodb.BatchGetItem", self._asked)
        self.events.register("after-call.dynamodb.BatchGetItem", self._answered)

    def _asked(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        flags = {asked.get("ConsistentRead", False) for asked in params["RequestItems"].values()}
        self.reads.append(flags)
        context["eventual"] = flags == {False}

    def _answered(self, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        if self.lagging and context.get("eventual"):
            parsed["Responses"] = {table: [] for table in parsed.get("Responses", {})}

    def remove(self) -> None:
        self.events.unregister("before-parameter-build.dynamodb.BatchGetItem", self._asked)
        self.events.unregister("after-call.dynamodb.BatchGetItem", self._answered)
