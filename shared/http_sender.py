"""POST a delivery: one pooled Session, no redirects, connect to the address we checked.

DNS is resolved and checked right before sending, and the connection goes to that very address
(the URL's host is swapped for it; Host header, TLS SNI and certificate checks keep the name), so
a name re-pointed at a private address after the check cannot be reached (DNS rebinding).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter

from shared.ssrf import UnsafeTarget, checked_address

CONNECT_TIMEOUT = 10.0
RESPONSE_BODY_LIMIT = 1024


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


class PinnedHostAdapter(HTTPAdapter):
    """Keeps TLS SNI and hostname verification on the original name while dialing an IP."""

    def build_connection_pool_key_attributes(  # type: ignore[override]
        self, request: requests.PreparedRequest, verify: bool | str, cert: Any = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        host_params, typed_kwargs = super().build_connection_pool_key_attributes(
            request, verify, cert
        )
        pool_kwargs: dict[str, Any] = dict(typed_kwargs)
        hostname = _host_without_port(request.headers.get("Host", ""))
        if host_params.get("scheme") == "https" and hostname:
            pool_kwargs["server_hostname"] = hostname
            pool_kwargs["assert_hostname"] = hostname
        return dict(host_params), pool_kwargs


def _host_without_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class NoRedirectSession(requests.Session):
    """Redirects are never followed, so no answer is a redirect: with `allow_redirects=False`
    requests would still read a 3xx answer's whole body (to prepare `Response.next`), however
    large or slow that body is."""

    def get_redirect_target(self, resp: requests.Response) -> str | None:
        return None


_session: requests.Session | None = None


def session() -> requests.Session:
    global _session
    if _session is None:
        _session = NoRedirectSession()
        adapter = PinnedHostAdapter(pool_connections=20, pool_maxsize=20, max_retries=0)
        _session.mount("https://", adapter)
        _session.mount("http://", adapter)
    return _session


def pinned_url(url: str, *, allow_private: bool) -> tuple[str, str]:
    """(URL with the checked IP as host, original Host header value)."""
    parts = urlsplit(url)
    hostname = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    address = checked_address(hostname, port, allow_private=allow_private)
    literal = f"[{address}]" if address.version == 6 else str(address)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    host_header = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), host_header


def _arriving(response: requests.Response) -> Iterator[bytes]:
    """Body bytes as they arrive, at most 128 at a time.

    `read1` returns whatever the receiver has sent so far; `iter_content(128)` would block until
    128 bytes came, so a sender trickling one byte a second would hold it for minutes. urllib3's
    errors are mapped to requests' the way `iter_content` maps them.
    """
    try:
        while chunk := response.raw.read1(128, decode_content=True):
            yield chunk
    except urllib3.exceptions.ProtocolError as error:
        raise requests.exceptions.ChunkedEncodingError(error) from error
    except urllib3.exceptions.ReadTimeoutError as error:
        raise requests.exceptions.ConnectionError(error) from error
    except urllib3.exceptions.SSLError as error:
        raise requests.exceptions.SSLError(error) from error
    except urllib3.exceptions.DecodeError as error:
        raise requests.exceptions.ContentDecodingError(error) from error


def _read_prefix(response: requests.Response, deadline: float) -> tuple[bytes, bool]:
    """The first 1 KB of the body, read in small pieces so a trickling sender meets the deadline.

    Returns (bytes, finished in time). The rest of the body is never read: the connection is
    closed instead, so a huge answer costs us nothing.
    """
    received = b""
    for chunk in _arriving(response):
        received += chunk
        if time.monotonic() > deadline:
            return received[:RESPONSE_BODY_LIMIT], False
        if len(received) >= RESPONSE_BODY_LIMIT:
            break
    return received[:RESPONSE_BODY_LIMIT], True


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    allow_private: bool,
    timeout: float = 30.0,
) -> SendResult:
    """POST and read at most 1 KB of the answer; any 2xx within `timeout` seconds succeeds."""
    started = time.monotonic()

    def elapsed() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target, host_header = pinned_url(url, allow_private=allow_private)
    except UnsafeTarget as error:
        return SendResult(None, f"refused: {error}", elapsed(), None, None)
    try:
        with session().post(
            target,
            data=body,
            headers={**headers, "Host": host_header},
            timeout=(min(CONNECT_TIMEOUT, timeout), timeout),
            allow_redirects=False,
            stream=True,
        ) as response:
            raw, finished = _read_prefix(response, started + timeout)
            if not finished:
                return SendResult(
                    None, f"timeout: no answer within {timeout:g} s", elapsed(), None, None
                )
            return SendResult(
                response.status_code,
                None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}",
                elapsed(),
                raw.decode("utf-8", errors="replace"),
                response.headers.get("Retry-After"),
            )
    except requests.exceptions.SSLError:
        return SendResult(None, "tls_error: certificate or handshake failed", elapsed(), None, None)
    except requests.exceptions.ConnectTimeout:
        return SendResult(None, "timeout: could not connect in time", elapsed(), None, None)
    except (requests.exceptions.ReadTimeout, TimeoutError):
        return SendResult(None, f"timeout: no answer within {timeout:g} s", elapsed(), None, None)
    except requests.exceptions.ConnectionError as error:
        if "timed out" in str(error).lower():  # a read timeout met while streaming the body
            return SendResult(
                None, f"timeout: no answer within {timeout:g} s", elapsed(), None, None
            )
        return SendResult(None, "connection_error: could not connect", elapsed(), None, None)
    except requests.exceptions.ChunkedEncodingError:
        return SendResult(None, "connection_error: answer cut short", elapsed(), None, None)
    except requests.exceptions.RequestException as error:
        return SendResult(None, f"request_error: {type(error).__name__}", elapsed(), None, None)
