"""Event types and subscription patterns (`user.created`, `project.*`, `*`), and user ids."""

from __future__ import annotations

import re

# Applied with fullmatch: `$` would also accept a trailing newline (`"a.b\n"`).
EVENT_TYPE = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)+")
PREFIX_PATTERN = re.compile(r"[a-z0-9_]+(\.[a-z0-9_]+)*\.\*")
MAX_TYPE_LENGTH = 200
USER_ID_PATTERN = r"[A-Za-z0-9_.@:-]{1,128}"
USER_ID = re.compile(USER_ID_PATTERN)
USER_ID_RULE = "user_id must be 1-128 characters of letters, digits and _.@:-"


def is_valid_user_id(value: str) -> bool:
    return USER_ID.fullmatch(value) is not None


def is_valid_event_type(value: str) -> bool:
    return len(value) <= MAX_TYPE_LENGTH and EVENT_TYPE.fullmatch(value) is not None


def is_valid_pattern(value: str) -> bool:
    return (
        value == "*"
        or is_valid_event_type(value)
        or (len(value) <= MAX_TYPE_LENGTH and PREFIX_PATTERN.fullmatch(value) is not None)
    )


def matches(pattern: str, event_type: str) -> bool:
    if pattern == "*":
        return True
    if pattern.endswith(".*"):
        return event_type.startswith(pattern[:-1])
    return pattern == event_type


def matches_any(patterns: list[str], event_type: str) -> bool:
    return any(matches(pattern, event_type) for pattern in patterns)
