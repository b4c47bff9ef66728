"""One deadline per delivery attempt, and an error text that says what went wrong and where.

`http_sender.post` against real misbehaving servers on 127.0.0.1 (tests/support/bad_receivers.py),
with a 2 s deadline. A receiver may trickle its answer a byte at a time, stall the TLS handshake,
cut its answer short, reset the connection or never answer: the attempt fails, says at which stage,
and returns within a generous bound of the deadline (never the receiver's own pace).
"""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.outbound import http_sender
from tests.support.bad_receivers import (
    Answer,
    RawReceiver,
    closes_after,
    cut_short,
    hang_up,
    ok,
    reset,
    silent,
    tls_server,
    trickle,
    trickle_head,
    untrusted_tls,
)
from tests.support.receiver import Receiver, Script

DEADLINE = 2.0
BOUND = DEADLINE + 5  # a generous upper bound: the receivers below would hold us 20 s or more


def send(url: str, timeout: float = DEADLINE) -> tuple[http_sender.SendResult, float]:
    """One POST; (result, seconds it took)."""
    started = time.monotonic()
    result = http_sender.post(
        url, b'{"n": 1}', {"Content-Type": "application/json"}, allow_private=True, timeout=timeout
    )
    return result, time.monotonic() - started


@pytest.fixture
def raw() -> Iterator[Callable[..., RawReceiver]]:
    """Start `RawReceiver`s that are closed when the test ends."""
    made: list[RawReceiver] = []

    def start(answer: Answer, tls: ssl.SSLContext | None = None) -> RawReceiver:
        made.append(RawReceiver(answer, tls=tls))
        return made[-1]

    yield start
    for server in made:
        server.close()


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """Names → what the system resolver answers for them: a list of addresses, or a callable
    run instead (to fail or to be slow). Other names resolve as usual."""
    answers: dict[str, Any] = {}
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        answer = answers.get(host) if isinstance(host, str) else None
        if answer is None:
            return real(host, port, *args, **kwargs)
        if callable(answer):
            return answer()
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, int(port))) for a in answer]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return answers


def assert_failed(result: http_sender.SendResult, took: float, error: str) -> None:
    assert (result.status_code, result.error) == (None, error)
    assert not result.succeeded
    assert took < BOUND, took
    assert 0 <= result.duration_ms < BOUND * 1000


# --- The deadline covers every stage ---------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "tls", "stage"),
    [
        # `200 OK\r\nX-Slow: ` then a byte every 0.5 s (20 s): each byte restarts a read timeout.
        (trickle_head(interval=0.5), False, "reading headers"),
        (trickle(chunked=False, interval=0.5), False, "reading the body"),
        (trickle(chunked=True, interval=0.5), False, "reading the body"),
        (silent, False, "waiting for a response"),
        # A plain server spoken to over https waits for a request that never comes.
        (ok, True, "negotiating TLS"),
    ],
    ids=["trickled_headers", "trickled_body", "trickled_chunks", "silent", "tls_handshake"],
)
def test_no_receiver_stretches_the_deadline(
    raw: Callable[..., RawReceiver], answer: Answer, tls: bool, stage: str
) -> None:
    server = raw(answer)
    url = server.url("/slow").replace("http:", "https:") if tls else server.url("/slow")
    result, took = send(url)
    assert_failed(result, took, f"timeout: deadline of 2 s exceeded while {stage}")
    assert result.duration_ms >= DEADLINE * 1000
    assert server.seen.bytes_sent < 20  # we hung up long before the receiver was done


def test_a_slow_resolver_counts_toward_the_deadline(dns: dict[str, Any]) -> None:
    def slow() -> list[Any]:
        time.sleep(BOUND + 1)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 9))]

    dns["slow.example.test"] = slow
    result, took = send("http://slow.example.test/hook")
    assert_failed(result, took, "timeout: deadline of 2 s exceeded while resolving the name")


