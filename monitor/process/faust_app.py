"""The faust App and its topics, and the one place where faust's internals are touched. No logic here.

``build_app(settings)`` returns a ``faust.App`` configured through faust's public settings for
at-least-once processing (``processing_guarantee``, ``producer_acks=-1`` i.e. acks=all), short group
timeouts for the embedded broker, and faust's own web server off (monitor serves HTTP itself). Topics
are declared raw (bytes in, bytes out): decoding happens inside the agent so a malformed record goes
to ``dead-letter`` instead of crashing it.

Two things faust has no public setting for, so they are done here through its internals, checked
against faust-streaming ``FAUST_CHECKED`` (``tests/spine/test_faust_internals.py`` fails when a faust
release changes the hooks or gains a public setting for either):

- producer idempotence: faust sets ``enable_idempotence`` only inside transactions (exactly-once);
  ``_IdempotentProducer._settings_extra`` adds it as ``MONITOR_KAFKA_IDEMPOTENCE`` says;
- the consumer's fetch wait: faust hard-codes ``fetch_max_wait_ms=1500`` when it creates the aiokafka
  consumer, so an idle partition delays new records by up to 1.5 s; ``_ConsumerThread`` hands the
  consumer to the app's ``FetchPace`` (``monitor.broker``), which sets its wait to
  ``MONITOR_BROKER_FETCH_MAX_WAIT`` while records flow and ``MONITOR_BROKER_FETCH_MAX_WAIT_IDLE`` when idle;
  it also sets the consumer's ``_consumer_timeout`` (the idle round of aiokafka's fetch routine, which
  faust leaves at 200 ms) to 1 s, as ``monitor.broker.make_consumer`` does through the public argument.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka

from monitor.broker import FetchPace
from monitor.settings import Settings

#: the faust-streaming release the internals below were checked against
FAUST_CHECKED = "0.15.3"


class _IdempotentProducer(faust_aiokafka.Producer):
    idempotence: bool = False

    def _settings_extra(self) -> Any:
        extra = dict(super()._settings_extra())  # inside a transaction: acks=all and idempotence already
        extra.setdefault("enable_idempotence", self.idempotence)
        return extra


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    fetch_pace: FetchPace = FetchPace(0.1, 0.1, 0.0)

    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # faust hard-codes 1500 ms: a fetch that finds nothing waits that long for new records
        self.fetch_pace.attach(consumer)
        # aiokafka's fetch routine wakes every consumer_timeout_ms (200) even with nothing to do; it
        # reacts to assignments and fetch results at once, so a second is enough (as monitor.broker does)
        consumer._consumer_timeout = 1.0
        start, pace = consumer.start, self.fetch_pace

        async def start_then_pace() -> None:  # faust starts it in this thread's event loop
            await start()
            pace.started(consumer)

        consumer.start = start_then_pace
        return consumer


class MonitorApp(faust.App):
    """A faust App whose producer uses acks=all and the configured idempotence, and whose consumer
    waits as ``fetch_pace`` says in a fetch (faust fixes it at 1.5 s, a floor on latency); the
    processing agent tells ``fetch_pace`` when records come."""

    producer_idempotence: bool = False
    fetch_pace: FetchPace = FetchPace(0.1, 0.1, 0.0)

    def _new_transport(self) -> Any:
        thread_cls = type("ConsumerThread", (_ConsumerThread,), {"fetch_pace": self.fetch_pace})
        consumer_cls = type(
            "Consumer", (faust_aiokafka.Consumer,), {"_new_consumer_thread": _thread_factory(thread_cls)}
        )
        transport_cls = type("Transport", (faust_aiokafka.Transport,), {"Consumer": consumer_cls})
        return transport_cls(self.conf.broker_consumer, self)

    def _new_producer_transport(self) -> Any:
        idem = self.producer_idempotence
        producer_cls = type("Producer", (_IdempotentProducer,), {"idempotence": idem})
        transport_cls = type("Transport", (faust_aiokafka.Transport,), {"Producer": producer_cls})
        return transport_cls(self.conf.broker_producer, self)


def _thread_factory(thread_cls: type) -> Any:
    def _new_consumer_thread(self: Any) -> Any:
        return thread_cls(self, loop=self.loop, beacon=self.beacon)

    return _new_consumer_thread


@dataclass(frozen=True)
class Topics:
    articles: faust.TopicT
    alerts: faust.TopicT
    dead_letter: faust.TopicT


def build_app(settings: Settings, *, app_id: str | None = None) -> tuple[MonitorApp, Topics]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = MonitorApp(
        app_id or settings.app_id,
        broker=[f"kafka://{h.strip()}" for h in settings.kafka_servers.split(",")],
        processing_guarantee="at_least_once",
        producer_acks=-1,
        broker_session_timeout=settings.broker_session_timeout,
        broker_heartbeat_interval=settings.broker_heartbeat_interval,
        broker_rebalance_timeout=settings.broker_rebalance_timeout,
        broker_commit_interval=1.0,
        consumer_auto_offset_reset="earliest",
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=settings.topic_replication,
        topic_allow_declare=False,
        web_enabled=False,
        store="memory://",
        datadir=str(settings.data_dir / "faust"),
        autodiscover=False,
        stream_wait_empty=True,
    )
    app.producer_idempotence = settings.idempotence
    app.fetch_pace = FetchPace.from_settings(settings, topic=settings.topic_articles)

    def raw(name: str) -> faust.TopicT:
        return app.topic(
            name, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw",
            partitions=settings.topic_partitions, internal=False,
        )

    return app, Topics(
        articles=raw(settings.topic_articles),
        alerts=raw(settings.topic_alerts),
        dead_letter=raw(settings.topic_dead_letter),
    )
