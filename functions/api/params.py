"""Query parameters the list routes share, declared once so they validate and document alike."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[str | None, Query(max_length=2048)]
OptionalText = Annotated[str | None, Query(max_length=2048)]
# Admin only: act for this user (anyone may name themselves).
UserId = Annotated[str | None, Query(max_length=128)]
