"""Helpers for ingest tests: real local HTTP servers on 127.0.0.1, small limits, RSS measurement.

- ``serve(app)``: an aiohttp.web app on a free loopback port inside the test's event loop.
- ``ThreadedServer(app)``: the same in a background thread (for sync code such as click's CliRunner).
- ``raw_server(handler)``: an ``asyncio.start_server`` for servers that misbehave below HTTP.
- ``PeakRSS``: samples this process's RSS in a thread; ``peak - start`` is the growth of a case.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import psutil
import pytest
from aiohttp import web

from monitor.ingest.fetch import FetchLimits, make_session
from monitor.settings import Settings

SMALL = FetchLimits(connect_timeout=2.0, read_timeout=1.0, deadline=3.0, max_bytes=1024 * 1024,
                    max_redirects=5, user_agent="monitor-tests")


def rss_feed(items: list[tuple[str, str]], *, title: str = "t", lang: str = "en") -> bytes:
    """A small RSS 2.0 body from (guid, title) pairs."""
    body = "".join(
        f"<item><guid>{g}</guid><title>{t}</title><link>http://example.com/{g}?utm_source=x</link>"
        f"<description>&lt;p&gt;About {t}&lt;/p&gt;</description>"
        f"<pubDate>Sun, 22 Nov 2026 10:00:00 GMT</pubDate></item>"
        for g, t in items
    )
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{title}</title>'
            f"<language>{lang}</language>{body}</channel></rss>").encode()


@contextlib.asynccontextmanager
async def serve(app: web.Application) -> AsyncIterator[str]:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@contextlib.asynccontextmanager
async def raw_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> AsyncIterator[str]:
    tasks: set[asyncio.Task[None]] = set()

    async def wrapped(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        tasks.add(task)
        try:
            await handler(r, w)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            w.close()

    server = await asyncio.start_server(wrapped, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class ThreadedServer:
    """An aiohttp app served from a thread with its own loop; ``url`` once entered."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._main())

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self.app) as url:
            self.url = url
            self._ready.set()
            await self._stop.wait()

    def __enter__(self) -> ThreadedServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


class PeakRSS:
    """Context manager: ``growth`` = peak RSS during the block minus RSS at entry, in bytes."""

    def __init__(self, every: float = 0.005) -> None:
        self.proc = psutil.Process()
        self.every = every
        self.start = self.peak = 0
        self._halt = threading.Event()
        self._t = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._halt.is_set():
            self.peak = max(self.peak, self.proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakRSS:
        self.start = self.peak = self.proc.memory_info().rss
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._halt.set()
        self._t.join()
        self.peak = max(self.peak, self.proc.memory_info().rss)

    @property
    def growth(self) -> int:
        return self.peak - self.start


@pytest.fixture
async def session() -> AsyncIterator[Any]:
    s = make_session(SMALL, concurrency=64)
    try:
        yield s
    finally:
        await s.close()


def small_settings(**overrides: Any) -> Settings:
    """Settings with test-sized limits (no services; pass kafka_bootstrap / redis_url as needed)."""
    base: dict[str, Any] = {
        "fetch_connect_timeout": 2.0, "fetch_read_timeout": 1.0, "fetch_deadline": 3.0,
        "fetch_max_bytes": 1024 * 1024, "fetch_per_host": 8, "fetch_concurrency": 16,
        "poll_interval": 0.2, "poll_interval_min": 0.1, "poll_interval_max": 1.0,
        "embedded_broker": True,
    }
    base.update(overrides)
    return Settings(**base)


@pytest.fixture
def recorder() -> Iterator[list[dict[str, Any]]]:
    """A list where test servers append what they saw (time, path, headers)."""
    yield []
