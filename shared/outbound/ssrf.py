"""Which webhook targets we refuse: private, loopback, link-local, multicast, reserved addresses.

Checked at registration and again at delivery time (a DNS name may be re-pointed after
registration: DNS rebinding), where we then connect to the very address we checked.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import SplitResult, unquote, urlsplit

from shared.core.errors import InvalidRequest

MAX_URL_LENGTH = 2048
# Old-style IPv4 forms that resolvers accept: 2130706433, 0x7f000001, 0177.0.0.1, 127.1.
LEGACY_IPV4 = re.compile(r"(0x[0-9a-f]+|[0-9]+)(\.(0x[0-9a-f]+|[0-9]+)){0,3}", re.IGNORECASE)
# A URL holds no spaces or control characters (RFC 3986): urlsplit would silently drop a tab or
# newline, so the URL we would store is not the one we checked.
SPACE_OR_CONTROL = re.compile(r"[\x00-\x20\x7f]")
# A host name once IDNA-encoded: letters, digits, `-` and `_` in dot-separated labels.
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?")

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
    if LEGACY_IPV4.fullmatch(candidate):
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


def _invalid(message: str) -> InvalidRequest:
    return InvalidRequest(message, code="invalid_url")


def _valid_host(parts: SplitResult) -> bool:
    """An IPv6 literal in brackets, or a name (or IPv4 form) of DNS label characters."""
    host = parts.hostname or ""
    if "[" in parts.netloc:
        # A zone (`[fe80::1%25eth0]`, RFC 6874) is valid syntax; being link-local, the address
        # check refuses it unless private targets are allowed.
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return False
        return True
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return HOST_NAME.fullmatch(encoded.lower()) is not None


def url_parts(url: str) -> SplitResult:
    """The URL's parts, once its form is sound: length, characters, port, host."""
    if len(url) > MAX_URL_LENGTH:
        raise _invalid(f"url is longer than {MAX_URL_LENGTH} characters")
    if SPACE_OR_CONTROL.search(url):
        raise _invalid("url must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise _invalid("url is not a valid URL") from error
    if port == 0:
        raise _invalid("url port must be 1-65535")
    if not parts.hostname:
        raise _invalid("url has no host")
    if not _valid_host(parts):
        raise _invalid("url host is not a valid host name or address")
    return parts


def validate_url(url: str, *, allow_private: bool) -> str:
    """Registration check: form, scheme, host; names that do not resolve yet are accepted."""
    parts = url_parts(url)
    allowed = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed:
        raise _invalid("url must use https")
    if parts.username or parts.password:
        raise _invalid("url must not carry credentials")
    if allow_private:
        return url
    try:
        addresses = resolve(parts.hostname or "", parts.port or 443)
    except (OSError, UnicodeError):
        return url  # not resolvable now; checked again at delivery time
    if not addresses or any(is_forbidden_address(address) for address in addresses):
        raise _invalid("url points at a private, loopback, link-local or reserved address")
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
