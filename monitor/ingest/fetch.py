"""HTTP fetch with every limit: one feed URL in, a ``FetchResult`` out (never an exception).

In: a URL and the validators of the previous success (ETag, Last-Modified). Out: ``FetchResult`` with
``status`` one of ``ok`` (body bytes, decompressed), ``not_modified`` (304: nothing to parse),
``throttled`` (429/503, with ``retry_after`` seconds when the server said so) or ``error`` (with a short
``reason`` and whether a retry can help).

Rules, in the order they apply:
- only ``http``/``https`` URLs, on the first request and on every redirect hop; at most
  ``max_redirects`` hops, followed by hand (aiohttp's own following is off);
- connect and read timeouts per socket operation, and one total deadline over all hops and the body;
- the body is read in chunks and decompressed here (gzip, deflate, brotli) with a bounded output per
  step, counting bytes *after* decompression: a compression bomb stops at ``max_bytes`` without ever
  being inflated in memory;
- conditional GET with ``If-None-Match`` / ``If-Modified-Since`` when validators are known.
The caller (poller, ``feeds check``) parses the bytes; this module never interprets them.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from dataclasses import dataclass
from typing import Literal

import aiohttp
import brotli
from yarl import URL

from monitor.httputil import parse_retry_after

FetchStatus = Literal["ok", "not_modified", "throttled", "error"]
_CHUNK = 64 * 1024
_STEP_OUT = 256 * 1024  # decompressed bytes produced per decompressor call, at most


@dataclass(frozen=True, slots=True)
class FetchLimits:
    connect_timeout: float = 10.0
    read_timeout: float = 20.0
    deadline: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    user_agent: str = "monitor/0.1"


@dataclass(frozen=True, slots=True)
class FetchResult:
    url: str
    status: FetchStatus
    http_status: int = 0
    body: bytes = b""
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    final_url: str = ""
    retry_after: float | None = None
    error: str | None = None
    reason: str = ""  # short closed-set label for metrics: timeout, too_large, redirect, scheme, http_4xx...
    retryable: bool = False
    wire_bytes: int = 0
    elapsed: float = 0.0


class _TooLarge(Exception):
    pass


def _zlib_header(data: bytes) -> bool:
    """True when ``data`` starts with a zlib header (RFC 1950), False for raw deflate."""
    return len(data) >= 2 and (data[0] & 0x0F) == 8 and (data[0] >> 4) <= 7 and (data[0] << 8 | data[1]) % 31 == 0


class _Decoder:
    """Incremental decompressor with a bounded output per step; raises ``_TooLarge`` past the cap."""

    def __init__(self, encoding: str, max_bytes: int) -> None:
        self.encoding = encoding
        self.max_bytes = max_bytes
        self.out = bytearray()
        self._z: zlib._Decompress | None = None
        self._br: brotli.Decompressor | None = None
        self._first = True
        if encoding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif encoding == "deflate":
            self._z = zlib.decompressobj(zlib.MAX_WBITS)
        elif encoding == "br":
            self._br = brotli.Decompressor()

    def _emit(self, data: bytes) -> None:
        if len(self.out) + len(data) > self.max_bytes:
            raise _TooLarge
        self.out += data

    def feed(self, chunk: bytes) -> None:
        if self._z is not None:
            if self._first and self.encoding == "deflate" and chunk and not _zlib_header(chunk):
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            self._first = False
            data = chunk
            while data:
                self._emit(self._z.decompress(data, _STEP_OUT))
                data = self._z.unconsumed_tail
                if self._z.eof:
                    break
        elif self._br is not None:
            self._emit(self._br.process(chunk, output_buffer_limit=_STEP_OUT))
            while not self._br.can_accept_more_data():
                self._emit(self._br.process(b"", output_buffer_limit=_STEP_OUT))
        else:
            self._emit(chunk)

    def finish(self) -> bytes:
        if self._z is not None:
            self._emit(self._z.flush(_STEP_OUT))
        return bytes(self.out)


def make_session(limits: FetchLimits, *, concurrency: int = 100) -> aiohttp.ClientSession:
    """The one client session for feed fetching (the caller closes it)."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(
        total=None, sock_connect=limits.connect_timeout, sock_read=limits.read_timeout
    )
    return aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        auto_decompress=False,
        headers={"User-Agent": limits.user_agent},
        cookie_jar=aiohttp.DummyCookieJar(),
    )


def _scheme_ok(url: URL) -> bool:
    return url.scheme in ("http", "https") and bool(url.host)


def _result(url: str, started: float, status: FetchStatus, **kw: object) -> FetchResult:
    return FetchResult(url=url, status=status, elapsed=time.monotonic() - started, **kw)  # type: ignore[arg-type]


