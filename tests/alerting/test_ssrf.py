"""SSRF guard: every address class refused, public addresses and the allowlist accepted."""

from __future__ import annotations

import aiohttp
import pytest

from monitor.alerting.channels.ssrf import (
    GuardedResolver,
    UnsafeURL,
    address_allowed,
    check_url,
    resolve_checked,
)

REFUSED = {
    "loopback v4": "127.0.0.1",
    "loopback v4 other": "127.8.9.10",
    "loopback v6": "::1",
    "unspecified": "0.0.0.0",
    "private 10": "10.1.2.3",
    "private 172.16": "172.16.5.4",
    "private 192.168": "192.168.1.1",
    "link-local": "169.254.10.10",
    "metadata": "169.254.169.254",
    "cgnat 100.64": "100.64.0.1",
    "cgnat top": "100.127.255.254",
    "multicast v4": "224.0.0.1",
    "multicast v6": "ff02::1",
    "broadcast": "255.255.255.255",
    "reserved 240": "240.0.0.1",
    "documentation": "192.0.2.5",
    "benchmarking": "198.18.0.1",
    "ula v6": "fd12:3456::1",
    "aws metadata v6": "fd00:ec2::254",
    "link-local v6": "fe80::1",
    "mapped v4 loopback": "::ffff:127.0.0.1",
    "mapped v4 private": "::ffff:10.0.0.1",
    "mapped v4 public": "::ffff:8.8.8.8",
    "compat v4": "::127.0.0.1",
    "6to4 loopback": "2002:7f00:1::",
    "6to4 private": "2002:c0a8:101::1",
    "nat64 loopback": "64:ff9b::7f00:1",
    "nat64 metadata": "64:ff9b::a9fe:a9fe",
    "nat64 local-use": "64:ff9b:1::a00:1",
    "teredo": "2001:0:4136:e378:8000:63bf:3fff:fdd2",
    "site-local v6": "fec0::1",
}

ALLOWED = {"google dns": "8.8.8.8", "cloudflare v6": "2606:4700:4700::1111", "public": "93.184.216.34"}


@pytest.mark.parametrize("addr", REFUSED.values(), ids=REFUSED.keys())
def test_refused_address_classes(addr: str) -> None:
    assert not address_allowed(addr)
    host = f"[{addr}]" if ":" in addr else addr
    with pytest.raises(UnsafeURL):
        check_url(f"http://{host}/hook")


@pytest.mark.parametrize("addr", ALLOWED.values(), ids=ALLOWED.keys())
def test_public_addresses_pass(addr: str) -> None:
    assert address_allowed(addr)
    host = f"[{addr}]" if ":" in addr else addr
    assert check_url(f"https://{host}/hook")


def test_allowlist_opens_a_cidr_only() -> None:
    assert address_allowed("127.0.0.1", ["127.0.0.1/32"])
    assert not address_allowed("127.0.0.2", ["127.0.0.1/32"])
    assert check_url("http://127.0.0.1:9/x", ["127.0.0.1/32"]) == "127.0.0.1"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/x",
        "file:///etc/passwd",
        "http://user:pw@example.com/",
        "http://example.com@127.0.0.1/",
        "http://localhost/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http:///nohost",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(UnsafeURL):
        check_url(url)


async def test_registration_resolves_names() -> None:
    with pytest.raises(UnsafeURL):
        await resolve_checked("http://localhost./hook")
    with pytest.raises(UnsafeURL):
        await resolve_checked("http://localtest.invalid/hook")  # does not resolve


async def test_every_connection_is_guarded(receiver) -> None:
    """A name resolving to loopback: refused at connect time without the allowlist, reached with it."""
    url = receiver.url.replace("127.0.0.1", "localhost")
    connector = aiohttp.TCPConnector(resolver=GuardedResolver([]))
    async with aiohttp.ClientSession(connector=connector) as s:
        with pytest.raises(aiohttp.ClientConnectorError):
            await s.post(url, data=b"{}")
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(["127.0.0.1/32"]))
    async with aiohttp.ClientSession(connector=connector) as s, s.post(url, data=b"{}") as r:
        assert r.status == 400  # reached the receiver (which rejects the unsigned body)
