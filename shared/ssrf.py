"""Which webhook targets we refuse: private, loopback, link-local, multicast, reserved addresses.

Checked at registration and again at delivery time (a DNS name may be re-pointed after
registration: DNS rebinding), where we then connect to the very address we checked.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import unquote, urlsplit

from shared.errors import InvalidRequest

MAX_URL_LENGTH = 2048
# Old-style IPv4 forms that resolvers accept: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
LEGACY_IPV4 = re.compile(r"^(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}$", re.IGNORECASE)

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeTarget(ValueError):
    """The target resolves to an address we never send to."""


def is_forbidden_address(address: IpAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_forbidden_address(embedded)
        if address.teredo:
            return True
    return (
        not address.is_global
        or address.is_multicast
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_unspecified
    )


def literal_address(host: str) -> IpAddress | None:
    """The address a host names literally, including legacy numeric IPv4 forms.

    URL parsers (WHATWG, browsers, curl) read `127.0.0.1.` and `%31%32%37.0.0.1` as 127.0.0.1
    too: the percent-encoding and one trailing dot are taken off first.
    """
    candidate = unquote(host).strip("[]")
    if candidate.endswith(".") and not candidate.endswith(".."):
        candidate = candidate[:-1]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        pass
    if LEGACY_IPV4.match(candidate):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(candidate))
        except OSError:
            return None
    return None


def resolve(host: str, port: int) -> list[IpAddress]:
    """All addresses a host resolves to (literal hosts resolve to themselves)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]


def validate_url(url: str, *, allow_private: bool) -> str:
    """Registration check: scheme, length, host; names that do not resolve yet are accepted."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidRequest(f"url is longer than {MAX_URL_LENGTH} characters", code="invalid_url")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise InvalidRequest("url is not a valid URL", code="invalid_url") from error
    allowed = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed:
        raise InvalidRequest("url must use https", code="invalid_url")
    if not parts.hostname:
        raise InvalidRequest("url has no host", code="invalid_url")
    if parts.username or parts.password:
        raise InvalidRequest("url must not carry credentials", code="invalid_url")
    if allow_private:
        return url
    try:
        addresses = resolve(parts.hostname, port or 443)
    except (OSError, UnicodeError):
        return url  # not resolvable now; checked again at delivery time
    if not addresses or any(is_forbidden_address(address) for address in addresses):
        raise InvalidRequest(
            "url points at a private, loopback, link-local or reserved address",
            code="invalid_url",
        )
    return url


def checked_address(host: str, port: int, *, allow_private: bool) -> IpAddress:
    """Delivery-time check: resolve now and return the one address we will connect to."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError) as error:
        raise UnsafeTarget(f"could not resolve {host}") from error
    if not addresses:
        raise UnsafeTarget(f"could not resolve {host}")
    if not allow_private and any(is_forbidden_address(address) for address in addresses):
        raise UnsafeTarget("target resolves to a forbidden address")
    return addresses[0]
