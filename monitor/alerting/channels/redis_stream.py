"""Redis channel: XADD each delivery to the subscription's own stream, plus a PUBLISH notice.

Stream ``monitor:{sub:<id>}:stream`` (see ``keys.stream``), one entry per delivery with fields ``id``
(the delivery id: consumers dedup on it), ``type`` and ``payload`` (the delivery JSON, as a webhook body).
The XADD and the notification-log record happen in one Lua script, so this channel is exactly-once
even when the alerter is killed between sending and acknowledging. ``PUBLISH monitor:notify:<id>`` then
carries the new entry id to live listeners (at-most-once, a hint only: read the stream).

Trimming (``trim``): entries older than the subscription's ``retention_hours`` go, but never one a
consumer group has not read yet or still has pending (``XTRIM MINID`` at the oldest of those).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import orjson

from monitor.alerting import keys
from monitor.alerting.channels.base import Channel, DeliveryError

if TYPE_CHECKING:
    from monitor.alerting.model import Delivery, Subscription

# ARGV: log TTL, notify ('1'/'0'), rows JSON; row: delivery id, type, payload, sent key, stream key,
# notify channel (all key names from ``keys``: the script builds none)
_SEND = """
local ttl = tonumber(ARGV[1])
local notify = ARGV[2] == '1'
local rows = cjson.decode(ARGV[3])
local out = {}
for k, row in ipairs(rows) do
  local did, typ, payload, skey, stream, chan = row[1], row[2], row[3], row[4], row[5], row[6]
  if redis.call('EXISTS', skey) == 1 then
    out[k] = 0
  else
    local id = redis.call('XADD', stream, '*', 'id', did, 'type', typ, 'payload', payload)
    redis.call('SET', skey, 1, 'EX', ttl)
    if notify then redis.call('PUBLISH', chan, id) end
    out[k] = 1
  end
end
return out
"""


def _ms_id(x: bytes | str) -> tuple[int, int]:
    s = x.decode() if isinstance(x, bytes) else x
    a, _, b = s.partition("-")
    return int(a), int(b or 0)


class RedisStreamChannel(Channel):
    name = "redis"
    batching = True

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._script = self.redis.register_script(_SEND)

    async def send(self, delivery: Delivery, subscription: Subscription) -> None:
        (res,) = await self.send_many([(delivery, subscription)])
        if res is not None:
            raise res

    async def send_many(self, items: Sequence[tuple[Delivery, Subscription]]) -> list[BaseException | None]:
        if not items:
            return []
        rows = orjson.dumps([
            [d.id, d.kind, d.wire().decode(), keys.sent(s.id, d.id), keys.stream(s.id), keys.notify(s.id)]
            for d, s in items
        ])
        args = [self.settings.delivery_log_ttl, "1" if self.settings.stream_notify else "0", rows]
        try:
            await self._script(args=args)
        except Exception as exc:  # Redis down or script error: every item is retried
            err = DeliveryError(f"redis: {type(exc).__name__}: {str(exc)[:200]}")
            return [err] * len(items)
        return [None] * len(items)

    async def trim(self, sub_id: str, retention_hours: float) -> None:
        """Drop entries older than the retention, never below an unread or pending entry."""
        stream = keys.stream(sub_id)
        floor = (int((time.time() - retention_hours * 3600) * 1000), 0)
        try:
            groups = await self.redis.xinfo_groups(stream)
        except Exception:  # no stream yet
            return
        for g in groups:
            name = g["name"]
            last = g.get("last-delivered-id") or "0-0"
            floor = min(floor, (_ms_id(last)[0], _ms_id(last)[1] + 1))
            pend = await self.redis.xpending(stream, name)
            if pend and pend.get("pending"):
                floor = min(floor, _ms_id(pend["min"]))
        await self.redis.xtrim(stream, minid=f"{floor[0]}-{floor[1]}", approximate=False)
