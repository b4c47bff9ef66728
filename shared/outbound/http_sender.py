"""POST a delivery within one deadline, to the address we checked, never following redirects.

One deadline bounds the whole attempt: resolving the name, connecting, the TLS handshake, sending
the request, the status line, the headers and the first 1 KB of the body. Every blocking socket
call is given only the time left, so a receiver that trickles its answer a byte at a time cannot
stretch the attempt (a per-read timeout, all `requests` offers, starts again with every byte).

DNS is resolved and checked right before sending, and the connection goes to that very address
(Host header, TLS SNI and certificate checks keep the name), so a name re-pointed at a private
address after the check cannot be reached (DNS rebinding).

Each attempt has a connection of its own (`Connection: close`): the worker's threads share
nothing but the TLS settings, and no receiver sees a cookie or a pooled connection of another.
"""

from __future__ import annotations

import http.client
import io
import socket
import ssl
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import certifi

from shared.outbound.ssrf import IpAddress, UnsafeTarget, checked_address

MAX_DEADLINE_SECONDS = 30.0  # README: success is any 2xx within 30 s
CONNECT_TIMEOUT = 10.0
RESPONSE_BODY_LIMIT = 1024
SEND_PIECE = 64 * 1024
OWN_HEADERS = frozenset({"host", "connection", "accept-encoding"})

RESOLVING = "resolving the name"
CONNECTING = "connecting"
HANDSHAKE = "negotiating TLS"
SENDING = "sending the request"
WAITING = "waiting for a response"
HEADERS = "reading headers"
BODY = "reading the body"
CUT_STATUS_LINE = "response_error: response cut short in the status line"


@dataclass(frozen=True)
class SendResult:
    status_code: int | None
    error: str | None
    duration_ms: int
    response_body: str | None
    retry_after: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Failed(Exception):
    """The attempt ended without a usable answer; the text is the attempt log's `error`."""


class Deadline:
    """The attempt's one deadline, and the stage it has reached (for the error text)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ends = time.monotonic() + seconds
        self.stage = RESOLVING

    def left(self) -> float:
        """Seconds left for the next blocking call; `Failed` once there are none."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise self.exceeded()
        return left

    def exceeded(self) -> Failed:
        return Failed(f"timeout: deadline of {self.seconds:g} s exceeded while {self.stage}")


# --- Shared by the worker's threads: built once, under a lock ---------------------------------

_tls: ssl.SSLContext | None = None
_tls_lock = threading.Lock()


def tls_context() -> ssl.SSLContext:
    """Certificate and hostname checks against certifi's CA bundle (what `requests` trusts)."""
    global _tls
    with _tls_lock:
        if _tls is None:
            _tls = ssl.create_default_context(cafile=certifi.where())
        return _tls


# --- The attempt, stage by stage ---------------------------------------------------------------


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float = MAX_DEADLINE_SECONDS,
) -> SendResult:
    """POST and read at most 1 KB of the answer; any 2xx within the deadline succeeds.

    The deadline is `timeout` seconds, never more than `MAX_DEADLINE_SECONDS`: the worker's
    Lambda timeout and the queue's visibility timeout are sized for that (shared/core/resources.py).
    """
    deadline = Deadline(min(timeout, MAX_DEADLINE_SECONDS))
    started = time.monotonic()
    try:
        status, raw, retry_after = _exchange(url, body, headers, allow_private, deadline)
    except (Failed, OSError, http.client.HTTPException, ValueError) as error:
        duration = int((time.monotonic() - started) * 1000)
        return SendResult(None, _describe(error, deadline), duration, None, None)
    duration = int((time.monotonic() - started) * 1000)
    failure = None if 200 <= status < 300 else f"HTTP {status}"
    return SendResult(status, failure, duration, raw.decode("utf-8", "replace"), retry_after)