async def fetch(
    session: aiohttp.ClientSession,
    url: str,
    limits: FetchLimits,
    *,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchResult:
    """Fetch one feed within ``limits``; never raises (cancellation aside)."""
    started = time.monotonic()
    try:
        current = URL(url, encoded=False)
    except (ValueError, TypeError) as exc:
        return _result(url, started, "error", error=f"bad url: {exc}", reason="bad_url")
    if not _scheme_ok(current):
        return _result(url, started, "error", reason="scheme",
                       error=f"scheme not allowed: {current.scheme or '(none)'}")

    headers = {"Accept-Encoding": "gzip, deflate, br",
               "Accept": "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.8"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    try:
        async with asyncio.timeout(limits.deadline):
            for _hop in range(limits.max_redirects + 1):
                async with session.get(current, headers=headers, allow_redirects=False) as resp:
                    if resp.status not in (301, 302, 303, 307, 308):
                        return await _read(resp, url, current, limits, started)
                    location = resp.headers.get("Location")
                    bad = {"http_status": resp.status, "reason": "redirect"}
                    if not location:
                        return _result(url, started, "error", error="redirect without Location", **bad)
                    try:
                        nxt = current.join(URL(location))
                    except (ValueError, TypeError) as exc:
                        return _result(url, started, "error", error=f"bad redirect: {exc}", **bad)
                    if not _scheme_ok(nxt):
                        return _result(url, started, "error", http_status=resp.status, reason="scheme",
                                       error=f"redirect to a scheme not allowed: {nxt.scheme or '(none)'}")
                    current = nxt
            return _result(url, started, "error", error=f"more than {limits.max_redirects} redirects",
                           reason="redirects")
    except TimeoutError:
        return _result(url, started, "error", error=f"deadline of {limits.deadline:g} s exceeded",
                       reason="timeout", retryable=True)
    except aiohttp.ServerTimeoutError as exc:
        return _result(url, started, "error", error=f"timeout: {exc}", reason="timeout", retryable=True)
    except aiohttp.ClientConnectorError as exc:
        return _result(url, started, "error", error=f"cannot connect: {exc}", reason="connect",
                       retryable=True)
    except (aiohttp.ClientError, OSError) as exc:
        return _result(url, started, "error", error=f"{type(exc).__name__}: {exc}", reason="http",
                       retryable=True)
    except ValueError as exc:  # a URL or header the client library refuses
        return _result(url, started, "error", error=f"{type(exc).__name__}: {exc}", reason="bad_url")


async def _read(resp: aiohttp.ClientResponse, url: str, current: URL, limits: FetchLimits,
                started: float) -> FetchResult:
    status = resp.status
    common: dict[str, object] = {"http_status": status, "final_url": str(current)}
    if status == 304:
        return _result(url, started, "not_modified", **common)
    if status in (429, 503):
        return _result(url, started, "throttled", retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                       error=f"HTTP {status}", reason=f"http_{status}", retryable=True, **common)
    if status >= 400 or status < 200:
        return _result(url, started, "error", error=f"HTTP {status}", reason=f"http_{status // 100}xx",
                       retryable=status >= 500 or status == 408, **common)
    encoding = resp.headers.get("Content-Encoding", "").strip().lower()
    if encoding not in ("", "identity", "gzip", "x-gzip", "deflate", "br"):
        return _result(url, started, "error", error=f"unsupported Content-Encoding {encoding!r}",
                       reason="encoding", **common)
    declared = resp.content_length
    if declared is not None and encoding in ("", "identity") and declared > limits.max_bytes:
        return _result(url, started, "error", reason="too_large",
                       error=f"body of {declared} bytes over the {limits.max_bytes} byte limit", **common)
    decoder = _Decoder(encoding, limits.max_bytes)
    wire = 0
    try:
        async for chunk in resp.content.iter_chunked(_CHUNK):
            wire += len(chunk)
            decoder.feed(chunk)
        body = decoder.finish()
    except _TooLarge:
        return _result(url, started, "error", error=f"body over the {limits.max_bytes} byte limit",
                       reason="too_large", wire_bytes=wire, **common)
    except (zlib.error, brotli.error) as exc:
        return _result(url, started, "error", error=f"bad {encoding} body: {exc}", reason="encoding",
                       wire_bytes=wire, **common)
    return _result(url, started, "ok", body=body, content_type=resp.headers.get("Content-Type", ""),
                   etag=resp.headers.get("ETag"), last_modified=resp.headers.get("Last-Modified"),
                   wire_bytes=wire, **common)
