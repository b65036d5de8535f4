"""One process's components, started and stopped in order. Wiring only.

``Components`` names what this process runs: ``poller``, ``worker`` (the processor), ``alerter``
and ``api``; ``monitor run`` runs all four, the production entry points one each. ``MonitorService``
(a ``mode.Service``, run by ``mode.Worker``, which turns SIGTERM/SIGINT into a stop) opens the shared
connections (Redis, a Kafka producer), starts the components as tasks, and on stop shuts them down in
reverse start order: the poller stops fetching first, the processor (``monitor.process.loop``) finishes
its batch and commits, then the alerter does the same, the API closes last. The processor's rules
reload is a task of its own (``rules``).
Once started, the heap alive then (modules, the rule set) is frozen out of the garbage collector's
reach (``monitor.heap.settle_heap``), so later full collections do not walk it: each was a
stop-the-world pause of tens to hundreds of milliseconds on a loaded machine, a cause of the latency tail (issue 14).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import mode
import redis.asyncio as aioredis
from aiohttp import web

from monitor.alerting.recent import RecentAlerts
from monitor.api.app import ApiDeps, make_app
from monitor.broker import make_producer
from monitor.cli.console import Console
from monitor.heap import settle_heap
from monitor.metrics import METRICS
from monitor.settings import Settings

if TYPE_CHECKING:
    from monitor.process.core import Processor
    from monitor.rules import RuleWatcher

log = logging.getLogger(__name__)


async def connect_redis(settings: Settings) -> aioredis.Redis:
    r = aioredis.Redis.from_url(settings.redis, decode_responses=False, health_check_interval=30)
    await r.ping()
    if settings.redis_check_durability:
        policy = (await r.config_get("maxmemory-policy")).get("maxmemory-policy", "noeviction")
        if policy not in ("noeviction", b"noeviction"):
            await r.aclose()
            from monitor.alerting.service import RedisNotDurable  # the one class (a heavy import: only here)

            raise RedisNotDurable(
                f"Redis maxmemory-policy is {policy!r}: monitor needs 'noeviction' (set "
                "MONITOR_REDIS_CHECK_DURABILITY=false to run anyway)"
            )
    return r


@dataclass
class Components:
    poller: bool = False
    worker: bool = False
    alerter: bool = False
    api: bool = False
    lag: bool = False  # sample consumer lag into metrics (the process serving the full API does it)
    archiver: bool = False  # write the article archive (monitor.archive); off when MONITOR_ARCHIVE=false

    def names(self) -> list[str]:
        return [n for n in ("poller", "worker", "alerter", "archiver", "api") if getattr(self, n)]


@dataclass
class Handles:
    """What components created, for the console summary and tests."""

    redis: aioredis.Redis | None = None
    producer: Any = None
    api_url: str | None = None
    feeds: int = 0
    journal: Any = None  # monitor.journal.Journal: the embedded broker's article journal, else None
    archive: Any = None  # monitor.archive.Archive, for the archiver and the full API
    tasks: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    stoppers: list[tuple[str, Callable[[], Awaitable[None]]]] = field(default_factory=list)


class MonitorService(mode.Service):
    """Poller, processor, alerter and API of one process.

    ``processor`` (a ``monitor.process.core.Processor``) and ``watcher`` (a ``RuleWatcher``, or None for
    no reloads) are needed when ``components.worker`` is on."""

    def __init__(
        self, settings: Settings, components: Components, console: Console, *, rules_count: int = 0,
        ready_checks: dict[str, Callable[[], Awaitable[bool]]] | None = None, journal: Any = None,
        processor: Processor | None = None, watcher: RuleWatcher | None = None, **kwargs: Any,
    ) -> None:
        self.settings = settings
        self.processor = processor
        self.watcher = watcher
        self.components = components
        self.console = console
        self.rules_count = rules_count
        self.h = Handles(journal=journal)
        self.extra_ready = ready_checks or {}
        self._checks: dict[str, Callable[[], Awaitable[bool]]] = {}
        self._dead: dict[str, str] = {}  # components that stopped unexpectedly -> why
        self._stopping = False
        self._gauge_stop = asyncio.Event()
        self.started_event = asyncio.Event()
        super().__init__(**kwargs)

    async def on_start(self) -> None:
        s = self.settings
        METRICS.initialise(articles_topic=s.topic_articles, alerts_topic=s.topic_alerts)
        self.h.redis = await connect_redis(s)
        if self.components.poller or self.components.alerter:
            self.h.producer = await make_producer(s, client_id="monitor-" + "-".join(self.components.names()))
        recent = RecentAlerts(self.h.redis, limit=s.alerts_recent)
        if self.h.journal is not None and self.h.producer is not None:
            await self._republish()
        if self.h.journal is not None:
            self.h.tasks["journal"] = asyncio.create_task(self._journal_gauge(), name="journal")
            self.h.stoppers.append(("journal", self._stopper("journal", self._stop_journal_gauge)))
        await self._open_archive()
        if self.components.api:
            await self._start_api(recent)
        if self.components.lag:
            from monitor.lag import LagSampler

            sampler = LagSampler(s)
            self.h.tasks["lag"] = asyncio.create_task(sampler.run(), name="lag")
            self.h.stoppers.append(("lag", self._stopper("lag", sampler.stop)))
        if self.components.alerter:
            await self._start_alerter(recent)
        if self.components.worker:
            await self._start_worker()
        if self.components.poller:
            await self._start_poller()
        for name in self.components.names():
            METRICS.up.labels(name).set(1)
        self._watch()
        self.console.started(self.settings, self.h, self.components, self.rules_count)
        settle_heap()
        self.started_event.set()

    async def _start_api(self, recent: RecentAlerts) -> None:
        s = self.settings
        assert self.h.redis is not None
        redis = self.h.redis

        async def redis_ready() -> bool:
            return bool(await redis.ping())

        checks = self._checks
        checks.update({"redis": redis_ready, **self.extra_ready})
        extra = {"producer": self.h.producer} if self.h.producer is not None else {}  # backfill sends with it
        app = make_app(ApiDeps(settings=s, redis=redis, recent=recent, ready_checks=checks, extra=extra,
                               archive=self.h.archive))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, s.http_host, s.http_port)
        await site.start()
        port = runner.addresses[0][1]
        host = "127.0.0.1" if s.http_host in ("0.0.0.0", "::", "") else s.http_host
        self.h.api_url = f"http://{host}:{port}"
        self.h.stoppers.append(("api", runner.cleanup))

    async def _open_archive(self) -> None:
        """The archive, for the archiver and for the process serving the full API (``lag``)."""
        s = self.settings
        if not s.archive or not (self.components.archiver or self.components.lag):
            return
        from monitor.archive import open_archive

        try:
            self.h.archive = await open_archive(s)
        except Exception:
            if self.components.archiver:
                raise
            log.exception("the archive is unavailable; /api/v1/articles answers 503 until a restart")
            return
        self.h.stoppers.insert(0, ("archive", self.h.archive.close))  # closed last
        if self.components.archiver:
            from monitor.archive.writer import ArchiveWriter

            writer = ArchiveWriter(s, self.h.archive, journal=self.h.journal)
            self.h.tasks["archiver"] = asyncio.create_task(writer.run(), name="archiver")
            self.h.stoppers.append(("archiver", self._stopper("archiver", writer.stop)))

    async def _start_alerter(self, recent: RecentAlerts) -> None:
        from monitor.alerting.consumer import AlertConsumer
        from monitor.alerting.service import AlertService

        assert self.h.redis is not None  # opened first in on_start
        service = AlertService(self.settings, redis=self.h.redis, metrics=METRICS)
        consumer = AlertConsumer(
            self.settings, recent=recent, producer=self.h.producer, handler=service.handle,
            on_alert=self.console.alert, journal=self.h.journal,
        )
        self.h.tasks["alerter"] = asyncio.create_task(consumer.run(), name="alerter")
        self.h.stoppers.append(("alerter", self._stopper("alerter", consumer.stop)))
        self.h.tasks["dispatcher"] = asyncio.create_task(service.run(), name="dispatcher")
        self.h.stoppers.append(("dispatcher", self._stopper("dispatcher", service.stop)))

    async def _start_worker(self) -> None:
        from monitor.process.loop import ProcessLoop

        if self.processor is None:
            raise ValueError("the worker component needs a processor (MonitorService(processor=...))")
        loop = ProcessLoop(self.settings, self.processor, journal=self.h.journal, watcher=self.watcher)
        self.h.tasks["worker"] = asyncio.create_task(loop.run(), name="worker")
        if self.watcher is not None and self.settings.rules_reload:
            self.h.tasks["rules"] = asyncio.create_task(loop.reload_rules(), name="rules")
            self.h.stoppers.append(("rules", self._stopper("rules", loop.stop)))
        self.h.stoppers.append(("worker", self._stopper("worker", loop.stop)))

    async def _start_poller(self) -> None:
        from monitor.ingest.feeds import load_feeds
        from monitor.ingest.poller import Poller

        variables = {"MONITOR_API": self.h.api_url or f"http://127.0.0.1:{self.settings.http_port}"}
        feeds = load_feeds(self.settings.feeds, variables)
        self.h.feeds = sum(1 for f in feeds if getattr(f, "enabled", True))
        assert self.h.redis is not None  # opened first in on_start
        poller = Poller(self.settings, feeds, redis=self.h.redis, producer=self.h.producer, metrics=METRICS)
        poller.journal = self.h.journal
        if self.console.verbose:
            poller.on_article = self.console.article
        self.h.tasks["poller"] = asyncio.create_task(poller.run(), name="poller")
        self.h.stoppers.append(("poller", self._stopper("poller", poller.stop)))

    def _stopper(self, name: str, stop: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        async def _stop() -> None:
            await stop()
            task = self.h.tasks.get(name)
            if task is not None:
                try:
                    await asyncio.wait_for(task, 10.0)
                except TimeoutError:
                    log.warning("%s did not stop within 10s; cancelling", name)
                except Exception:
                    log.exception("%s failed", name)

        return _stop

    crash_reason: str | None = None  # type: ignore[assignment]  # mode.Service's is an exception; a text here

    async def _republish(self) -> None:
        """Embedded broker: articles the journal still holds go back into the (empty) articles topic."""
        from monitor.journal import broker_is_empty

        s = self.settings
        if not await broker_is_empty(s.kafka_servers, s.topic_articles):
            log.info("articles topic is not empty: journal not republished")
            return
        n = await self.h.journal.republish(self.h.producer, s.topic_articles)
        if n:
            self.console.error(f"recovered {n} article(s) not finished before the last stop")

    async def _journal_gauge(self) -> None:
        """``monitor_journal_articles`` every 5 s: a journal that only grows means a stage stopped acknowledging."""
        while not self._gauge_stop.is_set():
            try:
                METRICS.journal_articles.set(await self.h.journal.size())
            except Exception as exc:  # Redis away for a moment: the next round tries again
                log.debug("journal size unavailable: %r", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gauge_stop.wait(), 5.0)

    async def _stop_journal_gauge(self) -> None:
        self._gauge_stop.set()

    def _watch(self) -> None:
        """Every component task reports its own end: a task that stops while the process is not stopping
        fails ``/readyz`` (check ``task:<name>``), is logged by name, and takes the process down (exit 1)."""
        for name, task in self.h.tasks.items():
            task.add_done_callback(functools.partial(self._task_done, name))
            self._checks[f"task:{name}"] = functools.partial(self._task_alive, name)

    async def _task_alive(self, name: str) -> bool:
        return name not in self._dead

    def _task_done(self, name: str, task: asyncio.Task[None]) -> None:
        if self._stopping or self.should_stop:
            return
        exc = task.exception() if not task.cancelled() else None
        why = repr(exc) if exc is not None else ("cancelled" if task.cancelled() else "returned")
        self._dead[name] = why
        if self.crash_reason is None:
            self.crash_reason = f"{name}: {why}"
        log.error("component %s stopped unexpectedly: %s", name, why, exc_info=exc)
        self.console.error(f"component {name} stopped unexpectedly: {why}")
        if name in self.components.names():
            METRICS.up.labels(name).set(0)
        root = self.beacon.root.data if self.beacon.root is not None else None
        if root is not None and hasattr(root, "_schedule_shutdown"):
            root._schedule_shutdown(signal.SIGTERM)

    async def on_stop(self) -> None:
        self._stopping = True
        for name, stop in reversed(self.h.stoppers):
            try:
                await stop()
            except Exception:
                log.exception("stopping %s failed", name)
        self.h.stoppers.clear()
        if self.h.producer is not None:
            with contextlib.suppress(Exception):
                await self.h.producer.stop()
        if self.h.redis is not None:
            with contextlib.suppress(Exception):
                await self.h.redis.aclose()
        for name in self.components.names():
            METRICS.up.labels(name).set(0)
        self.console.stopped()
