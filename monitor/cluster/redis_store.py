"""``RedisStore``: the ``ClusterStore`` in Redis, so clustering state survives worker restarts.

Keys (all under ``prefix``, default ``monitor:cluster``), each with a TTL equal to what is left of its
window in article time (``expires_at - now``, at least one second) plus ``grace_s``:
- ``{p}:c:{article id}`` -> packed ``CopyEntry``; ``{p}:x:{digest hex}`` -> article id (first wins);
  ``{p}:b:{band key hex}`` -> set of article ids;
- ``{p}:e:{event id}`` -> ``EventRecord`` JSON; ``{p}:k:{evidence key}`` -> set of event ids;
- ``{p}:n:{counter key}:{bucket}`` -> hash source -> count;
- ``{p}:o:{name}`` -> blob.
Each operation is one round trip: a Lua script (lookups return the entries, not just their ids), so
this needs a single Redis (or a proxy that runs scripts on one node), not Redis Cluster.
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

from monitor.cluster.memory_store import Counts
from monitor.cluster.records import CopyEntry, EventRecord

# Lua, so that one operation is one round trip and one command for redis-py to encode. Entry keys
# built inside the scripts (prefix .. id) are not declared in KEYS: a single Redis, not Redis Cluster.
_COPY_LOOKUP = """
local own = redis.call('GET', KEYS[1])
local exact = redis.call('GET', KEYS[2])
local seen, ids = {}, {}
if exact then seen[exact] = true; ids[1] = exact end
for i = 3, #KEYS do
  for _, m in ipairs(redis.call('SMEMBERS', KEYS[i])) do
    if not seen[m] then seen[m] = true; ids[#ids + 1] = m end
  end
end
local out = {own or false, exact or false}
for _, id in ipairs(ids) do
  local v = redis.call('GET', ARGV[1] .. id)
  if v then out[#out + 1] = id; out[#out + 1] = v end
end
return out
"""
_COPY_ADD = """
local ttl = tonumber(ARGV[3])
if not redis.call('SET', KEYS[1], ARGV[1], 'EX', ttl, 'NX') then return 0 end
redis.call('SET', KEYS[2], ARGV[2], 'EX', ttl, 'NX')
for i = 3, #KEYS do
  redis.call('SADD', KEYS[i], ARGV[2])
  redis.call('EXPIRE', KEYS[i], ttl)
end
return 1
"""
_EVENTS_LOOKUP = """
local seen, out = {}, {}
for _, k in ipairs(KEYS) do
  for _, id in ipairs(redis.call('SMEMBERS', k)) do
    if not seen[id] then
      seen[id] = true
      local v = redis.call('GET', ARGV[1] .. id)
      if v then out[#out + 1] = v end
    end
  end
end
return out
"""
# index sets are shared by events: their TTL may only grow (EXPIRE GT needs Redis 7)
_EVENT_PUT = """
local ttl = tonumber(ARGV[3])
redis.call('SET', ARGV[1], ARGV[2], 'EX', ttl)
for _, k in ipairs(KEYS) do
  redis.call('SADD', k, ARGV[4])
  if redis.call('TTL', k) < ttl then redis.call('EXPIRE', k, ttl) end
end
return 0
"""


class RedisStore:
    def __init__(self, client: redis.Redis, *, prefix: str = "monitor:cluster", grace_s: float = 3600.0) -> None:
        self.r = client
        self.p = prefix
        self.grace_s = grace_s
        self._now = float("-inf")
        self._copy_lookup = client.register_script(_COPY_LOOKUP)
        self._copy_add = client.register_script(_COPY_ADD)
        self._events_lookup = client.register_script(_EVENTS_LOOKUP)
        self._event_put = client.register_script(_EVENT_PUT)

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
        keys = [f"{self.p}:c:{article_id}", f"{self.p}:x:{digest.hex()}"]
        keys += [f"{self.p}:b:{band:016x}" for band in bands]
        own_raw, exact_raw, *flat = self._copy_lookup(keys=keys, args=[f"{self.p}:c:"])
        own = CopyEntry.from_bytes(article_id, own_raw) if own_raw is not None else None
        exact_id = exact_raw.decode("utf-8") if exact_raw is not None else None
        found = {
            aid: CopyEntry.from_bytes(aid, raw)
            for aid, raw in ((flat[i].decode("utf-8"), flat[i + 1]) for i in range(0, len(flat), 2))
            if aid != article_id
        }
        exact = own if exact_id == article_id else found.get(exact_id) if exact_id is not None else None
        return own, exact, list(found.values())

    def copy_add(self, entry: CopyEntry, digest: bytes, bands: Sequence[int], expires_at: float) -> None:
        keys = [f"{self.p}:c:{entry.article_id}", f"{self.p}:x:{digest.hex()}"]
        keys += [f"{self.p}:b:{band:016x}" for band in bands]
        self._copy_add(keys=keys, args=[entry.to_bytes(), entry.article_id, self._ttl(expires_at)])

    # --- events -------------------------------------------------------------------------------
    def events_by_keys(self, keys: Sequence[str]) -> list[EventRecord]:
        if not keys:
            return []
        raws = self._events_lookup(keys=[f"{self.p}:k:{k}" for k in keys], args=[f"{self.p}:e:"])
        return [EventRecord.from_bytes(raw) for raw in raws]

    def event_put(self, record: EventRecord, keys: Sequence[str], expires_at: float) -> None:
        self._event_put(
            keys=[f"{self.p}:k:{k}" for k in keys],
            args=[f"{self.p}:e:{record.event_id}", record.to_bytes(), self._ttl(expires_at), record.event_id],
        )

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
