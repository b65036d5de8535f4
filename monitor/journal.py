"""The article journal: what the poller took in stays in Redis until every stage has made its effects durable.

Why: the embedded broker (Tansu, memory storage) forgets every record when its process dies, while the
poller's "seen" marks live on in Redis (AOF). Without the journal, a kill -9 of ``monitor run`` loses
each article the broker held but no stage had finished. With it, an article is kept (Redis, AOF) from
just before it is produced until the last required stage acknowledges it, and at start-up every article
still in the journal is produced again into the (empty) embedded broker. Every stage is idempotent on
article and alert ids, so a republished article yields the same alerts, and the dedup-ing effects
(notification log, ``webhook-id``) absorb the repeats. It is on only with the embedded broker: a real
Kafka cluster keeps the records itself, and that path does no journal work at all.

Interface (``Journal(redis, stages=("alert",))``; Redis client returning bytes or str, either works):

- poller: ``await journal.take([(article_id, value_bytes), ...])`` *before* producing them (so no stage
  can acknowledge an article the journal does not hold yet). Taking an article again is harmless.
- processor: ``await journal.processed([(article_id, [alert_id, ...]), ...])`` after processing a batch
  and *before* sending its alerts. An article with no alerts (no match, suppressed, dead-lettered) has
  finished the ``alert`` stage right there; one with alerts waits for each of them.
- alerter: ``await journal.alerts_done([alert_id, ...])`` once the alerts' effects are durable (stored,
  routed, deliveries enqueued in Redis — or the alert dead-lettered as poison). When the last alert of an
  article is done, its ``alert`` stage is acknowledged.
- any other stage (the archiver: stage ``"archive"``): ``await journal.ack("archive", [article_id, ...])``
  once its write is durable. The stage must be listed in ``stages`` when the journal is built, so that
  articles taken in wait for it; an ack for a stage an article does not wait for, or for an article the
  journal does not hold, does nothing.
- start-up: ``await journal.republish(producer, topic)`` produces every article still held, oldest
  first, and returns how many (call it only when the broker came back empty: ``broker_is_empty``).
- ``await journal.size()``: articles held (a gauge for ``/metrics``).

An article is dropped when its last required stage acknowledges it. Redis layout under ``prefix``
(default ``monitor:journal:``): ``body`` HASH id -> value, ``order`` ZSET id -> taken-in time (ms),
``need`` HASH id -> comma-separated stages still due, ``wait:<id>`` SET of alert ids the ``alert`` stage
still waits for, ``alert`` HASH alert id -> article id.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from typing import Any, cast

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

ALERT_STAGE = "alert"
DEFAULT_PREFIX = "monitor:journal:"

# KEYS: need, body, order, wait prefix ; ARGV: stage, id1, id2, ... -> number of articles dropped
_ACK = """
local dropped = 0
for i = 2, #ARGV do
  local id = ARGV[i]
  local need = redis.call('HGET', KEYS[1], id)
  if need then
    local left = {}
    for s in string.gmatch(need, '[^,]+') do
      if s ~= ARGV[1] then table.insert(left, s) end
    end
    if #left == 0 then
      redis.call('HDEL', KEYS[1], id)
      redis.call('HDEL', KEYS[2], id)
      redis.call('ZREM', KEYS[3], id)
      redis.call('DEL', KEYS[4] .. id)
      dropped = dropped + 1
    else
      redis.call('HSET', KEYS[1], id, table.concat(left, ','))
    end
  end
end
return dropped
"""

# The alert stage's inner accounting. KEYS: need, body, order, wait prefix, alert map.
# processed: ARGV: n_articles, then per article: id, n_alerts, alert ids... -> articles whose alert stage is done
_PROCESSED = """
local done = {}
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  local id = ARGV[i]
  local n = tonumber(ARGV[i + 1])
  i = i + 2
  if redis.call('HEXISTS', KEYS[1], id) == 1 then
    local wait = KEYS[4] .. id
    for _, old in ipairs(redis.call('SMEMBERS', wait)) do redis.call('HDEL', KEYS[5], old) end
    redis.call('DEL', wait)
    for j = 0, n - 1 do
      redis.call('SADD', wait, ARGV[i + j])
      redis.call('HSET', KEYS[5], ARGV[i + j], id)
    end
    if n == 0 then table.insert(done, id) end
  end
  i = i + n
