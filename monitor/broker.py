"""Kafka plumbing shared by every process: topic creation, producers, raw consumers.

- ``ensure_topics`` creates ``articles``, ``alerts`` and ``dead-letter`` with the configured partition
  count before anything produces (Tansu would auto-create them with 4 partitions, and faust does not
  create non-internal source topics itself). It is idempotent and tolerates "already exists".
- ``make_producer`` returns a started aiokafka producer with ``acks="all"`` and idempotence as
  ``Settings.idempotence`` says (on for a real cluster, off for the embedded broker, which cannot grant
  producer ids).
- ``make_consumer`` returns a raw consumer with auto-commit off: callers commit after the effect.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, TopicAlreadyExistsError

from monitor.settings import Settings

log = logging.getLogger(__name__)


def topic_names(settings: Settings) -> list[str]:
    return [settings.topic_articles, settings.topic_alerts, settings.topic_dead_letter]


async def ensure_topics(settings: Settings, *, attempts: int = 30) -> None:
    """Create the three topics if missing. Retries while the broker is still coming up."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_servers, client_id="monitor-admin")
    for attempt in range(attempts):
        try:
            await admin.start()
            break
        except KafkaConnectionError:
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        wanted = [
            NewTopic(name=t, num_partitions=settings.topic_partitions,
                     replication_factor=settings.topic_replication)
            for t in topic_names(settings) if t not in existing
        ]
        if wanted:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(wanted)
            log.info("created topics %s", [t.name for t in wanted])
    finally:
        await admin.close()


class KafkaSetupError(RuntimeError):
    """The broker cannot serve this configuration; retrying will not help until the settings change."""


async def preflight(settings: Settings) -> None:
    """Create the topics and prove a producer with these settings can start; explain what to change."""
    await ensure_topics(settings)
    try:
        producer = await make_producer(settings, client_id="monitor-preflight")
    except KafkaError as exc:
        if settings.idempotence:
            raise KafkaSetupError(
                f"the broker at {settings.kafka_bootstrap} refused an idempotent producer ({exc!r}); "
                "brokers without InitProducerId support (such as Tansu) need MONITOR_KAFKA_IDEMPOTENCE=false"
            ) from exc
        raise
    await producer.stop()


async def make_producer(settings: Settings, *, client_id: str = "monitor") -> AIOKafkaProducer:
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.idempotence,
        linger_ms=5,
        max_request_size=4 * 1024 * 1024,
        compression_type=None,
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


def make_consumer(settings: Settings, *topics: str, group_id: str, **kwargs: object) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=int(settings.broker_session_timeout * 1000),
        heartbeat_interval_ms=int(settings.broker_heartbeat_interval * 1000),
        rebalance_timeout_ms=int(max(settings.broker_rebalance_timeout, settings.broker_session_timeout) * 1000),
        max_poll_interval_ms=300_000,
        fetch_max_wait_ms=int(settings.broker_fetch_max_wait * 1000),
        **kwargs,  # type: ignore[arg-type]
    )
