"""``RedisStore``: the ``ClusterStore`` in Redis, so clustering state survives worker restarts.

Keys (all under ``prefix``, default ``monitor:cluster``), each with a TTL equal to what is left of its
window in article time (``expires_at - now``, at least one second) plus ``grace_s``:
- ``{p}:c:{article id}`` -> packed ``CopyEntry``; ``{p}:x:{digest hex}`` -> article id (first wins);
  ``{p}:b:{band key hex}`` -> set of article ids;
- ``{p}:e:{event id}`` -> ``EventRecord`` JSON; ``{p}:k:{evidence key}`` -> set of event ids;
- ``{p}:n:{counter key}:{bucket}`` -> hash source -> count;
- ``{p}:o:{name}`` -> blob.
Each operation is one round trip: a Lua script (lookups return the entries, not just their ids), so
this needs a single Redis (or a proxy that runs scripts on one node), not Redis Cluster. Inside
``with store.batch():`` (the processor's batch of records) copy and event operations cost no round trip
of their own: ``prefetch_copies``/``prefetch_events`` read what the batch will look up in one script call
each, lookups are answered from that with the batch's own writes applied, and the writes go in one
script call at the end, in their order, with the TTLs they had when made; so the state and every answer
are the same as one operation at a time. Those two batch scripts take an article's LSH band keys as one
string of 16 hex digits per band and build the ``{p}:b:`` keys themselves (a few arguments per article
instead of one per band: encoding the arguments was a large share of the batch's cost).
TTLs are wall-clock while windows are article time, so in a fast replay entries outlive their window;
the callers check article times, so answers are the same as ``MemoryStore``'s.

The client is redis-py's synchronous one: the clustering core is synchronous, and the processor calls
it from a worker thread (``asyncio.to_thread``) or accepts a sub-millisecond local round trip. Use
``decode_responses=False`` (the default): values are bytes.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

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
# One batch's copy and event writes, in order, in one call. ARGV[1]: the band key prefix; then five
# values per op: op 'c' (copy add: KEYS entry, exact; ARGV entry bytes, article id, ttl, band keys) and op
# 'e' (event put: KEYS record, index keys...; ARGV record bytes, event id, ttl, ''). Band keys travel as
# one string of 16 hex digits per band (the key is the prefix and those digits), so an article costs a
# handful of arguments instead of one per band. The same logic as the single writes.
_APPLY = """
local bprefix = ARGV[1]
local ki, ai = 1, 2
while ai <= #ARGV do
  local op, nk = ARGV[ai], tonumber(ARGV[ai + 1])
  local value, id, ttl, bands = ARGV[ai + 2], ARGV[ai + 3], tonumber(ARGV[ai + 4]), ARGV[ai + 5]
  if op == 'c' then
    if redis.call('SET', KEYS[ki], value, 'EX', ttl, 'NX') then
      redis.call('SET', KEYS[ki + 1], id, 'EX', ttl, 'NX')
      for i = 1, #bands, 16 do
        local k = bprefix .. string.sub(bands, i, i + 15)
        redis.call('SADD', k, id)
        redis.call('EXPIRE', k, ttl)
      end
    end
  else
    redis.call('SET', KEYS[ki], value, 'EX', ttl)
    for i = ki + 1, ki + nk - 1 do
      redis.call('SADD', KEYS[i], id)
      if redis.call('TTL', KEYS[i]) < ttl then redis.call('EXPIRE', KEYS[i], ttl) end
    end
  end
  ki, ai = ki + nk, ai + 6
