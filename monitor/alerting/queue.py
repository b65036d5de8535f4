"""The durable delivery queue in Redis: enqueue, schedule, hand out, finish. Survives any process kill.

Layout (all under the ``{q}`` hash tag, see ``keys``):
- ``body`` HASH delivery id -> Delivery JSON; ``member`` HASH alert delivery id -> the delivery holding it
  (so a replayed alert is not queued twice while its delivery is still pending).
- ``work:<channel>`` STREAMs of due deliveries, read with XREADGROUP by the dispatchers' consumer group;
  an entry is XACKed (and XDELed) only in the same MULTI that records its outcome, so a killed
  dispatcher leaves it pending, and it is picked up again (own pending at start, XAUTOCLAIM otherwise).
- ``sched`` ZSET of deliveries due later (grouping, digests, quiet hours, retries); ``promote`` moves the
  due ones into the work streams atomically. Nothing sleeps for a schedule: the loop wakes on due items.
- ``batch:<id>``/``batchm:<id>`` the alerts a group or digest collects while ``open:<sub>:<key>`` points
  at it; ``seal`` closes it when it is first sent.
- ``dead`` STREAM of deliveries given up on after ``len(schedule)`` attempts, or refused for good;
  capped at ``Settings.dead_maxlen`` entries (the oldest go first).

``retry_at`` is the one place the retry schedule lives (~0, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, with
±20 % jitter, never sooner than the receiver's ``Retry-After``). Redis errors propagate: callers retry.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from monitor.alerting import keys
from monitor.alerting.dedup import NotificationLog
from monitor.alerting.model import Delivery

DEFAULT_SCHEDULE = (0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0)
MAX_RETRY_AFTER = 86400.0

# The scripts build no key names: fixed keys come as KEYS, per-item keys (computed by ``keys``) inside the
# items, and where a key depends on a value only the script reads (the open batch's id) the key's prefix
# comes from ``keys`` as an ARGV. ``keys`` is the one place the layout is written down.

# KEYS: member, body, depth, sched. ARGV: now, force, items JSON, batch-items prefix, batch-members prefix.
# item: mode, sub, channel, did, due, body, batch id, alert, sent key, work key, open-batch key
_ENQUEUE = """
local MEMBER, BODY, DEPTH, SCHED = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local now = tonumber(ARGV[1])
local force = ARGV[2] == '1'
local items = cjson.decode(ARGV[3])
local BATCH, BATCHM = ARGV[4], ARGV[5]
local out = {}
for k, it in ipairs(items) do
  local mode, sub, ch, did, due = it[1], it[2], it[3], it[4], tonumber(it[5])
  local body, bid, alert = it[6], it[7], it[8]
  local sent, work, okey = it[9], it[10], it[11]
  local res
  if (not force) and redis.call('EXISTS', sent) == 1 then
    res = 'sent'
  elseif redis.call('HEXISTS', MEMBER, did) == 1 then
    res = 'queued'
  elseif mode == 'single' then
    redis.call('HSET', MEMBER, did, did)
    redis.call('HSET', BODY, did, body)
    redis.call('HINCRBY', DEPTH, ch, 1)
    if due <= now then
      redis.call('XADD', work, '*', 'id', did, 'sub', sub, 'body', body, 'att', '0')
    else
      redis.call('ZADD', SCHED, due, ch .. '|' .. sub .. '|' .. did)
    end
    res = 'new'
  else
    local open = redis.call('GET', okey)
    if open then
      res = 'joined'
    else
      if redis.call('HEXISTS', BODY, bid) == 1 then bid = bid .. '-' .. ARGV[1] end
      open = bid
      redis.call('SET', okey, bid)
      redis.call('HSET', BODY, bid, body)
      redis.call('HINCRBY', DEPTH, ch, 1)
      redis.call('ZADD', SCHED, due, ch .. '|' .. sub .. '|' .. bid)
      res = 'new'
    end
    redis.call('HSET', MEMBER, did, open)
    redis.call('SADD', BATCHM .. open, did)
    redis.call('RPUSH', BATCH .. open, alert)
  end
  out[k] = res
