"""Feed state and seen article ids, in Redis, so a restart resumes where the last process stopped.

- ``{prefix}feed:{feed.key}``: one JSON ``FeedState`` per feed (validators, body hash, last success,
  consecutive errors, adaptive interval and publishing-rate estimate, next due time, Retry-After horizon).
  The key derives from the feed URL, so renaming a feed keeps its state.
- ``{prefix}seen:{sha256(article id)}``: exists while the article id is "seen", with a TTL
  (``Settings.seen_ttl_days``). Written only after Kafka acknowledged the article; the TTL restarts when
  a full parse finds the id still in its feed.

Every call is one round trip (MGET / pipelined SET); the poller batches state saves (``save_many``). Redis errors propagate: they are retryable, and the
poller treats them as a failed poll of that feed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import orjson
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, ValidationError

from monitor.models import stable_id


class FeedState(BaseModel):
    """What the poller remembers about one feed between polls (times are Unix seconds)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    items: list[str] | None = None  # digests of the last fully handled body's items (delta parsing)
    last_attempt: float | None = None
    last_success: float | None = None
    last_new: float | None = None  # the last successful poll that published at least one new article
    last_status: str = ""
    errors: int = 0
    interval: float | None = None
    rate: float | None = None  # EWMA of new articles per second
    next_due: float | None = None
    retry_until: float | None = None
    polls: int = 0
    cursor: int | None = None  # telegram: the highest message number published
    children: dict[str, str] | None = None  # sitemap index: child URL -> its lastmod when last read


class FeedStore:
    """Redis access for feed state and seen ids; ``prefix`` isolates deployments and tests."""

    def __init__(self, redis: aioredis.Redis, *, prefix: str = "monitor:", seen_ttl_s: int = 30 * 86400):
        self.redis = redis
        self.prefix = prefix
        self.seen_ttl_s = max(1, int(seen_ttl_s))

    def _feed_key(self, feed_key: str) -> str:
        return f"{self.prefix}feed:{feed_key}"

    def _seen_key(self, article_id: str) -> str:
        return f"{self.prefix}seen:{stable_id(article_id, length=32)}"

    async def load(self, feed_keys: Sequence[str], *, batch: int = 1000) -> dict[str, FeedState]:
        """States of the given feeds; a feed never seen (or with unreadable state) gets a fresh one."""
        out: dict[str, FeedState] = {}
        for i in range(0, len(feed_keys), batch):
            chunk = list(feed_keys[i:i + batch])
            values = await self.redis.mget([self._feed_key(k) for k in chunk])
            for key, raw in zip(chunk, values, strict=True):
                state = FeedState()
                if raw:
                    try:
                        state = FeedState.model_validate(orjson.loads(raw))
                    except (orjson.JSONDecodeError, ValidationError):
                        state = FeedState()
                out[key] = state
        return out

    async def save(self, feed_key: str, state: FeedState) -> None:
        await self.redis.set(self._feed_key(feed_key), orjson.dumps(state.model_dump(exclude_none=True)))

    async def save_many(self, states: dict[str, FeedState]) -> None:
        """Save several feeds' states in one round trip."""
        if not states:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for key, state in states.items():
                pipe.set(self._feed_key(key), orjson.dumps(state.model_dump(exclude_none=True)))
            await pipe.execute()

    async def unseen(self, article_ids: Sequence[str]) -> list[bool]:
        """For each id, True when it is not marked seen."""
        if not article_ids:
            return []
        values = await self.redis.mget([self._seen_key(a) for a in article_ids])
        return [v is None for v in values]

    async def touch(self, article_ids: Iterable[str]) -> None:
        """Restart the TTL of ids that are still in a feed, so an evergreen item is not re-published."""
        ids = list(article_ids)
        if not ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for a in ids:
                pipe.expire(self._seen_key(a), self.seen_ttl_s)
            await pipe.execute()

    async def mark_seen(self, article_ids: Iterable[str]) -> None:
        ids = list(article_ids)
        if not ids:
            return
        async with self.redis.pipeline(transaction=False) as pipe:
            for a in ids:
                pipe.set(self._seen_key(a), b"1", ex=self.seen_ttl_s)
            await pipe.execute()
