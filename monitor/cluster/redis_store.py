"""``RedisStore``: the ``ClusterStore`` in Redis, so clustering state survives worker restarts.

Keys (all under ``prefix``, default ``monitor:cluster``), each with a TTL equal to what is left of its
window in article time (``expires_at - now``, at least one second) plus ``grace_s``:
- ``{p}:c:{article id}`` -> packed ``CopyEntry``; ``{p}:x:{digest hex}`` -> article id (first wins);
  ``{p}:b:{band key hex}`` -> set of article ids;
- ``{p}:e:{event id}`` -> ``EventRecord`` JSON; ``{p}:k:{evidence key}`` -> set of event ids;
- ``{p}:n:{counter key}:{bucket}`` -> hash source -> count;
- ``{p}:o:{name}`` -> blob.
Each operation is at most two round trips (a pipeline, then an ``MGET`` of what the first found).
TTLs are wall-clock while windows are article time, so in a fast replay entries outlive their window;
the callers check article times, so answers are the same as ``MemoryStore``'s.

The client is redis-py's synchronous one: the clustering core is synchronous, and the processor calls
it from a worker thread (``asyncio.to_thread``) or accepts a sub-millisecond local round trip. Use
``decode_responses=False`` (the default): values are bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import redis

from monitor.cluster.records import CopyEntry, EventRecord
from monitor.cluster.store import Counts

_INDEX_ADD = """
for _, k in ipairs(KEYS) do
  redis.call('SADD', k, ARGV[1])
  if redis.call('TTL', k) < tonumber(ARGV[2]) then redis.call('EXPIRE', k, ARGV[2]) end
end
return 0
"""


class RedisStore:
    def __init__(self, client: redis.Redis, *, prefix: str = "monitor:cluster", grace_s: float = 3600.0) -> None:
        self.r = client
        self.p = prefix
        self.grace_s = grace_s
        self._now = float("-inf")
        self._index_add = client.register_script(_INDEX_ADD)

    @classmethod
    def from_url(cls, url: str, **kw: object) -> RedisStore:
        return cls(redis.Redis.from_url(url), **kw)  # type: ignore[arg-type]

    @property
    def now(self) -> float:
        return self._now

    def advance(self, now: float) -> None:
        self._now = max(self._now, now)

    def _ttl(self, expires_at: float) -> int:
        left = expires_at - self._now if math.isfinite(self._now) else expires_at
        return max(1, math.ceil(min(left, 400 * 24 * 3600) + self.grace_s))

    # --- copies -------------------------------------------------------------------------------
    def copy_lookup(
        self, article_id: str, digest: bytes, bands: Sequence[int]
    ) -> tuple[CopyEntry | None, CopyEntry | None, list[CopyEntry]]:
        pipe = self.r.pipeline(transaction=False)
        pipe.get(f"{self.p}:c:{article_id}")
        pipe.get(f"{self.p}:x:{digest.hex()}")
        for band in bands:
            pipe.smembers(f"{self.p}:b:{band:016x}")
        own_raw, exact_id, *members = pipe.execute()
        own = CopyEntry.from_bytes(article_id, own_raw) if own_raw is not None else None
        ids: set[str] = set()
        for m in members:
            ids.update(x.decode("utf-8") for x in m)
        exact_aid = exact_id.decode("utf-8") if exact_id is not None else None
        if exact_aid is not None:
            ids.add(exact_aid)
        ids.discard(article_id)
        order = sorted(ids)
        found: dict[str, CopyEntry] = {}
        if order:
            for aid, raw in zip(order, self.r.mget([f"{self.p}:c:{a}" for a in order]), strict=True):
                if raw is not None:
                    found[aid] = CopyEntry.from_bytes(aid, raw)
        exact = own if exact_aid == article_id else found.get(exact_aid) if exact_aid is not None else None
        return own, exact, list(found.values())

    def copy_add(self, entry: CopyEntry, digest: bytes, bands: Sequence[int], expires_at: float) -> None:
        ttl = self._ttl(expires_at)
        pipe = self.r.pipeline(transaction=False)
        pipe.set(f"{self.p}:c:{entry.article_id}", entry.to_bytes(), ex=ttl, nx=True)
        pipe.set(f"{self.p}:x:{digest.hex()}", entry.article_id, ex=ttl, nx=True)
        for band in bands:
            k = f"{self.p}:b:{band:016x}"
            pipe.sadd(k, entry.article_id)
            pipe.expire(k, ttl)
        pipe.execute()

    # --- events -------------------------------------------------------------------------------
    def events_by_keys(self, keys: Sequence[str]) -> list[EventRecord]:
        if not keys:
            return []
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            pipe.smembers(f"{self.p}:k:{key}")
        ids = sorted({x.decode("utf-8") for m in pipe.execute() for x in m})
        if not ids:
            return []
        raws = self.r.mget([f"{self.p}:e:{i}" for i in ids])
        return [EventRecord.from_bytes(raw) for raw in raws if raw is not None]

    def event_put(self, record: EventRecord, keys: Sequence[str], expires_at: float) -> None:
        ttl = self._ttl(expires_at)
        pipe = self.r.pipeline(transaction=False)
        pipe.set(f"{self.p}:e:{record.event_id}", record.to_bytes(), ex=ttl)
        if keys:
            # index sets are shared by events: their TTL may only grow (EXPIRE GT needs Redis 7)
            self._index_add(keys=[f"{self.p}:k:{k}" for k in keys], args=[record.event_id, ttl], client=pipe)
        pipe.execute()

    # --- counters -----------------------------------------------------------------------------
    def count_add(self, key: str, bucket: int, source: str, expires_at: float) -> None:
        k = f"{self.p}:n:{key}:{bucket}"
        pipe = self.r.pipeline(transaction=False)
        pipe.hincrby(k, source, 1)
        pipe.expire(k, self._ttl(expires_at))
        pipe.execute()

    def counts(self, key: str, first: int, last: int) -> Counts:
        pipe = self.r.pipeline(transaction=False)
        buckets = range(first, last + 1)
        for b in buckets:
            pipe.hgetall(f"{self.p}:n:{key}:{b}")
        out: Counts = {}
        for b, h in zip(buckets, pipe.execute(), strict=True):
            if h:
                out[b] = {s.decode("utf-8"): int(c) for s, c in h.items()}
        return out

    # --- blobs --------------------------------------------------------------------------------
    def blob_get(self, name: str) -> bytes | None:
        v = self.r.get(f"{self.p}:o:{name}")
        return bytes(v) if v is not None else None  # type: ignore[arg-type]

    def blob_put(self, name: str, value: bytes, expires_at: float) -> None:
        self.r.set(f"{self.p}:o:{name}", value, ex=self._ttl(expires_at))

    def blob_delete(self, name: str) -> None:
        self.r.delete(f"{self.p}:o:{name}")