end
return out
"""

# KEYS: sched, body, attempts. ARGV: now, limit, work-stream prefix (the channel is in the sched member).
_PROMOTE = """
local SCHED, BODY, ATTEMPTS = KEYS[1], KEYS[2], KEYS[3]
local items = redis.call('ZRANGEBYSCORE', SCHED, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
for _, m in ipairs(items) do
  local ch, sub, did = string.match(m, '^([^|]+)|([^|]+)|(.+)$')
  local body = redis.call('HGET', BODY, did)
  if body then
    local att = redis.call('HGET', ATTEMPTS, did) or '0'
    redis.call('XADD', ARGV[3] .. ch, '*', 'id', did, 'sub', sub, 'body', body, 'att', att)
  end
  redis.call('ZREM', SCHED, m)
end
return #items
"""

# KEYS: attempts, sched, body, member, depth, dead. ARGV: log TTL, rows JSON, consumer group.
# row: kind, channel, sub, did, entry id, due, logged, member ids, is batch, reason, body, work key,
#      sent keys (the delivery's and its members'), batch-items key, batch-members key
_FINISH = """
local ATTEMPTS, SCHED, BODY, MEMBER, DEPTH, DEAD = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local ttl = tonumber(ARGV[1])
local rows = cjson.decode(ARGV[2])
local group = ARGV[3]
local n = #rows
for k, o in ipairs(rows) do
  local kind, ch, sub, did, eid, due = o[1], o[2], o[3], o[4], o[5], o[6]
  local logged, members, isbatch, reason, body = o[7], o[8], o[9], o[10], o[11]
  local work, sent, batch, batchm = o[12], o[13], o[14], o[15]
  if kind == 'retry' or kind == 'defer' then
    if kind == 'retry' then redis.call('HINCRBY', ATTEMPTS, did, 1) end
    redis.call('ZADD', SCHED, due, ch .. '|' .. sub .. '|' .. did)
  elseif kind ~= 'gone' then
    if kind == 'ok' or kind == 'dup' then
      if logged ~= '1' then
        for _, key in ipairs(sent) do redis.call('SET', key, 1, 'EX', ttl) end
      end
    else
      redis.call('XADD', DEAD, 'MAXLEN', ARGV[4], '*', 'id', did, 'sub', sub, 'channel', ch, 'reason', reason,
                 'body', body)
    end
    redis.call('HDEL', BODY, did)
    redis.call('HDEL', ATTEMPTS, did)
    if #members == 0 then
      redis.call('HDEL', MEMBER, did)
    else
      for _, m in ipairs(members) do redis.call('HDEL', MEMBER, m) end
    end
    if isbatch == '1' then redis.call('DEL', batch, batchm) end
    redis.call('HINCRBY', DEPTH, ch, -1)
  end
  redis.call('XACK', work, group, eid)
  redis.call('XDEL', work, eid)
end
return n
"""

# KEYS: open-batch key, last-flush key, batch items, batch members. ARGV: batch id, now, flush TTL.
_SEAL = """
local bid, now, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if redis.call('GET', KEYS[1]) == bid then
  redis.call('DEL', KEYS[1])
  if ttl > 0 then redis.call('SET', KEYS[2], now, 'EX', ttl) end
end
return {redis.call('LRANGE', KEYS[3], 0, -1), redis.call('SMEMBERS', KEYS[4])}
"""


def retry_at(
    attempts: int,
    now: float,
    schedule: Sequence[float],
    retry_after: float | None = None,
    rng: random.Random | None = None,
) -> float | None:
    """When to make attempt ``attempts + 1`` after ``attempts`` failed ones; None = give up (dead)."""
    if attempts >= len(schedule):
        return None
    delay = schedule[attempts] * (rng or random).uniform(0.8, 1.2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return now + delay


@dataclass(frozen=True, slots=True)
class Item:
    """One alert for one subscription to enqueue: alone (``batch_key`` "") or into a batch."""

    sub_id: str
    channel: str
    did: str
    due: float
    body: bytes  # Delivery JSON (for a batch: its header, alerts empty)
    batch_key: str = ""
    batch_id: str = ""
    alert: bytes = b""


@dataclass(frozen=True, slots=True)
class Entry:
    """A work-stream entry. New entries carry the delivery body and attempts made, so the hot path
    needs no extra read; ``recovered`` ones (pending after a kill, or claimed) are re-read and re-checked
    against the notification log before sending."""

    channel: str
    entry_id: str
    sub_id: str
    did: str
    body: bytes | None = None
    attempts: int = 0
    recovered: bool = False


@dataclass(slots=True)
class DeliveryOutcome:
    entry: Entry
    kind: Literal["ok", "dup", "retry", "dead", "defer", "gone"]
    due: float = 0.0
    reason: str = ""
    members: tuple[str, ...] = ()
    batch: bool = False
    body: bytes = b""
    logged: bool = False  # the channel already wrote the notification log (redis channel, atomically)
    release: Callable[[], None] | None = None  # called once the outcome is recorded (frees a send slot)


def _s(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


class DeliveryQueue:
    def __init__(
        self, redis: aioredis.Redis, log: NotificationLog, channels: Sequence[str], dead_maxlen: int = 10000
    ) -> None:
        self.redis = redis
        self.dead_maxlen = dead_maxlen  # the dead stream keeps the newest this many entries
        self.log = log
        self.channels = tuple(channels)
        self._enqueue = redis.register_script(_ENQUEUE)
        self._promote = redis.register_script(_PROMOTE)
        self._seal = redis.register_script(_SEAL)
        self._finish = redis.register_script(_FINISH)

    async def ensure_groups(self) -> None:
        for ch in self.channels:
            try:
                await self.redis.xgroup_create(keys.work(ch), keys.GROUP, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

    async def enqueue(self, items: Sequence[Item], now: float, *, force: bool = False) -> list[str]:
        """Record deliveries durably. Per item: 'new', 'joined' (a batch), 'queued' (already), 'sent'."""
        out: list[str] = []
        for start in range(0, len(items), 500):
            chunk = items[start : start + 500]
            packed = orjson.dumps(
                [
                    [
                        "batch" if it.batch_key else "single",
                        it.sub_id,
                        it.channel,
                        it.did,
                        repr(it.due),
                        it.body.decode(),
                        it.batch_id,
                        it.alert.decode(),
                        keys.sent(it.sub_id, it.did),
                        keys.work(it.channel),
                        keys.open_batch(it.sub_id, it.batch_key) if it.batch_key else "",
                    ]
                    for it in chunk
                ]
            )
            res = await self._enqueue(
                keys=[keys.MEMBER, keys.BODY, keys.DEPTH, keys.SCHED],
                args=[repr(now), "1" if force else "0", packed, keys.batch_items(""), keys.batch_members("")],
            )
            out += [_s(r) for r in res]
        return out

    async def promote(self, now: float, limit: int = 1000) -> int:
        return int(await self._promote(
            keys=[keys.SCHED, keys.BODY, keys.ATTEMPTS], args=[repr(now), limit, keys.work("")]
        ))

    async def next_due(self) -> float | None:
        first = await self.redis.zrange(keys.SCHED, 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    def _entries(self, resp: object, recovered: bool = False) -> list[Entry]:
        out: list[Entry] = []
        for stream, rows in resp or []:  # type: ignore[attr-defined]
            ch = _s(stream).rsplit(":", 1)[1]
            for eid, fields in rows:
                if not fields:  # deleted while pending
                    continue
                body = fields.get(b"body")
                out.append(
                    Entry(
                        ch,
                        _s(eid),
                        _s(fields.get(b"sub", b"")),
                        _s(fields.get(b"id", b"")),
                        body=None if recovered else body,
                        attempts=int(fields.get(b"att", 0) or 0),
                        recovered=recovered or body is None,
                    )
                )
        return out

    async def read(
        self, consumer: str, *, block_ms: int, count: int = 500, pending: bool = False
    ) -> list[Entry]:
        """New entries for this consumer (``pending``: its own unacknowledged ones, e.g. after a kill)."""
        streams: dict[Any, Any] = {keys.work(ch): "0" if pending else ">" for ch in self.channels}
        resp = await self.redis.xreadgroup(
            keys.GROUP, consumer, streams, count=count, block=None if pending else block_ms
        )
        return self._entries(resp, recovered=pending)

    async def claim(self, consumer: str, min_idle_ms: int, count: int = 500) -> list[Entry]:
        """Entries other (dead) consumers held longer than ``min_idle_ms``."""
        out: list[Entry] = []
        for ch in self.channels:
            resp = await self.redis.xautoclaim(
                keys.work(ch), keys.GROUP, consumer, min_idle_ms, "0-0", count=count
            )
            out += self._entries([(keys.work(ch), resp[1])], recovered=True)
        return out

    async def load(self, entries: Sequence[Entry]) -> list[tuple[bytes | None, int, bool]]:
        """(body, attempts made, already in the notification log) per entry, in one round trip.
        Body None: the delivery is gone (already finished)."""
        async with self.redis.pipeline(transaction=False) as p:
            for e in entries:
                p.hget(keys.BODY, e.did)
                p.hget(keys.ATTEMPTS, e.did)
                p.exists(keys.sent(e.sub_id, e.did))
            res = await p.execute()
        return [(res[i], int(res[i + 1] or 0), bool(res[i + 2])) for i in range(0, len(res), 3)]

    async def seal(self, d: Delivery, now: float, flush_ttl: int) -> tuple[list[bytes], list[str]]:
        """Close a batch to newcomers and return (its alerts JSON, its member delivery ids)."""
        items, members = await self._seal(
            keys=[
                keys.open_batch(d.subscription, d.group_key),
                keys.last_flush(d.subscription, d.group_key),
                keys.batch_items(d.id),
                keys.batch_members(d.id),
            ],
            args=[d.id, repr(now), flush_ttl],
        )
        return list(items), sorted(_s(m) for m in members)

    async def finish(self, outcomes: Sequence[DeliveryOutcome]) -> None:
        """Record every outcome and acknowledge its entry, atomically (one Lua call)."""
        if not outcomes:
            return
        rows = orjson.dumps(
            [
                [
                    o.kind,
                    o.entry.channel,
                    o.entry.sub_id,
                    o.entry.did,
                    o.entry.entry_id,
                    repr(o.due),
                    "1" if o.logged else "0",
                    list(o.members),
                    "1" if o.batch else "0",
                    o.reason[:500],
                    (o.body or b"").decode("utf-8", "replace"),
                    keys.work(o.entry.channel),
                    [keys.sent(o.entry.sub_id, did) for did in (o.entry.did, *o.members)],
                    keys.batch_items(o.entry.did),
                    keys.batch_members(o.entry.did),
                ]
                for o in outcomes
            ]
        )
        await self._finish(
            keys=[keys.ATTEMPTS, keys.SCHED, keys.BODY, keys.MEMBER, keys.DEPTH, keys.DEAD],
            args=[self.log.ttl, rows, keys.GROUP, self.dead_maxlen],
        )

    async def depth(self) -> dict[str, int]:
        raw = await self.redis.hgetall(keys.DEPTH)
        return {_s(k): max(0, int(v)) for k, v in raw.items()}
