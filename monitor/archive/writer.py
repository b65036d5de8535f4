"""The archiver: ``articles`` and ``alerts`` in, the archive written, offsets committed after.

Its own consumer group (``Settings.archive_group``), so the alert path never waits for it: the
processor and the alerter read the same topics at their own pace. Per batch:

1. decode ``articles`` records into ``Article`` (a record that does not decode is skipped and counted:
   the processor already dead-letters it) and ``alerts`` records into ``Note``s (article id, copy group,
   event id);
2. analyse the articles off the event loop (``analyse_for_archive``: the stream's own rule engine, with
   the rules folder reloaded when it changes);
3. write articles and notes (idempotent on article id: a redelivered batch changes nothing);
4. commit the offsets, then acknowledge the articles' ``archive`` stage in the article journal when one
   is given (``monitor.journal``: the embedded default keeps an article until every stage has it).

If step 2 or 3 raises (the database down), nothing is committed: the consumer seeks back to the batch
and retries after a pause, so no article is lost. Retention: every ``archive_prune_interval`` seconds
articles archived more than ``archive_days`` ago are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import orjson
from aiokafka.structs import ConsumerRecord

from monitor.archive.model import ArchivedArticle
from monitor.archive.record import analyse_for_archive
from monitor.archive.store import Archive, Note
from monitor.broker import make_consumer
from monitor.metrics import METRICS, Metrics
from monitor.models import Alert, Article, utcnow
from monitor.process.core import decode_article
from monitor.rules import RuleSet, RulesInvalid, RuleWatcher, load_rules
from monitor.settings import Settings

log = logging.getLogger(__name__)

#: seconds the archiver's fetches may wait: it is not on the alert path (an archived article shows a few
#: seconds later at most); the embedded broker re-reads its log a few times within the wait
ARCHIVE_FETCH_WAIT = 4.0


def note_of(value: bytes | None) -> Note | None:
    try:
        alert = Alert.model_validate(orjson.loads(value or b""))
    except Exception:  # a bad alert record is the alerter's to dead-letter; the archive just skips it
        return None
    return Note(alert.article.id, alert.event_id, alert.copy_group)


def load_rules_or_none(settings: Settings) -> RuleSet | None:
    try:
        return load_rules(settings.rules, learned=settings.learned)
    except RulesInvalid as exc:
        log.error("archiver: the rules folder has errors; archiving without matches until it is fixed: %s",
                  "; ".join(str(e) for e in exc.errors[:5]))
        return None


class ArchiveWriter:
    def __init__(
        self, settings: Settings, archive: Archive, *, rules: RuleSet | None = None, journal: Any = None,
        metrics: Metrics = METRICS,
    ) -> None:
        self.settings = settings
        self.archive = archive
        self.rules = rules
        self.journal = journal
        self.metrics = metrics
        self.watcher = RuleWatcher(settings.rules, learned=settings.learned) if settings.rules_reload else None
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self._last_reload = time.monotonic()
        self._last_prune = 0.0

    async def run(self) -> None:
        s = self.settings
        if self.rules is None:
            self.rules = await asyncio.to_thread(load_rules_or_none, s)
        # the archive is not on the alert path: its fetches wait long (few requests while idle)
        consumer = make_consumer(s, s.topic_articles, s.topic_alerts, group_id=s.archive_group,
                                 fetch_wait=max(ARCHIVE_FETCH_WAIT, s.broker_fetch_max_wait_idle),
                                 max_poll_records=s.archive_batch)
        await consumer.start()
        self.ready.set()
        try:
            while not self._stopping.is_set():
                await self._housekeeping()
                batch = await consumer.getmany(timeout_ms=1000, max_records=s.archive_batch)
                if not batch:
                    continue
                try:
                    ids = await self.write([r for records in batch.values() for r in records])
                except Exception:
                    log.exception("archive batch failed; not committed, retrying")
                    for tp, records in batch.items():
                        consumer.seek(tp, records[0].offset)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stopping.wait(), 1.0)
                    continue
                await consumer.commit()
                if self.journal is not None and ids:
                    await self.journal.ack("archive", ids)
        finally:
            await consumer.stop()

    async def write(self, records: Sequence[ConsumerRecord]) -> list[str]:
        """Archive one batch of records (either topic); the article ids written or already there."""
        articles: list[Article] = []
        notes: list[Note] = []
        for rec in records:
            if rec.topic == self.settings.topic_alerts:
                note = note_of(rec.value)
                if note is not None:
                    notes.append(note)
                continue
            try:
                articles.append(decode_article(rec.value))
            except ValueError:
                self.metrics.archive_articles.labels("invalid").inc()
        if articles:
            rules = self.rules
            items = await asyncio.to_thread(lambda: [self._analyse(a, rules) for a in articles])
            added = await self.archive.put(items)
            self.metrics.archive_articles.labels("stored").inc(added)
            self.metrics.archive_articles.labels("repeat").inc(len(items) - added)
        if notes:
            await self.archive.annotate(notes)
        return [a.id for a in articles]

    def _analyse(self, article: Article, rules: RuleSet | None) -> ArchivedArticle:
        """The stream's analysis; an article the engine fails on is kept without matches (it must not
        hold the archiver in a retry loop: the processor dead-letters it, the archive still has it)."""
        try:
            return analyse_for_archive(article, rules)
        except Exception:
            log.exception("archiver: analysis failed; archived without matches", extra={"article_id": article.id})
            self.metrics.archive_articles.labels("unanalysed").inc()
            return analyse_for_archive(article, None)

    async def _housekeeping(self) -> None:
        now = time.monotonic()
        if self.watcher is not None and now - self._last_reload >= self.settings.rules_reload_interval:
            self._last_reload = now
            new = await asyncio.to_thread(self.watcher.poll)
            if new is not None:
                self.rules = new
        if now - self._last_prune >= self.settings.archive_prune_interval:
            self._last_prune = now
            try:
                n = await self.archive.prune(utcnow() - timedelta(days=self.settings.archive_days))
            except Exception:
                log.exception("archive prune failed; retrying at the next interval")
            else:
                self.metrics.archive_pruned.inc(n)

    async def stop(self) -> None:
        self._stopping.set()
