"""Live inbox: a Server-Sent Events stream of new alerts, rendered as the inbox's own rows.

One ``Live`` per application listens on the ``monitor:alerts:new`` channel (``RecentAlerts.add``
publishes there) and wakes every waiting stream. A PUBLISH is only a hint (at most once, lost while
Redis reconnects), so each stream also looks every ``POLL`` seconds. A stream remembers the alerts it
has sent and reads the recent store from a little before its newest one (``LATE``: alerts of other
workers can arrive slightly out of order), sending each new alert its filters accept as one ``alert``
event: JSON ``{"key", "id", "row", "group"}`` where ``row``/``group`` are HTML rendered by the same
templates as the page (so escaped the same way). Streams end when the application shuts down.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import orjson
import redis.asyncio as aioredis
from aiohttp import web

from monitor.alerting.recent import HKEY, NOTIFY, ZKEY
from monitor.models import Alert

log = logging.getLogger(__name__)
POLL = 5.0
PING = 15.0
LATE = 120.0


class Live:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis
        self._wake = asyncio.Event()
        self.closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def _ensure(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._listen(), name="web-live")

    async def _listen(self) -> None:
        while not self.closing.is_set():
            try:
                async with self.redis.pubsub() as ps:
                    await ps.subscribe(NOTIFY)
                    while not self.closing.is_set():
                        msg = await ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if msg is not None:
                            self._notify()
            except Exception as exc:  # Redis away: the streams still poll; listen again shortly
                log.debug("live listener: %s", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.closing.wait(), 2.0)

    def _notify(self) -> None:
        wake, self._wake = self._wake, asyncio.Event()
        wake.set()

    async def wait(self, timeout: float) -> None:
        """Until a notice, shutdown or ``timeout`` seconds."""
        self._ensure()
        wake = self._wake
        waits = [asyncio.ensure_future(wake.wait()), asyncio.ensure_future(self.closing.wait())]
        try:
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waits:
                w.cancel()

    async def close(self) -> None:
        self.closing.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task


class Cursor:
    """What one stream has sent: new alerts since ``after``, each once, oldest first."""

    def __init__(self, redis: aioredis.Redis, after: float) -> None:
        self.redis = redis
        self.floor = after - LATE
        self.after = after
        self.sent: dict[str, float] = {}
        self.primed = False

    async def next(self) -> list[Alert]:
        rows: list[Any] = await self.redis.zrangebyscore(ZKEY, self.floor, "+inf", withscores=True)
        ids: list[tuple[str, float]] = [(i.decode() if isinstance(i, bytes) else i, float(s)) for i, s in rows]
        if not self.primed:  # alerts at or before `after` were on the page already
            self.sent.update((i, s) for i, s in ids if s <= self.after)
            self.primed = True
        new = [(i, s) for i, s in ids if i not in self.sent]
        out: list[Alert] = []
        if new:
            docs = await self.redis.hmget(HKEY, [i for i, _ in new])
            for (i, s), doc in zip(new, docs, strict=True):
                self.sent[i] = s
                if doc is not None:
                    out.append(Alert.model_validate(orjson.loads(doc)))
        if ids:
            self.floor = max(self.floor, ids[-1][1] - LATE)
            self.sent = {i: s for i, s in self.sent.items() if s >= self.floor}
        return out


async def stream(request: web.Request, live: Live, cursor: Cursor, render_event) -> web.StreamResponse:  # type: ignore[no-untyped-def]
    from monitor.web.render import HEADERS

    resp = web.StreamResponse(headers={**HEADERS, "Content-Type": "text/event-stream; charset=utf-8",
                                       "X-Accel-Buffering": "no"})
    await resp.prepare(request)
    last_write = time.monotonic()
    try:
        await resp.write(b"retry: 3000\n\n")
        while not live.closing.is_set():
            for alert in await cursor.next():
                data = render_event(alert)
                if data is not None:
                    await resp.write(b"event: alert\ndata: " + orjson.dumps(data) + b"\n\n")
                    last_write = time.monotonic()
            if time.monotonic() - last_write >= PING:
                await resp.write(b": ping\n\n")
                last_write = time.monotonic()
            await live.wait(POLL)
    except (ConnectionResetError, ConnectionError):
        pass
    return resp
