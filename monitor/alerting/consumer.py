"""The alerter's consume loop: ``alerts`` topic in, durable deliveries out, offsets committed after.

A raw aiokafka consumer (group ``alerter_group``, auto-commit off) rather than a faust agent: the
alerter's promise is "commit only after the effect is durable", which a plain loop states exactly, and
it lets ``monitor run`` host it beside the faust processor in one process. Per batch:

1. decode each record into an ``Alert``; a bad record goes to ``dead-letter`` (acknowledged by the
   broker before we go on);
2. store the alerts in the recent-alerts store (the API reads it) and print console lines;
3. ``await handler(alerts)``: routing, dedup and durable enqueueing (``monitor.alerting.service``);
4. commit. If step 2 or 3 raises (Redis down), nothing is committed: the consumer seeks back to the
   batch's first offsets and retries after a pause, so no alert is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from monitor.alerting.recent import RecentAlerts
from monitor.broker import make_consumer
from monitor.metrics import METRICS, Metrics
from monitor.models import Alert
from monitor.process.core import Record, dead_letter
from monitor.settings import Settings

log = logging.getLogger(__name__)

AlertHandler = Callable[[Sequence[Alert]], Awaitable[None]]


def decode_alert(value: bytes | None) -> Alert:
    if not value:
        raise ValueError("empty_record")
    try:
        return Alert.model_validate(orjson.loads(value))
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"invalid_json: {exc}") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"invalid_alert: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc


class AlertConsumer:
    def __init__(
        self,
        settings: Settings,
        *,
        recent: RecentAlerts,
        producer: AIOKafkaProducer,
        handler: AlertHandler | None = None,
        on_alert: Callable[[Alert], None] | None = None,
        metrics: Metrics = METRICS,
    ) -> None:
        self.settings = settings
        self.recent = recent
        self.producer = producer
        self.handler = handler
        self.on_alert = on_alert
        self.metrics = metrics
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        s = self.settings
        consumer = make_consumer(s, s.topic_alerts, group_id=s.alerter_group, max_poll_records=500)
        await consumer.start()
        self.ready.set()
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                if not batch:
                    continue
                try:
                    await self._handle(batch)
                except Exception:
                    log.exception("alert batch failed; not committed, retrying")
                    for tp, records in batch.items():
                        consumer.seek(tp, records[0].offset)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), 1.0)
                    continue
                await consumer.commit()
        finally:
            await consumer.stop()

    async def _handle(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        alerts: list[Alert] = []
        for records in batch.values():
            for rec in records:
                try:
                    alerts.append(decode_alert(rec.value))
                except ValueError as exc:
                    reason = str(exc)
                    self.metrics.dead_letters.labels(rec.topic, reason.split(":", 1)[0]).inc()
                    log.warning("dead-letter %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, reason)
                    dead = dead_letter(Record(rec.topic, rec.partition, rec.offset, rec.key, rec.value), reason)
                    await self.producer.send_and_wait(self.settings.topic_dead_letter, dead.to_json(), key=rec.key)
        if not alerts:
            return
        self.metrics.alerts_received.inc(len(alerts))
        await self.recent.add(alerts)
        if self.handler is not None:
            await self.handler(alerts)
        if self.on_alert is not None:
            for a in alerts:
                self.on_alert(a)

    async def stop(self) -> None:
        self._stopping.set()
