"""Query parameters the routes share, declared once so they validate and document alike."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.openapi.params import Query

from shared.core.patterns import USER_ID_PATTERN

Limit = Annotated[int, Query(ge=1, le=100)]
Cursor = Annotated[
    str | None,
    Query(
        max_length=2048,
        description="The next_cursor of the previous page of this same list, same filters "
        "and same user; any other cursor is refused with 422 invalid_cursor.",
    ),
]
OptionalText = Annotated[str | None, Query(max_length=2048)]
# Declared by the `Owner` dependency (functions/api/context.py) for every user route.
UserId = Annotated[
    str | None,
    Query(
        min_length=1,
        max_length=128,
        pattern=f"^{USER_ID_PATTERN}$",
        description="Admin key only: act as this user (the object is read from or written to "
        "that user's account). A user key may name only itself; another user is refused "
        "with 403.",
    ),
]
