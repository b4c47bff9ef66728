"""Read a verified raw body the way providers send it: JSON, or a form that may hold JSON.

Every function here is total: a body that cannot be read gives a reason, never an exception,
because a body that verified must be stored and acknowledged whatever it contains. Forms
(`application/x-www-form-urlencoded`) are how Slack sends interactivity payloads and slash
commands, and how GitHub sends webhooks configured with its form content type: the JSON, when
there is one, is the form's `payload` field. See docs/inbound-handlers.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

FORM_MEDIA_TYPE = "application/x-www-form-urlencoded"
PAYLOAD_FIELD = "payload"


class BodyNotReadable(ValueError):
    """The body is not what its sender documents (not UTF-8, not JSON, not a form).

    Processing it again cannot change that, so an event failing with it is not retried.
    """


@dataclass(frozen=True)
class Decoded:
    """A body as read: its JSON document, its form fields, or why it has neither.

    `json` is the body's JSON, or a form's `payload` field's JSON (`has_json` tells a JSON
    `null` from no JSON); `form` holds a form body's fields (the first of repeated names);
    `error` says why the body cannot be read as its content type claims.
    """

    json: Any = None
    has_json: bool = False
    form: dict[str, str] | None = None
    error: str | None = None

    @property
    def document(self) -> Any:
        """What type, dedupe and `body:` paths read: the JSON, else a form's fields."""
        return self.json if self.has_json else self.form

    def require_json(self) -> Any:
        if not self.has_json:
            raise BodyNotReadable(self.error or "body is a form without a payload field")
        return self.json

    def require_form(self) -> dict[str, str]:
        if self.form is None:
            raise BodyNotReadable(self.error or "body is not a form")
        return self.form


def media_type(content_type: str) -> str:
    """`application/x-www-form-urlencoded; charset=utf-8` → `application/x-www-form-urlencoded`."""
    return content_type.partition(";")[0].strip().lower()


def _json_text(text: str, what: str) -> Any:
    if not text.strip():
        raise BodyNotReadable(f"{what} is not JSON: it is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise BodyNotReadable(
            f"{what} is not JSON: {error.msg} at line {error.lineno} column {error.colno}"
        ) from None
    except RecursionError:
        raise BodyNotReadable(f"{what} is not JSON: nested too deeply") from None


def _utf8(body: bytes) -> str:
    """Strict UTF-8 (a leading byte order mark is dropped, as RFC 8259 allows)."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise BodyNotReadable(
            f"body is not UTF-8: invalid byte at position {error.start}"
        ) from None


def parse_json(body: bytes) -> Any:
    """The body as JSON (RFC 8259: UTF-8 only), or BodyNotReadable with the reason."""
    return _json_text(_utf8(body), "body")


def parse_form(body: bytes) -> dict[str, str]:
    """A form body's fields (the first value of a repeated name), or BodyNotReadable."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise BodyNotReadable("body is not a form: it is not URL-encoded UTF-8") from None
    fields: dict[str, str] = {}
    for name, value in pairs:
        fields.setdefault(name, value)
    return fields


def _decode_form(body: bytes) -> Decoded:
    form = parse_form(body)
    if PAYLOAD_FIELD not in form:
        return Decoded(form=form)
    try:
        return Decoded(
            json=_json_text(form[PAYLOAD_FIELD], "form field payload"), has_json=True, form=form
        )
    except BodyNotReadable as error:
        return Decoded(form=form, error=str(error))


def decode(body: bytes, content_type: str) -> Decoded:
    """Read `body` by its content type: a form when it says so, else JSON. Never raises."""
    try:
        if media_type(content_type) == FORM_MEDIA_TYPE:
            return _decode_form(body)
        return Decoded(json=parse_json(body), has_json=True)
    except BodyNotReadable as error:
        return Decoded(error=str(error))


def utf8_storable(value: Any) -> bool:
    """True when every string in a JSON value encodes as UTF-8 (no lone surrogates).

    JSON text may escape a lone surrogate (`"\\ud800"`); Python decodes it, but neither DynamoDB
    strings nor UTF-8 can hold one, so such a value is kept only in the raw body.
    """
    try:
        json.dumps(value, ensure_ascii=False, allow_nan=True).encode("utf-8")
    except (UnicodeEncodeError, TypeError, ValueError, RecursionError):
        return False
    return True


def utf8_text(text: str) -> str:
    """Text DynamoDB can store: each lone surrogate becomes `?`."""
    return text.encode("utf-8", "replace").decode("utf-8")
