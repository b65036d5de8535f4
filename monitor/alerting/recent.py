"""The recent-alerts store behind ``GET /api/v1/alerts``: the last N alerts in Redis, newest first.

``add`` is idempotent per alert id (a replayed alert keeps its first position), ``list`` pages through
them newest first with optional filters, ``get`` returns one alert with its evidence. Keys:
``monitor:alerts:recent`` (sorted set, score = created_at) and ``monitor:alerts:doc`` (hash id -> JSON).
Each ``add`` also PUBLISHes the number of alerts on ``monitor:alerts:new``: a hint for live pages (the web
console's inbox), at most once; listeners read the sorted set for the alerts themselves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import redis.asyncio as aioredis

from monitor.models import Alert

ZKEY = "monitor:alerts:recent"
HKEY = "monitor:alerts:doc"
NOTIFY = "monitor:alerts:new"


class RecentAlerts:
    def __init__(self, redis: aioredis.Redis, limit: int = 1000) -> None:
        self.redis = redis
        self.limit = limit

    async def add(self, alerts: Sequence[Alert]) -> None:
        if not alerts:
            return
        async with self.redis.pipeline(transaction=True) as pipe:
            for a in alerts:
                pipe.zadd(ZKEY, {a.id: a.created_at.timestamp()}, nx=True)
                pipe.hsetnx(HKEY, a.id, a.to_json())
            pipe.publish(NOTIFY, len(alerts))
            await pipe.execute()
        await self._trim()

    async def _trim(self) -> None:
        excess = await self.redis.zcard(ZKEY) - self.limit
        if excess > 0:
            old = await self.redis.zrange(ZKEY, 0, excess - 1)
            if old:
                async with self.redis.pipeline(transaction=True) as pipe:
                    pipe.zrem(ZKEY, *old)
                    pipe.hdel(HKEY, *old)
                    await pipe.execute()

    async def list(
        self,
        limit: int = 50,
        offset: int = 0,
        *,
        rule: str | None = None,
        tag: str | None = None,
        since: float | None = None,
        until: float | None = None,
    ) -> list[Alert]:
        """Newest first. Filters apply before paging."""
        hi = "+inf" if until is None else until
        lo = "-inf" if since is None else since
        filtered = rule is not None or tag is not None
        ids = await self.redis.zrevrangebyscore(
            ZKEY, hi, lo, start=0 if filtered else offset, num=self.limit if filtered else limit
        )
        if not ids:
            return []
        docs = await self.redis.hmget(HKEY, cast("list[bytes]", ids))  # members of a plain ZRANGE
        out = [Alert.from_json(d) for d in docs if d is not None]
        if filtered:
            out = [a for a in out if (rule is None or a.rule == rule) and (tag is None or tag in a.tags)]
            out = out[offset: offset + limit]
        return out

    async def get(self, alert_id: str) -> Alert | None:
        doc = await self.redis.hget(HKEY, alert_id)
        return Alert.from_json(doc) if doc is not None else None

    async def count(self) -> int:
        return int(await self.redis.zcard(ZKEY))
