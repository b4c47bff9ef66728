"""Count the AWS calls our code makes, from botocore's own events on our cached clients."""

from __future__ import annotations

from collections import Counter
from typing import Any

from shared.core.aws import client

SERVICES = ("dynamodb", "sqs", "s3", "secretsmanager", "stepfunctions")


class CallCounter:
    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        for service in SERVICES:
            client(service).meta.events.register("before-call", self._count)

    def _count(self, model: Any, **_: Any) -> None:
        self.calls[f"{model.service_model.service_name}.{model.name}"] += 1

    def reset(self) -> None:
        self.calls.clear()

    @property
    def total(self) -> int:
        return sum(self.calls.values())

    def close(self) -> None:
        for service in SERVICES:
            client(service).meta.events.unregister("before-call", self._count)
