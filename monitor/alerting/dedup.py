"""The sender-side notification log (Alertmanager's nflog): was this delivery already made?

Check before sending, record after success. One key per (subscription, delivery id) with a TTL at least
as long as the retry horizon (``Settings.delivery_log_ttl``), so replaying the ``alerts`` topic from
offset 0 finds every delivery made within that time and sends nothing twice. The enqueue and redis
channel Lua scripts read and write the same keys (``keys.sent``) inside Redis.
"""

from __future__ import annotations

from collections.abc import Sequence

import redis.asyncio as aioredis

from monitor.alerting import keys


class NotificationLog:
    def __init__(self, redis: aioredis.Redis, ttl_seconds: int) -> None:
        self.redis = redis
        self.ttl = ttl_seconds

    async def seen(self, pairs: Sequence[tuple[str, str]]) -> list[bool]:
        """For each (subscription id, delivery id): True when it was delivered."""
        if not pairs:
            return []
        async with self.redis.pipeline(transaction=False) as p:
            for sub_id, did in pairs:
                p.exists(keys.sent(sub_id, did))
            return [bool(x) for x in await p.execute()]

    def record(self, pipe: aioredis.client.Pipeline, sub_id: str, dids: Sequence[str]) -> None:
        """Queue the 'delivered' marks on a pipeline (the caller executes it with its other effects)."""
        for did in dids:
            pipe.set(keys.sent(sub_id, did), 1, ex=self.ttl)

    async def forget(self, sub_id: str, dids: Sequence[str]) -> None:
        if dids:
            await self.redis.delete(*(keys.sent(sub_id, d) for d in dids))
