"""SSRF guard for webhook URLs: at registration and on every connection, to the address that was checked.

``check_url`` (sync) refuses non-http(s) schemes, userinfo, and IP-literal hosts that are not public.
``resolve_checked`` (async, used at create/update) resolves a host name and refuses it when *any*
address is not public. ``GuardedResolver`` is an aiohttp resolver: the connector connects only to the
addresses it returns, and it returns only addresses that pass the check, so a DNS answer that changes
between check and connect (rebinding) cannot slip through. aiohttp does not call the resolver for IP
literals, hence ``check_url`` before every request as well.

Not public: loopback, private, link-local (cloud metadata 169.254.169.254 included), 100.64/10 (CGNAT),
multicast, unspecified, reserved, documentation, benchmarking, site-local, and IPv6 forms embedding an
IPv4 address (mapped ``::ffff:a.b.c.d``, compatible ``::a.b.c.d``, 6to4 ``2002::/16``, NAT64
``64:ff9b::/96`` and ``64:ff9b:1::/48``, Teredo ``2001::/32``) — the embedded IPv4 is checked too, and
``ipaddress.is_global`` alone is not trusted (it is True for some of these). ``allow`` (from
``Settings.webhook_allow``) lists CIDRs or host names that may be reached anyway.
"""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import re
import socket
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

_BLOCKED_V4 = [
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.88.99.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",
        "240.0.0.0/4",
        "255.255.255.255/32",
    )
]
_BLOCKED_V6 = [
    ipaddress.ip_network(n)
    for n in (
        "::/128",
        "::1/128",
        "::/96",
        "::ffff:0:0/96",
        "64:ff9b::/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/32",
        "2001:db8::/32",
        "2002::/16",
        "fc00::/7",
        "fe80::/10",
        "fec0::/10",
        "ff00::/8",
        "fd00:ec2::254/128",
    )
]


_NUMERIC_HOST = re.compile(r"^(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+))*\.?$", re.IGNORECASE)


class UnsafeURL(ValueError):
    """The URL may not be used as a webhook. Not retryable: fix the URL or the allowlist."""

    retryable = False


def _networks(allow: Sequence[str]) -> tuple[list[Any], set[str]]:
    return _parse_allow(tuple(allow))


@functools.lru_cache(maxsize=64)
def _parse_allow(allow: tuple[str, ...]) -> tuple[list[Any], set[str]]:
    nets, hosts = [], set()
    for a in allow:
        try:
            nets.append(ipaddress.ip_network(a, strict=False))
        except ValueError:
            hosts.add(a.lower().rstrip("."))
    return nets, hosts


def embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped:
        return ip.ipv4_mapped
    if ip.sixtofour:
        return ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]
    packed = ip.packed
    if packed[:12] == bytes(12) and ip > ipaddress.IPv6Address("::1"):  # IPv4-compatible ::a.b.c.d
        return ipaddress.IPv4Address(packed[12:])
    if ip in ipaddress.ip_network("64:ff9b::/96") or ip in ipaddress.ip_network("64:ff9b:1::/48"):
        return ipaddress.IPv4Address(packed[12:])
    return None


def is_public(ip: IP) -> bool:
    """True only for a globally routable unicast address (with any embedded IPv4 public too)."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return False
        v4 = embedded_ipv4(ip)
        if v4 is not None or any(ip in n for n in _BLOCKED_V6):
            return False
    elif any(ip in n for n in _BLOCKED_V4):
        return False
    return ip.is_global and not ip.is_multicast and not ip.is_private and not ip.is_reserved


def address_allowed(ip: IP | str, allow: Sequence[str] = ()) -> bool:
    addr = ipaddress.ip_address(ip) if isinstance(ip, str) else ip
    nets, _ = _networks(allow)
    if any(addr.version == n.version and addr in n for n in nets):
        return True
    return is_public(addr)


def check_url(url: str, allow: Sequence[str] = ()) -> str:
    """Static checks; returns the host. Raises ``UnsafeURL``."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"invalid URL: {exc}") from exc
    del port
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL("only http and https URLs are allowed")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeURL("URLs with credentials (userinfo) are not allowed")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise UnsafeURL("URL has no host")
    _, hosts = _networks(allow)
    if host.lower() in hosts:
        return host
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        if host.lower() == "localhost" or host.lower().endswith(".localhost"):
            raise UnsafeURL("localhost is not allowed") from None
        if _NUMERIC_HOST.match(host):
            raise UnsafeURL(f"non-canonical numeric host {host!r}") from None
        return host
    if not address_allowed(ip, allow):
        raise UnsafeURL(f"address {ip} is not public (loopback/private/link-local/...) and not allow-listed")
    return host


async def resolve_checked(url: str, allow: Sequence[str] = ()) -> list[str]:
    """Registration check: static checks, then every resolved address must pass. Returns the addresses."""
    host = check_url(url, allow)
    _, hosts = _networks(allow)
    try:
        ipaddress.ip_address(host)
        return [host]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise UnsafeURL(f"cannot resolve {host}: {exc}") from exc
    addrs = sorted({str(i[4][0]) for i in infos})
    if host.lower() in hosts:
        return addrs
    bad = [a for a in addrs if not address_allowed(a.split("%")[0], allow)]
    if bad:
        raise UnsafeURL(f"{host} resolves to non-public address(es) {', '.join(bad)}")
    return addrs


class GuardedResolver(AbstractResolver):
    """Resolves, then keeps only allowed addresses; none left -> OSError (the connection fails)."""

    def __init__(self, allow: Sequence[str] = (), inner: AbstractResolver | None = None) -> None:
        self.allow = tuple(allow)
        self._nets, self._hosts = _networks(self.allow)
        self.inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self.inner.resolve(host, port, family)
        if host.lower().rstrip(".") in self._hosts:
            return results
        ok = [r for r in results if address_allowed(r["host"].split("%")[0], self.allow)]
        if not ok:
            raise OSError(f"SSRF guard: {host} resolves only to non-public addresses")
        return ok

    async def close(self) -> None:
        await self.inner.close()