end
return 0
"""
# What a batch reads, in one call: GET of KEYS[1..ARGV[1]] (those from ARGV[2] on hold ids), SMEMBERS of
# the rest and of the band keys in ARGV[5] (prefix ARGV[4], 16 hex digits each, as in _APPLY; an EXISTS
# per 16 band keys first, their SMEMBERS only when one of them exists), and the entries (ARGV[3] .. id) of
# every id those hold: {gets, members per set, id/value pairs}.
_FETCH = """
local n, first_ref, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3]
local bprefix, bands = ARGV[4], ARGV[5]
local gets, sets, ids, seen = {}, {}, {}, {}
for i = 1, n do
  local v = redis.call('GET', KEYS[i])
  gets[i] = v or false
  if v and i >= first_ref and not seen[v] then seen[v] = true; ids[#ids + 1] = v end
end
local function members(k)
  local m = redis.call('SMEMBERS', k)
  sets[#sets + 1] = m
  for _, id in ipairs(m) do
    if not seen[id] then seen[id] = true; ids[#ids + 1] = id end
  end
end
for i = n + 1, #KEYS do members(KEYS[i]) end
-- band keys in groups of up to 16: one EXISTS for the group, and SMEMBERS of each only when one exists
-- (most articles have no near-copy, so most band keys are absent: one command instead of sixteen)
local none = {}
for g = 1, #bands, 256 do
  local group = {}
  for i = g, math.min(g + 255, #bands), 16 do group[#group + 1] = bprefix .. string.sub(bands, i, i + 15) end
  if redis.call('EXISTS', unpack(group)) == 0 then
    for _ = 1, #group do sets[#sets + 1] = none end
  else
    for _, k in ipairs(group) do members(k) end
  end
end
local found = {}
for _, id in ipairs(ids) do
  local v = redis.call('GET', prefix .. id)
  found[#found + 1] = id
  found[#found + 1] = v or false
end
return {gets, sets, found}
"""


def _band_hex(bands: Sequence[int]) -> str:
    """Band keys as one string of 16 lower-case hex digits each (``f"{b:016x}"`` of every band)."""
    return struct.pack(f">{len(bands)}Q", *bands).hex()


class _Batch:
    """What one batch knows of the copy and event state, its own writes applied, and those writes.

    ``copies``/``events``: entries by id (None: known to be absent); ``exact``/``bands``/``index``: the
    whole content of an index key once read; ``band_adds``/``index_adds``: this batch's additions to
    index keys not read yet (merged when they are).
    """

    def __init__(self) -> None:
        self.copies: dict[str, CopyEntry | None] = {}
        self.exact: dict[bytes, str | None] = {}
        self.bands: dict[int, set[str]] = {}
        self.band_adds: dict[int, set[str]] = {}
        self.events: dict[str, EventRecord | None] = {}
        self.index: dict[str, set[str]] = {}
        self.index_adds: dict[str, set[str]] = {}
        self.keys: list[str] = []
        self.args: list[bytes | str | int] = []


class RedisStore:
    def __init__(self, client: redis.Redis, *, prefix: str = "monitor:cluster", grace_s: float = 3600.0) -> None:
        self.r = client
        self.p = prefix
        self.grace_s = grace_s
        self._now = float("-inf")
        self._copy_lookup = client.register_script(_COPY_LOOKUP)
        self._events_lookup = client.register_script(_EVENTS_LOOKUP)
        self._apply = client.register_script(_APPLY)
        self._fetch = client.register_script(_FETCH)
        self._batch: _Batch | None = None
        #: the band keys' prefix, the one spelling of ``{p}:b:`` (``_copy_keys`` and the batch scripts)
        self._bprefix = f"{prefix}:b:"

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

    def _copy_keys(self, article_id: str, digest: bytes, bands: Sequence[int]) -> list[str]:
        return [f"{self.p}:c:{article_id}", f"{self.p}:x:{digest.hex()}", *(f"{self._bprefix}{b:016x}" for b in bands)]

    # --- batches ------------------------------------------------------------------------------
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Within: copy and event reads come from what the batch has read (``prefetch_*`` reads many in
        one round trip) with its own writes applied, and copy and event writes are sent together at the
        end, in order, in one round trip. Any other operation sends them first. The answers are those of
        one operation at a time. An exception drops the unsent writes (the caller retries the batch)."""
        if self._batch is not None:
            yield
            return
        self._batch = _Batch()
        try:
            yield
            self._send()
        finally:
            self._batch = None

    def _send(self) -> None:
        b = self._batch
        if b is not None and b.args:
            self._apply(keys=b.keys, args=[self._bprefix, *b.args])
            b.keys, b.args = [], []

    def _read(self, gets: list[str], first_ref: int, sets: list[str], prefix: str, bands: str = "") -> tuple[
            list[bytes | None], list[list[bytes]], dict[str, bytes | None]]:
        got, members, flat = self._fetch(keys=[*gets, *sets],
                                         args=[len(gets), first_ref, prefix, self._bprefix, bands])
        found = {flat[i].decode("utf-8"): flat[i + 1] for i in range(0, len(flat), 2)}
        return list(got), [list(m) for m in members], found

    def prefetch_copies(self, items: Sequence[tuple[str, bytes, Sequence[int]]]) -> None:
        """Read what ``copy_lookup`` will need for these (article id, digest, bands), in one round trip."""
        b = self._batch
        if b is None:
            return
        ids = list(dict.fromkeys(a for a, _, _ in items if a not in b.copies))
        digests = list(dict.fromkeys(d for _, d, _ in items if d not in b.exact))
        bands = list(dict.fromkeys(x for _, _, bs in items for x in bs if x not in b.bands))
        if not (ids or digests or bands):
            return
        got, members, found = self._read(
            [f"{self.p}:c:{a}" for a in ids] + [f"{self.p}:x:{d.hex()}" for d in digests], len(ids) + 1,
            [], f"{self.p}:c:", _band_hex(bands))
        for aid, raw in zip(ids, got[: len(ids)], strict=True):
            b.copies.setdefault(aid, CopyEntry.from_bytes(aid, raw) if raw is not None else None)
        for aid, raw in found.items():
            b.copies.setdefault(aid, CopyEntry.from_bytes(aid, raw) if raw is not None else None)
        for d, raw in zip(digests, got[len(ids) :], strict=True):
            b.exact.setdefault(d, raw.decode("utf-8") if raw is not None else None)
        adds = b.band_adds
        for x, m in zip(bands, members, strict=True):
            held: set[str] = {i.decode("utf-8") for i in m} if m else set()
            if adds and x in adds:
                held |= adds.pop(x)
            b.bands[x] = held

    def prefetch_events(self, keys: Sequence[str]) -> None:
        """Read what ``events_by_keys`` will need for these evidence keys, in one round trip."""
        b = self._batch
        if b is None:
            return
        todo = list(dict.fromkeys(k for k in keys if k not in b.index))
        if not todo:
            return
        _, members, found = self._read([], 1, [f"{self.p}:k:{k}" for k in todo], f"{self.p}:e:")
        for eid, raw in found.items():
            b.events.setdefault(eid, EventRecord.from_bytes(raw) if raw is not None else None)
        for k, m in zip(todo, members, strict=True):
            b.index[k] = {i.decode("utf-8") for i in m} | b.index_adds.pop(k, set())

    # --- copies -------------------------------------------------------------------------------
    def copy_lookup(
        self, article_id: str, digest: bytes, bands: Sequence[int]
    ) -> tuple[CopyEntry | None, CopyEntry | None, list[CopyEntry]]:
        b = self._batch
        if b is not None:
            self.prefetch_copies([(article_id, digest, bands)])  # what is not known yet
            own = b.copies[article_id]
            exact_id = b.exact[digest]
            ids = dict.fromkeys([*([exact_id] if exact_id is not None else []), *(i for x in bands for i in b.bands[x])])
            found = {i: e for i in ids if i != article_id for e in (b.copies.get(i),) if e is not None}
            exact = own if exact_id == article_id else found.get(exact_id) if exact_id is not None else None
            return own, exact, list(found.values())
        keys = self._copy_keys(article_id, digest, bands)
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
        args: list[bytes | str | int] = ["c", 2, entry.to_bytes(), entry.article_id, self._ttl(expires_at),
                                         _band_hex(bands)]
        b = self._batch
        if b is None:
            self._apply(keys=keys, args=[self._bprefix, *args])
            return
        aid = entry.article_id
        if aid not in b.copies or digest not in b.exact:
            self.prefetch_copies([(aid, digest, ())])
        b.keys += keys
        b.args += args
        if b.copies[aid] is not None:  # SET NX: the first entry stays, nothing else changes
            return
        b.copies[aid] = entry
        if b.exact[digest] is None:
            b.exact[digest] = aid
        for x in bands:
            if x in b.bands:
                b.bands[x].add(aid)
            else:
                b.band_adds.setdefault(x, set()).add(aid)

    # --- events -------------------------------------------------------------------------------
    def events_by_keys(self, keys: Sequence[str]) -> list[EventRecord]:
        if not keys:
            return []
        b = self._batch
        if b is not None:
            self.prefetch_events(keys)
            ids = dict.fromkeys(i for k in keys for i in b.index[k])
            return [e for i in ids for e in (b.events.get(i),) if e is not None]
        raws = self._events_lookup(keys=[f"{self.p}:k:{k}" for k in keys], args=[f"{self.p}:e:"])
        return [EventRecord.from_bytes(raw) for raw in raws]

    def event_put(self, record: EventRecord, keys: Sequence[str], expires_at: float) -> None:
        eid = record.event_id
        rkeys = [f"{self.p}:e:{eid}", *(f"{self.p}:k:{k}" for k in keys)]
        args: list[bytes | str | int] = ["e", len(rkeys), record.to_bytes(), eid, self._ttl(expires_at), ""]
        b = self._batch
        if b is None:
            self._apply(keys=rkeys, args=[self._bprefix, *args])
            return
        b.keys += rkeys
        b.args += args
        b.events[eid] = record
        for k in keys:
            if k in b.index:
                b.index[k].add(eid)
            else:
                b.index_adds.setdefault(k, set()).add(eid)

    # --- counters -----------------------------------------------------------------------------
    def count_add(self, key: str, bucket: int, source: str, expires_at: float) -> None:
        self._send()
        k = f"{self.p}:n:{key}:{bucket}"
        pipe = self.r.pipeline(transaction=False)
        pipe.hincrby(k, source, 1)
        pipe.expire(k, self._ttl(expires_at))
        pipe.execute()

    def counts(self, key: str, first: int, last: int) -> Counts:
        self._send()
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
        self._send()
        v = self.r.get(f"{self.p}:o:{name}")
        return bytes(v) if v is not None else None  # type: ignore[arg-type]

    def blob_put(self, name: str, value: bytes, expires_at: float) -> None:
        self._send()
        self.r.set(f"{self.p}:o:{name}", value, ex=self._ttl(expires_at))

    def blob_delete(self, name: str) -> None:
        self._send()
        self.r.delete(f"{self.p}:o:{name}")
