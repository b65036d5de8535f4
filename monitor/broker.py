"""Kafka plumbing shared by every process: topic creation, producers, raw consumers.

- ``ensure_topics`` creates ``articles``, ``alerts`` and ``dead-letter`` with the configured partition
  count before anything produces (Tansu would auto-create them with 4 partitions, and aiokafka consumers do
  not create topics). It is idempotent and tolerates "already exists".
- ``make_producer`` returns a started aiokafka producer with ``acks="all"`` and idempotence as
  ``Settings.idempotence`` says (on for a real cluster, off for the embedded broker, which cannot grant
  producer ids).
- ``make_consumer`` returns a raw consumer with auto-commit off: callers commit after the effect.
- ``FetchPace`` sets how long the broker may hold a consumer's empty fetch: short while records flow
  (``broker_fetch_max_wait``), long once none came for ``broker_fetch_idle_after`` seconds
  (``broker_fetch_max_wait_idle``). The embedded broker (Tansu 0.6) does not answer a waiting fetch
  when a record arrives; it re-reads the log a few times within the wait (the first time after half of
  it), so the wait bounds the latency of a record and sets how often an idle consumer asks: the
  short wait keeps a flowing stream fast, the long one keeps an idle process cheap. The first record
  after a quiet spell would wait up to half the idle wait per consumer it passes; on the embedded broker
  an idle consumer therefore naps between short fetches instead, and ``poke(topic)`` from this
  process's producers wakes it at once (see ``FetchPace``). This is the one place that touches aiokafka
  internals (``AIOKafkaConsumer._fetch_max_wait_ms`` and its fetcher's, read for every fetch request,
  and the fetcher's ``_proc_fetch_request``; checked against aiokafka ``AIOKAFKA_CHECKED``,
  ``tests/spine/test_fetch_pace.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from typing import Any

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


async def make_producer(settings: Settings, *, client_id: str = "monitor", linger_ms: int = 5) -> AIOKafkaProducer:
    """``linger_ms``: how long a send may wait for others to share its request (0 for a caller that sends
    a whole batch and then awaits the acks: the batch goes in one request anyway)."""
    producer = AIOKafkaProducer(
        bootstrap_servers=settings.kafka_servers,
        client_id=client_id,
        acks="all",
        enable_idempotence=settings.idempotence,
        linger_ms=linger_ms,
        max_request_size=4 * 1024 * 1024,
        compression_type=None,
    )
    try:
        await producer.start()
    except BaseException:
        await producer.stop()
        raise
    return producer


def make_consumer(
    settings: Settings, *topics: str, group_id: str, fetch_wait: float | None = None, **kwargs: object
) -> AIOKafkaConsumer:
    """``fetch_wait``: seconds a fetch may wait (default ``broker_fetch_max_wait``; ``FetchPace`` may
    change it while the consumer runs)."""
    wait = settings.broker_fetch_max_wait if fetch_wait is None else fetch_wait
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
        fetch_max_wait_ms=int(wait * 1000),
        consumer_timeout_ms=1000,  # the fetch routine's idle round (it reacts to assignments at once)
        **kwargs,  # type: ignore[arg-type]
    )


#: the aiokafka release whose consumer internals ``FetchPace`` was checked against
AIOKAFKA_CHECKED = "0.14.0"


class FetchPace:
    """The fetch wait of one or more aiokafka consumers, short while records flow and long when idle.

    ``records(n)`` after each poll of the consumer (``n`` may be 0): records switch to the busy wait
    at once; ``idle_after`` seconds without any switch to the idle wait. Safe to call from another
    thread than the consumer's: it only stores an int
    that the consumer reads when it builds its next fetch request.

    ``nap`` (the embedded broker, where every producer of ``monitor run`` is in this process): an idle
    consumer does not leave a long fetch waiting in the broker (it could not be cut short); it sends
    short fetches and naps between empty ones for the idle wait, and ``poke(topic)`` (called by this
    process's producers after a send) ends the nap at once and switches to the busy wait, so the first
    record after a quiet spell is fetched within milliseconds. A record from another process waits for
    the end of the nap. ``started(consumer)`` installs the nap (in the consumer's event loop).
    """

    def __init__(self, busy: float, idle: float, idle_after: float, *, nap: bool = False) -> None:
        self.busy_ms = max(0, int(busy * 1000))
        self.idle_ms = max(self.busy_ms, int(idle * 1000))
        self.idle_after = idle_after
        self.nap = nap
        self.idle = False
        self._last = time.monotonic()
        self._consumers: list[Any] = []
        self._wakers: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    @classmethod
    def from_settings(cls, settings: Settings, *, topic: str | None = None) -> FetchPace:
        """``topic``: the topic the paced consumer reads, so ``poke(topic)`` reaches it."""
        pace = cls(settings.broker_fetch_max_wait, settings.broker_fetch_max_wait_idle,
                   settings.broker_fetch_idle_after, nap=settings.embedded_broker)
        if topic is not None:
            _LISTENING.setdefault(topic, weakref.WeakSet()).add(pace)
        return pace

    @property
    def wait_ms(self) -> int:
        return self.idle_ms if self.idle and not self.nap else self.busy_ms

    def attach(self, consumer: Any) -> None:
        """Pace ``consumer`` (an ``AIOKafkaConsumer``, started or not) from now on."""
        self._consumers.append(consumer)
        _set_fetch_wait(consumer, self.wait_ms)

    def started(self, consumer: Any) -> None:
        """After ``consumer.start()``, in its event loop: with ``nap``, nap between idle empty fetches."""
        if not self.nap:
            return
        fetcher = consumer._fetcher
        fetch = fetcher._proc_fetch_request  # (assignment, node_id, request) -> True when records came
        woken = asyncio.Event()
        self._wakers.append((asyncio.get_running_loop(), woken))

        async def fetch_then_nap(assignment: Any, node_id: int, request: Any) -> bool:
            got = bool(await fetch(assignment, node_id, request))
            if not got and self.idle:
                woken.clear()  # no await since the check: a poke from now on ends the nap
                try:
                    await asyncio.wait_for(woken.wait(), self.idle_ms / 1000)
                except TimeoutError:
                    pass
                except asyncio.CancelledError:  # stop or unassignment: aiokafka awaits this task after
                    return False  # cancelling it and expects no error (as its own fetch does)
            return got

        fetcher._proc_fetch_request = fetch_then_nap

    def records(self, n: int) -> None:
        now = time.monotonic()
        if n:
            self._last = now
            if self.idle:
                self._switch(False)
        elif not self.idle and now - self._last >= self.idle_after:
            self._switch(True)

    def wake(self) -> None:
        """Records are on their way (sent by this process): busy wait, and end any nap now."""
        self._last = time.monotonic()
        if self.idle:
            self._switch(False)
        for loop, woken in self._wakers:
            with contextlib.suppress(RuntimeError):  # that consumer's loop is closed: nothing to wake
                loop.call_soon_threadsafe(woken.set)

    def until_idle(self) -> float | None:
        """Seconds until ``records(0)`` would switch to the idle wait (None: idle already)."""
        return None if self.idle else max(0.0, self.idle_after - (time.monotonic() - self._last))

    def _switch(self, idle: bool) -> None:
        self.idle = idle
        for c in self._consumers:
            _set_fetch_wait(c, self.wait_ms)


#: paces by the topic their consumer reads, for ``poke`` (weak: a stopped consumer's pace goes away)
_LISTENING: dict[str, weakref.WeakSet[FetchPace]] = {}


def poke(topic: str) -> None:
    """This process just sent records to ``topic``: wake its consumers of ``topic`` (``FetchPace``)."""
    for pace in list(_LISTENING.get(topic, ())):
        pace.wake()


def _set_fetch_wait(consumer: Any, ms: int) -> None:
    consumer._fetch_max_wait_ms = ms  # read when the consumer starts and builds its fetcher
    fetcher = getattr(consumer, "_fetcher", None)
    if fetcher is not None:
        fetcher._fetch_max_wait_ms = ms  # read for every fetch request
