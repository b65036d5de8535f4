"""The processor agent: thin glue between the ``articles`` topic and ``monitor.process.core``.

It takes events in small batches (``worker_batch`` within ``worker_batch_within`` seconds), hands each
record to ``Processor.process`` and sends what comes back: alerts to ``alerts`` (key: alert id), bad
records to ``dead-letter``. Sends are buffered, not awaited one by one for their broker ack; faust
flushes the producer before it commits offsets (``at_least_once``), so nothing is committed before the
alerts it produced are acknowledged. ``concurrency=1`` (faust-streaming #606).

A timer polls the rules folder (``RuleWatcher``) and swaps in a valid new rule set without a restart;
an invalid change is logged and the running set stays.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

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
        async for events in stream.take_events(settings.worker_batch, within=settings.worker_batch_within):
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

    if watcher is not None and settings.rules_reload:

        @app.timer(settings.rules_reload_interval, name="monitor.rules_reload")
        async def reload_rules() -> None:
            # loading a large rule set takes a while: keep the event loop (and heartbeats) free
            new = await asyncio.to_thread(watcher.poll)
            if new is not None:
                processor.set_rules(new)
                metrics.rules_reloads.labels("ok").inc()
                metrics.rules_loaded.set(sum(1 for r in new.rules if r.enabled))
                log.info("rules reloaded: %d rules", len(new.rules))
                if on_reload is not None:
                    on_reload(new)
