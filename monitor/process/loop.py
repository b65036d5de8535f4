"""The processor's consume loop: ``articles`` in, ``alerts`` and ``dead-letter`` out, offsets committed after.

A plain aiokafka consumer (``monitor.broker.make_consumer``, auto-commit off) in the consumer group named
``MONITOR_APP_ID`` (the group the faust worker of earlier releases used, so its committed offsets carry
over), shaped like the alerter's loop (``monitor.alerting.consumer``). Per batch:

1. ``getmany`` up to ``worker_batch`` records (a lone article is taken at once; with
   ``worker_batch_within`` > 0 it waits up to that many seconds for more);
2. ``Processor.process_batch`` off the event loop (matching is CPU-bound), tried again while Redis or
   another dependency is down (``monitor.retry.until_done``): nothing is committed meanwhile;
3. the journal (embedded broker only) is told each article's alert ids;
4. the alerts (key: alert id) and dead letters are sent and **every broker ack awaited** (a failed send is
   sent again after a backoff, never skipped); then this batch's offsets are committed.

At-least-once: an article's offset is committed only after the alerts it produced are on the broker. A
crash before the commit means the batch comes again, which yields the same alert ids (deterministic), so
the alerter's dedup drops the repeats. Rebalances: when partitions are revoked while a batch is in hand
the revocation waits for that batch to finish and commit (up to ``revoke_wait`` seconds); past that it
is dropped from the wait, its commit is refused, which is logged, and the new owner processes it again.
``stop()`` ends the loop after the batch in hand and its commit.

``rules_reload`` polls the rules folder (``RuleWatcher``) every ``rules_reload_interval`` seconds and
swaps in a valid new rule set without a restart; an invalid change is logged and the running set stays.
The heap alive after a swap is frozen out of the garbage collector's reach (``monitor.heap.settle_heap``)
so full collections do not walk the rule set (they were the largest cause of the latency tail).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.structs import ConsumerRecord

from monitor.broker import FetchPace, make_consumer, make_producer, poke
from monitor.heap import settle_heap
from monitor.metrics import METRICS, Metrics
from monitor.process.core import Processed, Processor, Record
from monitor.retry import Stopped, until_done
from monitor.settings import Settings

log = logging.getLogger(__name__)

Batch = dict[TopicPartition, list[ConsumerRecord]]


async def process_with_retry(processor: Processor, records: list[Record],
                             stop: asyncio.Event | None = None) -> list[Processed]:
    """Process a batch; while Redis (or another dependency) is down, wait and try the whole batch again
    (backoff with jitter, one warning per ten attempts). Raises ``Stopped`` if ``stop`` is set meanwhile.

    Nothing is committed meanwhile, so no record is lost or dead-lettered for an outage; records processed
    before the failure are processed again, which yields the same alert ids.
    """
    return await until_done(functools.partial(asyncio.to_thread, processor.process_batch, records),
                            what="processing", stop=stop, logger=log)


class _Revocations(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, loop: ProcessLoop) -> None:
        self.loop = loop

    async def on_partitions_revoked(self, revoked: Any) -> None:
        self.loop.assigned -= set(revoked)
        await self.loop.finish_batch_in_hand(set(revoked))

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.loop.assigned = set(assigned)
        log.info("processor assigned %s", sorted(f"{tp.topic}[{tp.partition}]" for tp in assigned))


class ProcessLoop:
    """One processor: ``run()`` until ``stop()``. ``producer``: a started aiokafka producer (acks=all) to
    send with, or None for one of the loop's own (``linger_ms=0``: a batch's sends go out at once)."""

    def __init__(
        self,
        settings: Settings,
        processor: Processor,
        *,
        producer: Any = None,
        journal: Any = None,
        watcher: Any = None,
        on_reload: Callable[[Any], None] | None = None,
        metrics: Metrics = METRICS,
        group_id: str | None = None,
        revoke_wait: float | None = None,
    ) -> None:
        self.settings = settings
        self.processor = processor
        self.producer = producer
        self.journal = journal
        self.watcher = watcher
        self.on_reload = on_reload
        self.metrics = metrics
        self.group_id = group_id or settings.app_id
        #: how long a revocation waits for the batch in hand (below the broker's rebalance deadline)
        self.revoke_wait = revoke_wait if revoke_wait is not None else 0.8 * max(
            settings.broker_rebalance_timeout, settings.broker_session_timeout)
        self.ready = asyncio.Event()  # set once the consumer has started
        self._stopping = asyncio.Event()
        self._idle = asyncio.Event()  # set while no batch is in hand
        self._idle.set()
        self._in_hand: set[TopicPartition] = set()
        self.assigned: set[TopicPartition] = set()  # the partitions this loop owns now
        self.records_handled = 0  # records whose alerts and dead letters the broker acknowledged

    async def stop(self) -> None:
        self._stopping.set()

    async def finish_batch_in_hand(self, revoked: set[TopicPartition]) -> None:
        """Partitions are being revoked: let the batch in hand finish and commit, up to ``revoke_wait``."""
        if self._idle.is_set() or not (self._in_hand & revoked):
            return
        try:
            await asyncio.wait_for(self._idle.wait(), self.revoke_wait)
        except TimeoutError:
            log.warning("a batch was still in hand %.1fs after its partitions were revoked; the rebalance goes "
                        "on: the commit for a partition now owned elsewhere is refused and the new owner "
                        "processes its records again (same alert ids)", self.revoke_wait)

    async def run(self) -> None:
        s = self.settings
        consumer = make_consumer(s, group_id=self.group_id, max_poll_records=s.worker_batch)
        consumer.subscribe([s.topic_articles], listener=_Revocations(self))
        # short fetch waits while articles flow, long ones (or naps that a local send ends) when idle
        pace = FetchPace.from_settings(s, topic=s.topic_articles)
        pace.attach(consumer)
        own_producer = self.producer is None
        if own_producer:
            self.producer = await make_producer(s, client_id=f"{self.group_id}-processor", linger_ms=0)
        try:
            await consumer.start()
        except BaseException:
            if own_producer:
                await self.producer.stop()
            raise
        pace.started(consumer)
        self.ready.set()
        try:
            while not self._stopping.is_set():
                batch = await self._take(consumer, pace)
                if not batch:
                    continue
                self._in_hand = set(batch)
                self._idle.clear()
                try:
                    await self._handle(batch)
                    self.records_handled += sum(len(r) for r in batch.values())
                    await self._commit(consumer, batch)
                except Stopped:
                    break  # stopping during an outage: nothing committed, the batch comes again
                finally:
                    self._in_hand = set()
                    self._idle.set()
        finally:
            self._idle.set()
            await consumer.stop()
            if own_producer:
                await self.producer.stop()
                self.producer = None

    async def _take(self, consumer: AIOKafkaConsumer, pace: FetchPace) -> Batch:
        """Up to ``worker_batch`` records: those waiting now (or the first to come within a second), then,
        when ``worker_batch_within`` > 0, those arriving within that many seconds."""
        s = self.settings
        batch: Batch = await consumer.getmany(timeout_ms=1000, max_records=s.worker_batch)
        n = sum(len(r) for r in batch.values())
        if n and s.worker_batch_within > 0:
            deadline = time.monotonic() + s.worker_batch_within
            while n < s.worker_batch and (left := deadline - time.monotonic()) > 0:
                more = await consumer.getmany(timeout_ms=int(left * 1000), max_records=s.worker_batch - n)
                for tp, records in more.items():
                    batch.setdefault(tp, []).extend(records)
                    n += len(records)
        pace.records(n)
        return batch

    async def _handle(self, batch: Batch) -> None:
        records = [Record(m.topic, m.partition, m.offset, m.key, m.value) for msgs in batch.values() for m in msgs]
        outcomes = await process_with_retry(self.processor, records, self._stopping)
        if self.journal is not None:
            done = [(r.key.decode("utf-8", "replace"), [a.id for a in o.alerts])
                    for r, o in zip(records, outcomes, strict=True) if r.key]
            await until_done(functools.partial(self.journal.processed, done), what="journal (processed)",
                             stop=self._stopping, logger=log)
        out: list[tuple[str, bytes, bytes | None]] = []
        for record, outcome in zip(records, outcomes, strict=True):
            if outcome.dead is not None:
                out.append((self.settings.topic_dead_letter, outcome.dead.to_json(), record.key))
            for alert in outcome.alerts:
                out.append((self.settings.topic_alerts, alert.to_json(), alert.id.encode()))
        if out:
            await until_done(functools.partial(self._send_all, out), what="alerts produce", stop=self._stopping,
                             logger=log)
        if any(o.alerts for o in outcomes):
            poke(self.settings.topic_alerts)  # an alerter in this process fetches them now

    async def _send_all(self, out: list[tuple[str, bytes, bytes | None]]) -> None:
        """Send every record, then await every ack: the batch is on the broker when this returns."""
        acks = [await self.producer.send(topic, value, key=key) for topic, value, key in out]
        await asyncio.gather(*acks)

    async def _commit(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        try:
            await consumer.commit(offsets)
        except Exception as exc:  # a rebalance took the partitions, or an outage: the batch may come again
            log.warning("article offsets not committed (%s: %s); the batch may be processed again "
                        "(same alert ids)", type(exc).__name__, exc)

    async def reload_rules(self) -> None:
        """Poll the rules folder every ``rules_reload_interval`` seconds until ``stop()`` (a task of its own:
        ``monitor.runtime`` runs it beside ``run``); a valid change replaces the running rule set."""
        if self.watcher is None:
            return
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.settings.rules_reload_interval)
                return
            try:
                # loading a large rule set takes a while: keep the event loop (and heartbeats) free
                new = await asyncio.to_thread(self.watcher.poll)
            except Exception:  # the watcher reports rule errors itself; anything else must not stop reloads
                log.exception("rules reload failed; the running rule set stays")
                continue
            if new is None:
                continue
            self.processor.set_rules(new)
            settle_heap()  # free the replaced rule set, freeze the new one
            self.metrics.rules_reloads.labels("ok").inc()
            self.metrics.rules_loaded.set(sum(1 for r in new.rules if r.enabled))
            log.info("rules reloaded: %d rules", len(new.rules))
            if self.on_reload is not None:
                self.on_reload(new)
