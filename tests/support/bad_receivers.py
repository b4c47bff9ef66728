"""Receivers that misbehave below HTTP: trickling, endless, cut-short, reset and silent answers,
and TLS with a certificate nobody trusts. Each records what it saw so a test can assert on the far
side too."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Seen:
    """What one raw receiver saw and did."""

    requests: int = 0  # complete requests (headers and body) read
    bytes_sent: int = 0  # trickled or body bytes written before the sender stopped or was cut off
    cut_off: int = 0  # answers the client hung up on before they were complete
    handshakes_failed: int = 0  # TLS handshakes the client gave up on
    lock: threading.Lock = field(default_factory=threading.Lock)


def read_request(conn: socket.socket) -> bytes:
    """Headers and Content-Length body of one request (enough for our POSTs)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


Answer = Callable[[socket.socket, Seen], None]


class RawReceiver:
    """A TCP server on 127.0.0.1 that reads each request and answers with `answer(conn, seen)`;
    with a `tls` context it speaks TLS first."""

    def __init__(self, answer: Answer, tls: ssl.SSLContext | None = None) -> None:
        self.answer = answer
        self.tls = tls
        self.seen = Seen()
        self.stopped = threading.Event()
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    def url(self, path: str) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            if self.tls is not None:
                try:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError):
                    with self.seen.lock:
                        self.seen.handshakes_failed += 1
                    return
            read_request(conn)
            with self.seen.lock:
                self.seen.requests += 1
            try:
                self.answer(conn, self.seen)
            except OSError:  # the client hung up: it stopped reading, as it should
                with self.seen.lock:
                    self.seen.cut_off += 1
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.thread.join(timeout=2)
        self.sock.close()


def _count(seen: Seen, sent: int) -> None:
    with seen.lock:
        seen.bytes_sent += sent


def trickle(*, chunked: bool, interval: float, total: int = 1024) -> Answer:
    """200 and its headers at once, then the body one byte every `interval` seconds."""

    def answer(conn: socket.socket, seen: Seen) -> None:
        framing = b"Transfer-Encoding: chunked" if chunked else b"Content-Length: %d" % total
        conn.sendall(b"HTTP/1.1 200 OK\r\n" + framing + b"\r\n\r\n")
        for _ in range(total):
            if client_gone(conn, interval):
                raise ConnectionResetError("the client hung up")
            conn.sendall(b"1\r\nx\r\n" if chunked else b"x")
            _count(seen, 1)
        conn.sendall(b"0\r\n\r\n" if chunked else b"")

    return answer


def client_gone(conn: socket.socket, wait: float) -> bool:
    """Wait up to `wait` seconds; True as soon as the client closes its end."""
    conn.settimeout(wait)
    try:
        return conn.recv(1, socket.MSG_PEEK) == b""
    except TimeoutError:
        return False
    finally:
        conn.settimeout(None)


def endless(status: int, total: int, *, location: str | None = None) -> Answer:
    """`status` with a `total`-byte body, sent as fast as the client takes it."""
    piece = 64 * 1024
    extra = f"Location: {location}\r\n".encode() if location else b""

    def answer(conn: socket.socket, seen: Seen) -> None:
        head = b"HTTP/1.1 %d Whatever\r\n%sContent-Length: %d\r\n\r\n" % (status, extra, total)
        conn.sendall(head)
        block = b"z" * piece
        while seen.bytes_sent < total:
            part = block[: total - seen.bytes_sent]
            conn.sendall(part)
            _count(seen, len(part))

    return answer


def cut_short(status: int, promised: int, sent: bytes) -> Answer:
    """Headers promise `promised` bytes; `sent` follows, then the connection closes."""

    def answer(conn: socket.socket, seen: Seen) -> None:
        conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\n\r\n%s" % (status, promised, sent))
        _count(seen, len(sent))

    return answer


def trickle_head(*, interval: float, total: int = 40) -> Answer:
    """`200 OK` and the start of a header at once, then that header one byte every `interval`
    seconds (`total` bytes), then a complete answer: each byte restarts a per-read timeout."""

    def answer(conn: socket.socket, seen: Seen) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(total):
            if client_gone(conn, interval):
                raise ConnectionResetError("the client hung up")
            conn.sendall(b"x")
            _count(seen, 1)
        conn.sendall(b"\r\nContent-Length: 2\r\n\r\nok")

    return answer


def closes_after(head: bytes) -> Answer:
    """Sends `head` (e.g. a status line or headers cut short), then closes the connection."""

    def answer(conn: socket.socket, seen: Seen) -> None:
        conn.sendall(head)
        _count(seen, len(head))

    return answer


def reset(conn: socket.socket, seen: Seen) -> None:
    """Reads the whole request, then resets the connection (RST, not FIN) without answering."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def hang_up(conn: socket.socket, seen: Seen) -> None:
    """Reads the whole request, then closes the connection (FIN) without answering."""
    conn.close()


def silent(conn: socket.socket, seen: Seen) -> None:
    """Reads the whole request and never answers; returns once the client has gone (≤ 60 s)."""
    if client_gone(conn, 60):
        with seen.lock:
            seen.cut_off += 1


# --- TLS with a self-signed certificate ---------------------------------------------------


def self_signed_certificate(
    directory: Path, names: tuple[str, ...] = ("localhost",)
) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and `names` that no trust store knows."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])])
    now = datetime.datetime.now(datetime.UTC)
    alternatives: list[x509.GeneralName] = [x509.DNSName(item) for item in names]
    alternatives.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def tls_server(
    directory: Path, names: tuple[str, ...] = ("localhost",)
) -> tuple[ssl.SSLContext, Path]:
    """A server context with a self-signed certificate for 127.0.0.1 and `names`, and that
    certificate's file (for a client that is told to trust it)."""
    cert_path, key_path = self_signed_certificate(directory, names)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context, cert_path


def untrusted_tls(directory: Path) -> ssl.SSLContext:
    """A server context whose certificate (for 127.0.0.1) no trust store knows."""
    return tls_server(directory)[0]


def ok(conn: socket.socket, seen: Seen) -> None:
    """200 with a tiny body."""
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
