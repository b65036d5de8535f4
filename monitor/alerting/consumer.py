"""The alerter's consume loop: ``alerts`` topic in, durable deliveries out, offsets committed after.

A raw aiokafka consumer (group ``alerter_group``, auto-commit off), like the processor's
(``monitor.process.loop``): the alerter's promise is "commit only after the effect is durable", which a
plain loop states exactly, and ``monitor run`` hosts both loops in one process. Per batch:

1. decode each record into an ``Alert``; a bad record goes to ``dead-letter`` (acknowledged by the
   broker before we go on);
2. the effects: ``await handler(alerts)`` (routing, dedup and durable enqueueing,
   ``monitor.alerting.service``), store the alerts in the recent-alerts store (the API reads it), then
   tell the journal (embedded broker only) that these alerts are done, and print console lines;
3. commit.

Failures are split as ``monitor.retry`` says. An infrastructure error (Redis, the broker, the network)
commits nothing: the consumer seeks back to the batch's first offsets and tries again after a backoff
with jitter, so no alert is lost and none is dead-lettered for an outage. Any other error is the alert's
own: the batch is then handled alert by alert, each failing alert is tried ``poison_tries`` times and
then written to ``dead-letter`` with its reason (``handler_error: …``), and the rest flows on.

``monitor_alerts_received_total`` counts each alert once, when its effects are done (a batch retried
after an outage is not counted twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.structs import ConsumerRecord
from pydantic import ValidationError

from monitor.alerting.recent import RecentAlerts
from monitor.broker import FetchPace, make_consumer
from monitor.metrics import METRICS, Metrics
from monitor.models import Alert
from monitor.process.core import Record, dead_letter
from monitor.retry import Backoff, Stopped, is_infrastructure, until_done
from monitor.settings import Settings

log = logging.getLogger(__name__)

AlertHandler = Callable[[Sequence[Alert]], Awaitable[None]]

#: pause between the tries of an alert that made a handler fail (short: the partition waits meanwhile)
POISON_BACKOFF = Backoff(initial=0.1, factor=2.0, cap=2.0, jitter=0.2)


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
        journal: Any = None,
        backoff: Backoff = Backoff(),  # noqa: B008 - frozen, shared safely
    ) -> None:
        self.settings = settings
        self.recent = recent
        self.producer = producer
        self.handler = handler
        self.on_alert = on_alert
        self.metrics = metrics
        self.journal = journal
        self.backoff = backoff
        self.tries = max(1, int(getattr(settings, "poison_tries", 3)))
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()

    async def run(self) -> None:
        s = self.settings
        consumer = make_consumer(s, s.topic_alerts, group_id=s.alerter_group, max_poll_records=500)
        # short fetch waits while alerts flow, long ones (or naps that a local send ends) when idle
        pace = FetchPace.from_settings(s, topic=s.topic_alerts)
        pace.attach(consumer)
        await consumer.start()
        pace.started(consumer)
        self.ready.set()
        failures = 0
        try:
            while not self._stopping.is_set():
                batch = await consumer.getmany(timeout_ms=1000, max_records=500)
                pace.records(sum(len(r) for r in batch.values()))
                if not batch:
                    continue
                try:
                    await self._handle(batch)
                except Stopped:
                    break  # stopping while an outage lasts: nothing committed, the batch comes again
                except Exception as exc:
                    failures += 1
                    pause = self.backoff.delay(failures)
                    if is_infrastructure(exc):
                        log.warning("alert batch not handled (%s: %s); not committed, retrying in %.1fs",
                                    type(exc).__name__, exc, pause)
                    else:  # a bug outside the per-alert isolation: still never lose the batch
                        log.exception("alert batch failed; not committed, retrying in %.1fs", pause)
                    for tp, records in batch.items():
                        consumer.seek(tp, records[0].offset)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), pause)
                    continue
                failures = 0
                try:
                    await consumer.commit()
                except Exception as exc:  # a rebalance or an outage: the batch comes again, idempotently
                    log.warning("alert offsets not committed (%s: %s); the batch may be handled again",
                                type(exc).__name__, exc)
        finally:
            await consumer.stop()

    async def _handle(self, batch: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        items: list[tuple[ConsumerRecord, Alert]] = []
        for records in batch.values():
            for rec in records:
                try:
                    items.append((rec, decode_alert(rec.value)))
                except ValueError as exc:
                    await self._dead_letter(rec, str(exc))
        if not items:
            return
        try:
            await self._effects([a for _, a in items])
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            log.warning("alert batch of %d failed (%s: %s); handling its alerts one by one",
                        len(items), type(exc).__name__, exc)
            for item in items:
                await self._one(*item)

    async def _one(self, rec: ConsumerRecord, alert: Alert) -> None:
        """Try one alert up to ``tries`` times; then dead-letter it. Infrastructure errors propagate."""
        last: Exception | None = None
        for attempt in range(1, self.tries + 1):
            try:
                await self._effects([alert])
                return
            except Exception as exc:
                if is_infrastructure(exc):
                    raise
                last = exc
                log.warning("alert %s failed (try %d of %d): %s: %s", alert.id, attempt, self.tries,
                            type(exc).__name__, exc)
                if attempt < self.tries:
                    await asyncio.sleep(POISON_BACKOFF.delay(attempt))
        assert last is not None
        log.error("alert %s dead-lettered after %d tries", alert.id, self.tries, exc_info=last)
        await self._dead_letter(rec, f"handler_error: {type(last).__name__}: {last}")
        if self.journal is not None:  # final: a repeat would fail the same way
            await self.journal.alerts_done([alert.id])

    async def _effects(self, alerts: list[Alert]) -> None:
        if self.handler is not None:  # first: an alert the handler refuses never shows in the API
            await self.handler(alerts)
        await self.recent.add(alerts)
        if self.journal is not None:
            await self.journal.alerts_done(a.id for a in alerts)
        self.metrics.alerts_received.inc(len(alerts))
        if self.on_alert is not None:
            for a in alerts:
                try:
                    self.on_alert(a)
                except Exception:  # a console hook must never fail an alert
                    log.exception("on_alert hook failed")

    async def _dead_letter(self, rec: ConsumerRecord, reason: str) -> None:
        self.metrics.dead_letters.labels(rec.topic, reason.split(":", 1)[0]).inc()
        log.warning("dead-letter %s[%d]@%d: %s", rec.topic, rec.partition, rec.offset, reason)
        dead = dead_letter(Record(rec.topic, rec.partition, rec.offset, rec.key, rec.value), reason)
        await until_done(
            lambda: self.producer.send_and_wait(self.settings.topic_dead_letter, dead.to_json(), key=rec.key),
            what="dead-letter produce", stop=self._stopping,
        )

    async def stop(self) -> None:
        self._stopping.set()