end
return done
"""

# alerts_done: ARGV: alert ids -> articles whose alert stage is done
_ALERTS_DONE = """
local done = {}
for i = 1, #ARGV do
  local id = redis.call('HGET', KEYS[5], ARGV[i])
  if id then
    redis.call('HDEL', KEYS[5], ARGV[i])
    local wait = KEYS[4] .. id
    redis.call('SREM', wait, ARGV[i])
    if redis.call('SCARD', wait) == 0 then table.insert(done, id) end
  end
end
return done
"""


def _s(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


class Journal:
    def __init__(
        self, redis: aioredis.Redis, *, stages: Iterable[str] = (ALERT_STAGE,), prefix: str = DEFAULT_PREFIX
    ) -> None:
        self.redis = redis
        self.stages = tuple(dict.fromkeys(stages))
        if not self.stages or any("," in s or not s for s in self.stages):
            raise ValueError(f"journal stages must be non-empty names without commas: {self.stages!r}")
        self.prefix = prefix
        self.k_need, self.k_body, self.k_order = prefix + "need", prefix + "body", prefix + "order"
        self.k_wait, self.k_alert = prefix + "wait:", prefix + "alert"
        self._keys = [self.k_need, self.k_body, self.k_order, self.k_wait, self.k_alert]
        self._ack = redis.register_script(_ACK)
        self._processed = redis.register_script(_PROCESSED)
        self._alerts_done = redis.register_script(_ALERTS_DONE)

    # --- poller ------------------------------------------------------------------------------------
    async def take(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Hold these articles (id, produced value) until every stage acknowledges them."""
        if not items:
            return
        now = int(time.time() * 1000)
        need = ",".join(self.stages)
        async with self.redis.pipeline(transaction=True) as p:
            p.hset(self.k_body, mapping=dict(items))
            p.zadd(self.k_order, {aid: now for aid, _ in items}, nx=True)
            for aid, _ in items:
                p.hsetnx(self.k_need, aid, need)
            await p.execute()

    # --- stages ------------------------------------------------------------------------------------
    async def ack(self, stage: str, article_ids: Iterable[str]) -> int:
        """``stage`` has made its effects of these articles durable. Returns how many were dropped."""
        ids = list(article_ids)
        if not ids:
            return 0
        return int(await self._ack(keys=self._keys[:4], args=[stage, *ids]))

    async def processed(self, results: Sequence[tuple[str, Sequence[str]]]) -> None:
        """The processor's outcome per article: the ids of the alerts it is about to send (maybe none)."""
        if not results:
            return
        args: list[Any] = [len(results)]
        for aid, alert_ids in results:
            args += [aid, len(alert_ids), *alert_ids]
        done = await self._processed(keys=self._keys, args=args)
        if done:
            await self.ack(ALERT_STAGE, (_s(d) for d in done))

    async def alerts_done(self, alert_ids: Iterable[str]) -> None:
        """These alerts' effects are durable (or they were dead-lettered)."""
        ids = list(alert_ids)
        if not ids:
            return
        done = await self._alerts_done(keys=self._keys, args=ids)
        if done:
            await self.ack(ALERT_STAGE, (_s(d) for d in done))

    # --- start-up ----------------------------------------------------------------------------------
    async def size(self) -> int:
        return int(await self.redis.zcard(self.k_order))

    async def held(self, chunk: int = 500) -> list[str]:
        """Article ids held, oldest first."""
        return [_s(x) for x in cast("list[bytes]", await self.redis.zrange(self.k_order, 0, -1))]

    async def republish(self, producer: Any, topic: str, *, chunk: int = 500) -> int:
        """Produce every held article again (key: its id), oldest first; wait for every ack."""
        ids = await self.held()
        sent = 0
        for start in range(0, len(ids), chunk):
            part = ids[start:start + chunk]
            values = await self.redis.hmget(self.k_body, part)
            futures = [
                await producer.send(topic, value=v if isinstance(v, bytes) else v.encode(), key=aid.encode())
                for aid, v in zip(part, values, strict=True)
                if v is not None
            ]
            await asyncio.gather(*futures)
            sent += len(futures)
        if sent:
            log.warning("republished %d article(s) from the journal (not finished before the last stop)", sent)
        return sent


async def broker_is_empty(bootstrap: str, topic: str) -> bool:
    """True when every partition of ``topic`` has log end 0 (a freshly started embedded broker)."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None)
    await consumer.start()
    try:
        await consumer.topics()  # fresh metadata
        parts = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return all(v == 0 for v in ends.values())
    finally:
        await consumer.stop()
