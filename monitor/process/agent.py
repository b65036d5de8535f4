"""The processor agent: thin glue between the ``articles`` topic and ``monitor.process.core``.

It takes events in batches (``take_batches``): it waits for one event without polling, then takes the
events already waiting, up to ``worker_batch`` (and waits up to ``worker_batch_within`` seconds for
more when that is above 0), so a lone article is processed at once and a backlog goes in full batches.
Events are acknowledged only after their batch is processed and its sends are buffered. It hands the
records to ``Processor.process_batch`` and sends what comes back: alerts to ``alerts`` (key: alert
id), bad records to ``dead-letter``. Sends are buffered, not awaited one by one for their broker ack; faust
flushes the producer before it commits offsets (``at_least_once``), so nothing is committed before the
alerts it produced are acknowledged. ``concurrency=1`` (faust-streaming #606).

A timer polls the rules folder (``RuleWatcher``) and swaps in a valid new rule set without a restart;
an invalid change is logged and the running set stays.

The heap alive when the agent starts (the compiled rule set above all) is frozen out of the garbage
collector's reach (``monitor.heap.settle_heap``): otherwise every full collection walks it, a pause of
0.1-0.4 s on a loaded machine a few times a minute of steady traffic, which stalls every article in
flight (it was the largest single cause of the tail in bench/latency.py). A rules reload unfreezes,
collects and freezes again, so the replaced rule set is freed.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from monitor.broker import FetchPace, poke
from monitor.heap import settle_heap
from monitor.metrics import METRICS, Metrics
from monitor.process.core import Processed, Processor, Record
from monitor.process.faust_app import MonitorApp, Topics
from monitor.retry import until_done
from monitor.settings import Settings

log = logging.getLogger(__name__)


async def _process_with_retry(processor: Processor, records: list[Record]) -> list[Processed]:
    """Process a batch; while Redis (or another dependency) is down, wait and try the whole batch again
    (``monitor.retry.until_done``: backoff with jitter, one warning per ten attempts).

    Nothing is acknowledged meanwhile, so no record is lost or dead-lettered for an outage; records
    processed before the failure are processed again, which yields the same alert ids.
    """
    return await until_done(lambda: asyncio.to_thread(processor.process_batch, records), what="processing",
                            logger=log)


async def take_batches(
    stream: Any, max_: int, within: float, pace: FetchPace | None = None
) -> AsyncIterator[list[Any]]:
    """Batches of a faust stream's events, acknowledged after the caller is done with each batch.

    A pump task iterates the stream (acks off) into a queue of ``max_``; this generator waits for the
    first event (no timer while idle, except one to tell ``pace`` it went idle), adds the ones already
    queued and, when ``within`` > 0, those arriving within that many seconds, up to ``max_``. An error
    of the stream surfaces here; closing the generator stops the pump, leaving unprocessed events
    unacknowledged (they come again).
    """
    queue: asyncio.Queue[Any] = asyncio.Queue(maxsize=max_)
    stream.enable_acks = False  # acked below, once the batch is done: at-least-once

    async def pump() -> None:
        async for event in stream.events():
            await queue.put(event)

    pumping = asyncio.create_task(pump(), name="monitor.process.pump")
    try:
        while True:
            first = await _next_event(queue, pumping, pace=pace)
            if first is _END:
                return
            batch = [first]
            while len(batch) < max_ and not queue.empty():
                batch.append(queue.get_nowait())
            if within > 0:
                deadline = time.monotonic() + within
                while len(batch) < max_ and deadline > time.monotonic():
                    more = await _next_event(queue, pumping, deadline=deadline)
                    if more is _TIMEOUT or more is _END:
                        break
                    batch.append(more)
            if pace is not None:
                pace.records(len(batch))
            yield batch
            for event in batch:
                await stream.ack(event)
    finally:
        pumping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pumping


_END, _TIMEOUT = object(), object()


async def _next_event(
    queue: asyncio.Queue[Any], pumping: asyncio.Task[None], *, deadline: float | None = None,
    pace: FetchPace | None = None,
) -> Any:
    """The next queued event; ``_END`` when the stream ended; ``_TIMEOUT`` at ``deadline`` (monotonic).
    With ``pace`` (and no deadline): when it would go idle, tell it nothing came, and keep waiting."""
    while True:
        if not queue.empty():
            return queue.get_nowait()
        if deadline is not None:
            timeout: float | None = max(0.0, deadline - time.monotonic())
        else:
            timeout = None if pace is None else pace.until_idle()
        getter = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait({getter, pumping}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()  # a cancelled get leaves its item in the queue
        if pumping in done:
            pumping.result()  # the stream's error, if it failed
            return _END
        if pace is None:
            return _TIMEOUT
        pace.records(0)


def install_processor(
    app: MonitorApp,
    topics: Topics,
    processor: Processor,
    settings: Settings,
    *,
    watcher: Any | None = None,
    metrics: Metrics = METRICS,
    on_reload: Callable[[Any], None] | None = None,
    journal: Any | None = None,
) -> None:
    """Register the processing agent (and the rules reload timer) on ``app``.

    ``journal`` (``monitor.journal.Journal``, embedded broker only) is told each article's alert ids
    before they are sent, so it holds the article until the alerter has made them durable.
    """

    @app.agent(topics.articles, concurrency=1, name="monitor.process")
    async def process(stream: Any) -> None:
        settle_heap()  # the rule set is loaded: keep it out of full collections
        async for events in take_batches(stream, settings.worker_batch, settings.worker_batch_within,
                                         app.fetch_pace):
            records = [
                Record(e.message.topic, e.message.partition, e.message.offset, e.message.key, e.message.value)
                for e in events
            ]
            # matching and clustering are CPU-bound and synchronous: off the event loop, so heartbeats,
            # fetches and the HTTP API stay responsive
            outcomes = await _process_with_retry(processor, records)
            if journal is not None:
                done = [(r.key.decode("utf-8", "replace"), [a.id for a in o.alerts])
                        for r, o in zip(records, outcomes, strict=True) if r.key]
                await until_done(functools.partial(journal.processed, done), what="journal (processed)")
            for msg, outcome in zip((e.message for e in events), outcomes, strict=True):
                if outcome.dead is not None:
                    await topics.dead_letter.send(key=msg.key, value=outcome.dead.to_json())
                for alert in outcome.alerts:
                    await topics.alerts.send(key=alert.id.encode(), value=alert.to_json())
            if any(o.alerts for o in outcomes):
                poke(settings.topic_alerts)  # an alerter in this process fetches them now

    if watcher is not None and settings.rules_reload:

        @app.timer(settings.rules_reload_interval, name="monitor.rules_reload")
        async def reload_rules() -> None:
            # loading a large rule set takes a while: keep the event loop (and heartbeats) free
            new = await asyncio.to_thread(watcher.poll)
            if new is not None:
                processor.set_rules(new)
                settle_heap()  # free the replaced rule set, freeze the new one
                metrics.rules_reloads.labels("ok").inc()
                metrics.rules_loaded.set(sum(1 for r in new.rules if r.enabled))
                log.info("rules reloaded: %d rules", len(new.rules))
                if on_reload is not None:
                    on_reload(new)