def _exchange(
    url: str, body: bytes, headers: dict[str, str], allow_private: bool, deadline: Deadline
) -> tuple[int, bytes, str | None]:
    """(status, first 1 KB of the body, Retry-After), or an exception naming the failure."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise Failed("request_error: the URL is not http or https")
    hostname = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = _checked_address(hostname, port, allow_private, deadline)
    sock = _connect(address, port, deadline)
    try:
        if parts.scheme == "https":
            sock = _handshake(sock, hostname, deadline)
        wire = _Wire(sock, deadline)
        connection = _Connection(wire)
        deadline.stage = SENDING
        connection.request("POST", _path(parts), body, _request_headers(headers, parts))
        deadline.stage = WAITING
        response = _receive_head(connection, wire.reader)
        deadline.stage = BODY
        return response.status, _read_prefix(response), response.getheader("Retry-After")
    finally:
        sock.close()  # the rest of a long body is never read: closing costs us nothing


def _checked_address(
    hostname: str, port: int, allow_private: bool, deadline: Deadline
) -> IpAddress:
    """Resolve and check the name (shared/outbound/ssrf.py) within the deadline.

    getaddrinfo has no timeout, so it runs on a thread of its own that the deadline can give up
    on (the lookup ends later on the resolver's own timeout). One thread per lookup, not a shared
    pool: a name server that never answers one tenant's host must not hold up everyone else's.
    """
    lookup: Future[IpAddress] = Future()

    def resolve() -> None:
        try:
            lookup.set_result(checked_address(hostname, port, allow_private=allow_private))
        except BaseException as error:
            lookup.set_exception(error)

    threading.Thread(target=resolve, name="resolve", daemon=True).start()
    try:
        return lookup.result(timeout=deadline.left())
    except TimeoutError:
        raise deadline.exceeded() from None


def _connect(address: IpAddress, port: int, deadline: Deadline) -> socket.socket:
    deadline.stage = CONNECTING
    family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        left = deadline.left()
        sock.settimeout(min(CONNECT_TIMEOUT, left))
        try:
            sock.connect((str(address), port))
        except TimeoutError:
            if left > CONNECT_TIMEOUT:
                raise Failed(f"timeout: no connection within {CONNECT_TIMEOUT:g} s") from None
            raise
    except BaseException:
        sock.close()
        raise
    return sock


def _handshake(sock: socket.socket, hostname: str, deadline: Deadline) -> ssl.SSLSocket:
    """TLS with SNI and certificate checks for the URL's name (not the address dialled).

    CPython bounds the whole handshake by the socket timeout, not each read of it."""
    deadline.stage = HANDSHAKE
    tls = tls_context().wrap_socket(sock, server_hostname=hostname, do_handshake_on_connect=False)
    try:
        tls.settimeout(deadline.left())
        tls.do_handshake()
    except BaseException:
        tls.close()  # it holds the connection now: `sock` was detached from it
        raise
    return tls


def _path(parts: SplitResult) -> str:
    return urlunsplit(("", "", parts.path or "/", parts.query, ""))


def _request_headers(headers: dict[str, str], parts: SplitResult) -> dict[str, str]:
    """The caller's headers, with the URL's host, one request per connection and no encoding
    (the 1 KB we keep is readable text, never a compressed stream)."""
    kept = {name: value for name, value in headers.items() if name.lower() not in OWN_HEADERS}
    host = parts.netloc.rpartition("@")[2]
    if not host.isascii():
        host = host.encode("idna").decode("ascii")
    return {**kept, "Host": host, "Connection": "close", "Accept-Encoding": "identity"}


def _receive_head(
    connection: http.client.HTTPConnection, reader: _HeadCheckingReader
) -> http.client.HTTPResponse:
    """Status line and headers; `Failed` when either was cut short."""
    try:
        response = connection.getresponse()
    except http.client.RemoteDisconnected:
        raise  # nothing at all came back: not a cut status line
    except http.client.BadStatusLine:
        if reader.status_line_cut():
            raise Failed(CUT_STATUS_LINE) from None
        raise
    reader.check_head()
    return response


def _read_prefix(response: http.client.HTTPResponse) -> bytes:
    """The first 1 KB of the body, taken as it arrives; a body that ends before its declared
    length (Content-Length or a chunk) is cut short."""
    received = b""
    while len(received) < RESPONSE_BODY_LIMIT:
        chunk = response.read1(RESPONSE_BODY_LIMIT - len(received))
        if not chunk:
            if response.length:  # http.client's read1 does not say so itself
                raise http.client.IncompleteRead(received, response.length)
            break
        received += chunk
    return received


# --- The socket, every blocking call bounded by the deadline -----------------------------------


class _Wire:
    """What http.client sees as the socket: sends and reads get only the time left."""

    def __init__(self, sock: socket.socket, deadline: Deadline) -> None:
        self.sock = sock
        self.deadline = deadline
        self.reader = _HeadCheckingReader(_DeadlineReader(self))

    def sendall(self, data: bytes) -> None:
        """In pieces, each with the time left (an SSL socket's sendall would give each piece
        the whole timeout again)."""
        view = memoryview(data)
        while view:
            self.sock.settimeout(self.deadline.left())
            view = view[self.sock.send(view[:SEND_PIECE]) :]

    def recv_into(self, buffer: Any) -> int:
        self.sock.settimeout(self.deadline.left())
        received = self.sock.recv_into(buffer)
        if received and self.deadline.stage == WAITING:
            self.deadline.stage = HEADERS
        return received

    def makefile(self, mode: str) -> _HeadCheckingReader:
        return self.reader

    def close(self) -> None:
        """http.client closes its socket when the answer ends the connection; `_exchange`
        closes the real one when it is done reading."""


class _DeadlineReader(io.RawIOBase):
    def __init__(self, wire: _Wire) -> None:
        self.wire = wire

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self.wire.recv_into(buffer)


class _HeadCheckingReader(io.BufferedReader):
    """Keeps the lines http.client reads as the status line and headers: it takes a line the
    connection cut off (no line end, no blank line after the headers) as complete, so a head
    cut short would pass for an answer."""

    def __init__(self, raw: _DeadlineReader) -> None:
        super().__init__(raw)
        self.head: list[bytes] | None = []

    def readline(self, size: int | None = -1) -> bytes:
        line = super().readline(-1 if size is None else size)
        if self.head is not None:
            self.head.append(line)
        return line

    def check_head(self) -> None:
        """After the head was parsed: `Failed` if it was cut short. Later lines (chunk sizes)
        are not kept."""
        cut = self.status_line_cut()
        head, self.head = self.head or [], None
        if cut:
            raise Failed(CUT_STATUS_LINE)
        if head[-1] not in (b"\r\n", b"\n"):
            raise Failed("response_error: response cut short in the headers")

    def status_line_cut(self) -> bool:
        return not self.head or not self.head[0].endswith(b"\n")


class _Connection(http.client.HTTPConnection):
    """http.client's request writing and answer parsing over a connection we opened."""

    def __init__(self, wire: _Wire) -> None:
        super().__init__("unused.invalid")
        self.sock = wire  # type: ignore[assignment]

    def connect(self) -> None:
        raise Failed("connection_error: the connection was already closed")


# --- What went wrong, in one line ---------------------------------------------------------------


def _describe(error: BaseException, deadline: Deadline) -> str:
    """Short, human text for the attempt log; never a stack trace, never a secret."""
    stage = deadline.stage
    if isinstance(error, Failed):
        return str(error)
    if isinstance(error, UnsafeTarget):
        unresolved = str(error).startswith("could not resolve")
        return f"{'dns_error' if unresolved else 'refused'}: {error}"
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"tls_error: certificate rejected ({error.verify_message or error.reason})"
    if isinstance(error, ssl.SSLError):
        reason = str(error.reason or "error").replace("_", " ").lower()
        if stage == HANDSHAKE:
            return f"tls_error: handshake failed ({reason})"
        return f"tls_error: {reason} while {stage}"
    if isinstance(error, TimeoutError):
        return str(deadline.exceeded())
    return _describe_http(error, stage) or _describe_connection(error, stage)


def _describe_http(error: BaseException, stage: str) -> str | None:
    if isinstance(error, http.client.RemoteDisconnected):
        return "connection_error: connection closed after the request was sent, before a response"
    if isinstance(error, http.client.IncompleteRead):
        return "response_error: response cut short while reading the body"
    if isinstance(error, http.client.BadStatusLine):
        return "response_error: invalid status line"
    if isinstance(error, http.client.HTTPException):  # a line too long, too many headers
        return f"response_error: invalid response while {stage}"
    return None


def _describe_connection(error: BaseException, stage: str) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection_error: connection refused"
    if isinstance(error, ConnectionResetError | BrokenPipeError | ConnectionAbortedError):
        if stage == WAITING:
            return (
                "connection_error: connection reset after the request was sent, before a response"
            )
        return f"connection_error: connection reset while {stage}"
    if isinstance(error, OSError):
        reason = (error.strerror or "network error").lower()
        return f"connection_error: {reason} while {stage}"
    if isinstance(error, ValueError):  # a header or path http.client refuses to send
        return "request_error: the request could not be written"
    return f"request_error: {type(error).__name__}"
