"""The channel contract: ``send(delivery, subscription)`` either returns (delivered) or raises ``DeliveryError``.

A channel never retries and never sleeps: it reports, and the dispatcher (the one place that retries)
schedules the next attempt in Redis. ``DeliveryError.retryable`` says whether to try again,
``retry_after`` (seconds) is the receiver's own wish (``Retry-After``), ``disable`` asks for the
subscription to be disabled (HTTP 410 Gone). Any other exception escaping ``send`` is treated as a
retryable failure by the dispatcher (and logged as a bug).

``send_many`` lets a channel batch (the redis channel does one round trip for many deliveries); the
default sends concurrently, at most ``concurrency`` at a time per call.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from monitor.alerting.model import Delivery, Subscription
    from monitor.settings import Settings


class DeliveryError(Exception):
    """A delivery failed. ``retryable``: try again later; ``retry_after``: not before this many seconds."""

    def __init__(
        self, message: str, *, retryable: bool = True, retry_after: float | None = None, disable: bool = False
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.disable = disable


class Channel:
    name: ClassVar[str] = ""
    #: True: ``send_many`` does one round trip for many deliveries (the dispatcher then batches)
    batching: ClassVar[bool] = False

    def __init__(self, settings: Settings, redis: aioredis.Redis) -> None:
        self.settings = settings
        self.redis = redis
        self.concurrency = settings.delivery_endpoint_concurrency  # sends in flight per endpoint

    async def send(self, delivery: Delivery, subscription: Subscription) -> None:
        raise NotImplementedError

    async def send_many(self, items: Sequence[tuple[Delivery, Subscription]]) -> list[BaseException | None]:
        """Send each; return None (delivered) or the exception, in order. Never raises."""
        if len(items) == 1:
            try:
                await self.send(*items[0])
            except Exception as exc:
                return [exc]
            return [None]
        sem = asyncio.Semaphore(self.concurrency)

        async def one(d: Delivery, s: Subscription) -> BaseException | None:
            async with sem:
                try:
                    await self.send(d, s)
                except Exception as exc:
                    return exc
                return None

        return list(await asyncio.gather(*(one(d, s) for d, s in items)))

    async def close(self) -> None:
        return None
