"""Consumer-group progress as metrics: end offsets, committed offsets and lag per (group, topic).

The processor (group ``app_id``) reads ``articles``; the alerter (``alerter_group``) reads ``alerts``; the
archiver (``archive_group``, when the archive is on) reads ``articles`` too.
``LagSampler.sample()`` asks the broker for each and sets ``monitor_topic_end_offset``,
``monitor_consumer_committed_offset`` and ``monitor_consumer_lag``, which the "consumer lag growing"
and "processor stuck" alerting rules read. It runs in the process that serves the API, every
``interval`` seconds; a broker error skips one sample (the gauges keep their last values).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from monitor.metrics import METRICS, Metrics
from monitor.settings import Settings

log = logging.getLogger(__name__)


class LagSampler:
    def __init__(self, settings: Settings, metrics: Metrics = METRICS, interval: float = 10.0) -> None:
        self.settings = settings
        self.metrics = metrics
        self.interval = interval
        self._stop = asyncio.Event()

    def watched(self) -> list[tuple[str, str]]:
        s = self.settings
        archive = [(s.archive_group, s.topic_articles)] if s.archive else []  # the archiver (docs/archive.md)
        return [(s.app_id, s.topic_articles), (s.alerter_group, s.topic_alerts), *archive]

    async def sample(self, admin: AIOKafkaAdminClient, consumer: AIOKafkaConsumer) -> None:
        for group, topic in self.watched():
            parts = consumer.partitions_for_topic(topic) or set()
            if not parts:
                await consumer._client.force_metadata_update()
                parts = consumer.partitions_for_topic(topic) or set()
            tps = [TopicPartition(topic, p) for p in sorted(parts)]
            if not tps:
                continue
            ends = await consumer.end_offsets(tps)
            committed = await admin.list_consumer_group_offsets(group, partitions=tps)
            end_sum = sum(ends.values())
            done = sum(max(0, meta.offset) for tp, meta in committed.items() if tp in ends)
            lag = sum(max(0, ends[tp] - max(0, committed[tp].offset if tp in committed else 0)) for tp in tps)
            self.metrics.topic_end_offset.labels(topic).set(end_sum)
            self.metrics.consumer_committed.labels(group, topic).set(done)
            self.metrics.consumer_lag.labels(group, topic).set(lag)

    async def run(self) -> None:
        bs = self.settings.kafka_servers
        admin = AIOKafkaAdminClient(bootstrap_servers=bs, client_id="monitor-lag")
        consumer = AIOKafkaConsumer(bootstrap_servers=bs, group_id=None, client_id="monitor-lag")
        await admin.start()
        await consumer.start()
        try:
            while not self._stop.is_set():
                try:
                    await self.sample(admin, consumer)
                except Exception as exc:  # a sampling hiccup must not stop the API
                    log.warning("lag sample failed: %r", exc)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.interval)
        finally:
            await consumer.stop()
            await admin.close()

    async def stop(self) -> None:
        self._stop.set()
