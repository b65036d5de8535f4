"""Endpoint health: continuous failure per subscription, auto-disable, and telling the subscriber.

``failed`` records the first failure of a run of failures (``monitor:{sub:<id>}:health``); once the
run lasts ``Settings.delivery_disable_after`` seconds, or at once for a ``DeliveryError`` asking to
``disable`` (HTTP 410), the subscription is disabled with its reason, a notice is appended to the
``monitor:notices`` stream, and its ``contact`` (if any) gets an email (one attempt, best effort).
``ok`` ends a run. Redis errors propagate to the dispatcher, which logs them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING

from monitor.alerting import keys
from monitor.alerting.channels.base import DeliveryError
from monitor.alerting.model import Subscription
from monitor.alerting.store import NotFound, Store

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from monitor.settings import Settings

log = logging.getLogger(__name__)


class EndpointHealth:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        store: Store,
        spawn: Callable[[Coroutine[object, object, None]], None],
    ) -> None:
        self.s = settings
        self.redis = redis
        self.store = store
        self.spawn = spawn
        self._healthy: set[str] = set()  # known to have no failure run: skip the DEL

    async def ok(self, sub_id: str) -> None:
        if sub_id not in self._healthy:
            await self.redis.delete(keys.health(sub_id))
            self._healthy.add(sub_id)

    async def failed(self, sub: Subscription, err: DeliveryError, now: float) -> None:
        self._healthy.discard(sub.id)
        key = keys.health(sub.id)
        async with self.redis.pipeline(transaction=False) as p:
            p.hsetnx(key, "first_failure", repr(now))
            p.hset(key, "last_error", str(err)[:500])
            p.hget(key, "first_failure")
            first = float((await p.execute())[2] or now)
        if err.disable or now - first >= self.s.delivery_disable_after:
            reason = str(err) if err.disable else f"failing continuously since {time.ctime(first)}: {err}"
            await self.disable(sub, reason)

    async def disable(self, sub: Subscription, reason: str) -> None:
        try:
            await self.store.disable(sub.id, reason)
        except NotFound:
            return
        await self.redis.xadd(
            keys.NOTICES,
            {"sub": sub.id, "event": "disabled", "reason": reason[:500]},
            maxlen=10000,
            approximate=True,
        )
        await self.redis.delete(keys.health(sub.id))
        log.warning("subscription %s disabled: %s", sub.id, reason)
        if sub.contact:
            self.spawn(self._tell(sub, reason))

    async def _tell(self, sub: Subscription, reason: str) -> None:
        from monitor.alerting.channels.email import send_notice

        try:
            await send_notice(self.s, sub, reason)
        except Exception:
            log.exception("could not tell %s that subscription %s was disabled", sub.contact, sub.id)