def test_the_deadline_is_capped_at_the_service_maximum(
    raw: Callable[..., RawReceiver], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A larger configured timeout cannot outlast what the worker's Lambda timeout and the
    queue's visibility timeout were sized for (shared/core/resources.py)."""
    monkeypatch.setattr(http_sender, "MAX_DEADLINE_SECONDS", DEADLINE)
    result, took = send(raw(silent).url("/slow"), timeout=600)
    assert_failed(result, took, "timeout: deadline of 2 s exceeded while waiting for a response")


def test_an_answer_slower_than_a_read_timeout_but_within_the_deadline_succeeds(
    raw: Callable[..., RawReceiver],
) -> None:
    result, took = send(raw(trickle_head(interval=0.1, total=5)).url("/slowish"))
    assert (result.status_code, result.error, result.response_body) == (200, None, "ok")
    assert took < BOUND


# --- Answers cut short are failures, never a success -------------------------------------------


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (closes_after(b"HTTP/1.1 200 OK"), "response_error: response cut short in the status line"),
        (closes_after(b"HTTP/1.1 20"), "response_error: response cut short in the status line"),
        (
            closes_after(b"HTTP/1.1 200 OK\r\nContent-Len"),
            "response_error: response cut short in the headers",
        ),
        (
            closes_after(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n"),
            "response_error: response cut short in the headers",
        ),
        (
            cut_short(200, promised=100, sent=b"partial"),
            "response_error: response cut short while reading the body",
        ),
        (
            closes_after(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\npar"),
            "response_error: response cut short while reading the body",
        ),
        (closes_after(b"HELLO THERE\r\n\r\n"), "response_error: invalid status line"),
    ],
    ids=[
        "status_line",
        "status_code",
        "header_name",
        "no_blank_line",
        "body_length",
        "body_chunk",
        "garbage",
    ],
)
def test_answers_cut_short_or_malformed_fail(
    raw: Callable[..., RawReceiver], answer: Answer, error: str
) -> None:
    result, took = send(raw(answer).url("/cut"))
    assert_failed(result, took, error)


# --- Connection errors say which one -----------------------------------------------------------


def test_reset_or_close_after_the_request_was_sent(raw: Callable[..., RawReceiver]) -> None:
    resetting, closing = raw(reset), raw(hang_up)
    result, took = send(resetting.url("/reset"))
    assert_failed(
        result,
        took,
        "connection_error: connection reset after the request was sent, before a response",
    )
    assert resetting.seen.requests == 1  # the whole request had arrived
    result, took = send(closing.url("/closed"))
    assert_failed(
        result,
        took,
        "connection_error: connection closed after the request was sent, before a response",
    )


def test_refused_and_unresolvable(dns: dict[str, Any]) -> None:
    reserved = socket.socket()  # bound, never listening: every connect is refused
    reserved.bind(("127.0.0.1", 0))
    try:
        result, took = send(f"http://127.0.0.1:{reserved.getsockname()[1]}/nobody")
    finally:
        reserved.close()
    assert_failed(result, took, "connection_error: connection refused")

    def no_such_name() -> None:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    dns["nowhere.example.test"] = no_such_name
    result, took = send("http://nowhere.example.test/hook")
    assert_failed(result, took, "dns_error: could not resolve nowhere.example.test")


# --- TLS: the checked address is dialled, the name is verified ---------------------------------


@pytest.fixture
def trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, raw: Callable[..., RawReceiver]
) -> RawReceiver:
    """A TLS receiver for `hooks.example.test` whose certificate the sender is told to trust."""
    context, cert_path = tls_server(tmp_path, names=("hooks.example.test",))
    client = ssl.create_default_context(cafile=str(cert_path))
    monkeypatch.setattr(http_sender, "_tls", client)
    return raw(ok, tls=context)


def test_tls_verifies_the_name_while_dialling_the_checked_address(
    trusted: RawReceiver, dns: dict[str, Any]
) -> None:
    dns["hooks.example.test"] = ["127.0.0.1"]
    dns["other.example.test"] = ["127.0.0.1"]
    result, _ = send(f"https://hooks.example.test:{trusted.port}/hook")
    assert (result.status_code, result.error, result.response_body) == (200, None, "ok")

    result, took = send(f"https://other.example.test:{trusted.port}/hook")
    assert_failed(
        result,
        took,
        "tls_error: certificate rejected (Hostname mismatch, certificate is not valid for"
        " 'other.example.test'.)",
    )
    assert trusted.seen.requests == 1  # the mismatched name never got the signed body


def test_untrusted_certificate_and_plain_http_over_tls(
    raw: Callable[..., RawReceiver], receiver: Receiver, tmp_path: Path
) -> None:
    untrusted = raw(ok, tls=untrusted_tls(tmp_path))
    result, took = send(untrusted.url("/tls"))
    assert result.error is not None
    assert result.error.startswith("tls_error: certificate rejected (self"), result.error
    assert_failed(result, took, result.error)
    assert untrusted.seen.requests == 0

    # An HTTP server answers the TLS ClientHello with `400 Bad Request`.
    result, took = send(receiver.script("/plain", Script()).replace("http:", "https:"))
    assert result.error is not None
    assert result.error.startswith("tls_error: handshake failed ("), result.error
    assert_failed(result, took, result.error)
    assert receiver.received("/plain") == []
