"""The processor's consume loop (``monitor.process.loop``) on the real embedded broker.

Two loops in one group share the partitions and together produce every alert across rebalances (a join,
a leave, and a revocation that has to drop a batch still in hand); ``stop()`` finishes the batch in hand
and commits it; a rules change is picked up while running (an invalid one is refused and the running
set stays); a poison record goes to ``dead-letter`` and the stream carries on; ``worker_batch_within``
gathers records that arrive after a batch's first one, and without it a lone record is taken at once. The core runs the real
rules of ``tests/spine/rules`` with the one-alert-per-match policy (no event state), so each article that
matches yields exactly one alert id. Every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from prometheus_client import CollectorRegistry

from monitor.broker import ensure_topics, make_producer
from monitor.metrics import Metrics
from monitor.models import Article
from monitor.process.core import Processed, Processor, Record
from monitor.process.loop import ProcessLoop
from monitor.rules import RuleWatcher, load_rules
from monitor.settings import Settings
from tests.helpers import ROOT

pytestmark = pytest.mark.integration
RULES = ROOT / "tests" / "spine" / "rules"


def settings_for(kafka_bootstrap: str, redis_url: str, unique: str, **kw: object) -> Settings:
    return Settings(
        kafka_bootstrap=kafka_bootstrap, redis_url=redis_url, kafka_idempotence=False,
        topic_articles=f"art-{unique}", topic_alerts=f"al-{unique}", topic_dead_letter=f"dl-{unique}",
        app_id=f"proc-{unique}", **{"worker_batch": 20, **kw},
    )


def article(n: int, word: str = "round") -> bytes:
    return Article(id=f"a{n}", title=f"{word} {n}", source="wire").to_json()


async def produce(s: Settings, values: Sequence[bytes], *, partition: int | None = None) -> None:
    p = AIOKafkaProducer(bootstrap_servers=s.kafka_servers, acks="all")
    await p.start()
    try:
        for i, v in enumerate(values):
            await p.send(s.topic_articles, v, key=f"k{i}".encode(), partition=partition)
        await p.flush()
    finally:
        await p.stop()


class Topic:
    """A reader of a whole topic from the start, polled until a condition holds."""

    def __init__(self, s: Settings, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(topic, bootstrap_servers=s.kafka_servers, group_id=None,
                                         auto_offset_reset="earliest", enable_auto_commit=False)
        self.values: list[bytes] = []

    async def __aenter__(self) -> Topic:
        await self.consumer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.consumer.stop()

    async def until(self, want: Callable[[list[bytes]], bool], timeout: float, what: str) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while not want(self.values):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; {len(self.values)} records so far")
            batch = await self.consumer.getmany(timeout_ms=300)
            for records in batch.values():
                self.values.extend(r.value for r in records)
        return self.values


def alert_articles(values: list[bytes]) -> list[str]:
    return [orjson.loads(v)["article"]["id"] for v in values]


async def until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def committed_total(s: Settings) -> int:
    c = AIOKafkaConsumer(bootstrap_servers=s.kafka_servers, group_id=s.app_id, enable_auto_commit=False)
    await c.start()
    try:
        return sum([(await c.committed(TopicPartition(s.topic_articles, p))) or 0
                    for p in range(s.topic_partitions)])
    finally:
        await c.stop()


class Started:
    """A ProcessLoop running as a task, with its own producer."""

    def __init__(self, s: Settings, processor: Processor, *, metrics: Metrics | None = None, **kw: object) -> None:
        self.s, self.processor, self.kw = s, processor, kw
        self.metrics = metrics or Metrics(registry=CollectorRegistry())

    async def __aenter__(self) -> Started:
        self.producer = await make_producer(self.s)
        self.loop = ProcessLoop(self.s, self.processor, producer=self.producer, metrics=self.metrics,
                                **self.kw)  # type: ignore[arg-type]
        self.task = asyncio.create_task(self.loop.run())
        await asyncio.wait_for(self.loop.ready.wait(), 30)
        return self

    async def stop(self) -> None:
        await self.loop.stop()
        await asyncio.wait_for(self.task, 30)

    async def __aexit__(self, *exc: object) -> None:
        if not self.task.done():
            await self.stop()
        await self.producer.stop()


def processor(metrics: Metrics | None = None) -> Processor:
    return Processor(load_rules(RULES), metrics=metrics or Metrics(registry=CollectorRegistry()))


class Gated(Processor):
    """The real processor, held at the gate until the test opens it (to catch a batch in hand)."""

    def __init__(self) -> None:
        super().__init__(load_rules(RULES), metrics=Metrics(registry=CollectorRegistry()))
        self.gate = threading.Event()
        self.waiting = threading.Event()

    def process_batch(self, records: Sequence[Record]) -> list[Processed]:
        self.waiting.set()
        assert self.gate.wait(60), "the test never opened the gate"
        return super().process_batch(records)


async def test_two_loops_share_the_partitions_and_produce_every_alert_across_rebalances(
        kafka_bootstrap, redis_db_url, unique):
    s = settings_for(kafka_bootstrap, redis_db_url, unique)
    await ensure_topics(s)
    async with Topic(s, s.topic_alerts) as alerts, Started(s, processor()) as a:
        await produce(s, [article(n) for n in range(0, 200)])
        await alerts.until(lambda v: len(set(alert_articles(v))) >= 200, 60, "the first 200 alerts")
        async with Started(s, processor()) as b:  # joins: the group rebalances
            await until(lambda: bool(b.loop.assigned) and bool(a.loop.assigned)
                        and not (a.loop.assigned & b.loop.assigned), 60, "both loops own partitions")
            assert len(a.loop.assigned | b.loop.assigned) == s.topic_partitions
            await produce(s, [article(n) for n in range(200, 400)])
            await alerts.until(lambda v: len(set(alert_articles(v))) >= 400, 60, "alerts 200-399")
            assert b.loop.records_handled > 0  # the second loop really took part
            await a.stop()  # leaves: the other loop takes every partition
            await until(lambda: len(b.loop.assigned) == s.topic_partitions, 60, "b owns every partition")
            await produce(s, [article(n) for n in range(400, 600)])
            values = await alerts.until(lambda v: len(set(alert_articles(v))) >= 600, 60, "alerts 400-599")
            await b.stop()
    assert set(alert_articles(values)) == {f"a{n}" for n in range(600)}
    assert await committed_total(s) == 600  # every article committed, by one loop or the other


async def test_a_batch_in_hand_at_a_revocation_comes_again_to_the_new_owner(
        kafka_bootstrap, redis_db_url, unique, caplog):
    """The revocation waits ``revoke_wait`` for the batch in hand, then lets the rebalance go on; the
    new owner processes the records again (same alert ids), the late commit is refused and logged."""
    caplog.set_level(logging.WARNING, logger="monitor.process.loop")
    s = settings_for(kafka_bootstrap, redis_db_url, unique, worker_batch=200)
    await ensure_topics(s)
    gated = Gated()
    async with Topic(s, s.topic_alerts) as alerts, Started(s, gated, revoke_wait=0.2) as a:
        await produce(s, [article(n) for n in range(100)])
        assert await asyncio.to_thread(gated.waiting.wait, 30), "the first loop never took a batch"
        async with Started(s, processor()) as b:
            await until(lambda: bool(b.loop.assigned), 60, "the second loop owns partitions")
            # b processes what a still holds (a's commit has not happened)
            await alerts.until(lambda v: bool(set(alert_articles(v)) & {f"a{n}" for n in range(100)}), 60,
                               "the new owner's alerts")
            gated.gate.set()
            values = await alerts.until(lambda v: len(set(alert_articles(v))) >= 100, 60, "every alert")
            await until(lambda: a.loop.records_handled > 0, 30, "the first loop's batch done")
            await b.stop()
            await a.stop()
    ids = [orjson.loads(v)["id"] for v in values]
    by_article: dict[str, set[str]] = {}
    for v in values:
        doc = orjson.loads(v)
        by_article.setdefault(doc["article"]["id"], set()).add(doc["id"])
    assert set(by_article) == {f"a{n}" for n in range(100)}
    assert all(len(i) == 1 for i in by_article.values())  # a record processed twice: the same alert id
    assert len(ids) > len(set(ids))  # and it was processed twice
    assert any("not committed" in r.getMessage() or "still in hand" in r.getMessage() for r in caplog.records)


async def test_stop_finishes_the_batch_in_hand_and_commits_it(kafka_bootstrap, redis_db_url, unique):
    s = settings_for(kafka_bootstrap, redis_db_url, unique, worker_batch=50)
    await ensure_topics(s)
    gated = Gated()
    async with Topic(s, s.topic_alerts) as alerts, Started(s, gated) as a:
        await produce(s, [article(n) for n in range(30)], partition=0)
        assert await asyncio.to_thread(gated.waiting.wait, 30), "the loop never took a batch"
        await a.loop.stop()  # asked to stop while the batch is in hand
        assert not a.task.done()
        gated.gate.set()
        await asyncio.wait_for(a.task, 30)
        handled = a.loop.records_handled
        values = await alerts.until(lambda v: len(v) >= handled, 30, "the batch's alerts")
    assert handled > 0
    assert set(alert_articles(values)) == {f"a{n}" for n in range(handled)}
    assert await committed_total(s) == handled


async def test_a_rules_change_is_picked_up_while_running(kafka_bootstrap, redis_db_url, unique, tmp_path: Path):
    s = settings_for(kafka_bootstrap, redis_db_url, unique, rules_reload_interval=0.1)
    await ensure_topics(s)
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    errors: list[Exception] = []
    metrics = Metrics(registry=CollectorRegistry())
    proc = Processor(load_rules(rules), metrics=metrics)
    watcher = RuleWatcher(rules, on_error=errors.append)
    async with Topic(s, s.topic_alerts) as alerts, Started(s, proc, watcher=watcher, metrics=metrics) as a:
        reloading = asyncio.create_task(a.loop.reload_rules())
        await produce(s, [article(1, "ceasefire")])
        await until(lambda: a.loop.records_handled >= 1, 30, "the first article handled")
        old = proc.rules
        (rules / "broken.yaml").write_text("id: [not a string\n", encoding="utf-8")
        await until(lambda: bool(errors), 30, "the invalid change reported")
        assert proc.rules is old  # refused: the running set stays
        (rules / "broken.yaml").unlink()
        (rules / "truce.yaml").write_text(
            "id: test-truce\ntitle: A truce\nseverity: low\ntags: [ceasefire]\nmatch:\n  any: [\"ceasefire\"]\n",
            encoding="utf-8")
        await until(lambda: proc.rules is not old, 30, "the new rule set swapped in")
        await produce(s, [article(2, "ceasefire")])
        values = await alerts.until(lambda v: len(v) >= 1, 30, "an alert from the new rule")
        await a.stop()
        await asyncio.wait_for(reloading, 10)
    assert [(orjson.loads(v)["article"]["id"], orjson.loads(v)["rule"]) for v in values] == [("a2", "test-truce")]
    assert metrics.rules_reloads.labels("ok")._value.get() == 1


async def test_a_poison_record_is_dead_lettered_and_the_stream_goes_on(kafka_bootstrap, redis_db_url, unique):
    s = settings_for(kafka_bootstrap, redis_db_url, unique)
    await ensure_topics(s)
    async with (Topic(s, s.topic_alerts) as alerts, Topic(s, s.topic_dead_letter) as dead,
                Started(s, processor())):
        await produce(s, [b"\x00not json{", orjson.dumps({"schema": 99, "id": "x"}), article(1)], partition=0)
        dl = await dead.until(lambda v: len(v) >= 2, 30, "two dead letters")
        al = await alerts.until(lambda v: len(v) >= 1, 30, "the good article's alert")
    reasons = [orjson.loads(v)["reason"].split(":")[0] for v in dl]
    assert reasons == ["invalid_json", "unsupported_schema"]
    assert orjson.loads(dl[0])["topic"] == s.topic_articles and orjson.loads(dl[0])["offset"] == 0
    assert alert_articles(al) == ["a1"]
    assert await committed_total(s) == 3


class Recording(Processor):
    """The real processor, noting the size of every batch it is given."""

    def __init__(self) -> None:
        super().__init__(load_rules(RULES), metrics=Metrics(registry=CollectorRegistry()))
        self.sizes: list[int] = []

    def process_batch(self, records: Sequence[Record]) -> list[Processed]:
        self.sizes.append(len(records))
        return super().process_batch(records)


def spy_on_fetches(monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """The loop's real consumer, with an event set once a fetch has returned a record."""
    import monitor.process.loop as loop_module

    fetched = asyncio.Event()
    real = loop_module.make_consumer

    def make(*args: object, **kw: object) -> AIOKafkaConsumer:
        consumer = real(*args, **kw)  # type: ignore[arg-type]
        getmany = consumer.getmany

        async def spied(*a: object, **k: object) -> dict[TopicPartition, list[object]]:
            got = await getmany(*a, **k)
            if any(got.values()):
                fetched.set()
            return got  # type: ignore[no-any-return]

        consumer.getmany = spied  # type: ignore[method-assign]
        return consumer

    monkeypatch.setattr(loop_module, "make_consumer", make)
    return fetched


async def test_batch_within_gathers_records_arriving_after_the_first(
        kafka_bootstrap, redis_db_url, unique, monkeypatch):
    """``MONITOR_WORKER_BATCH_WITHIN``: after the first record the loop waits for more, up to the batch
    size, so records produced after the first fetch go into the same batch."""
    s = settings_for(kafka_bootstrap, redis_db_url, unique, worker_batch=5, worker_batch_within=60.0)
    await ensure_topics(s)
    fetched = spy_on_fetches(monkeypatch)
    rec = Recording()
    async with Topic(s, s.topic_alerts) as alerts, Started(s, rec) as a:
        await produce(s, [article(0)], partition=0)
        await asyncio.wait_for(fetched.wait(), 30)  # the first record is in hand, the batch still open
        assert rec.sizes == []
        await produce(s, [article(n) for n in range(1, 5)], partition=0)
        values = await alerts.until(lambda v: len(v) >= 5, 30, "five alerts")
        await a.stop()
    assert rec.sizes == [5]  # one batch: the first record and the four that came after it
    assert sorted(alert_articles(values)) == [f"a{n}" for n in range(5)]
    assert await committed_total(s) == 5


async def test_without_batch_within_a_lone_record_is_processed_at_once(
        kafka_bootstrap, redis_db_url, unique, monkeypatch):
    """With ``worker_batch_within`` 0 (the default) the loop does not wait to fill a batch."""
    s = settings_for(kafka_bootstrap, redis_db_url, unique, worker_batch=50)
    assert s.worker_batch_within == 0
    await ensure_topics(s)
    rec = Recording()
    async with Topic(s, s.topic_alerts) as alerts, Started(s, rec) as a:
        await produce(s, [article(0)], partition=0)
        await alerts.until(lambda v: len(v) >= 1, 30, "the lone article's alert")
        await produce(s, [article(1)], partition=0)
        await alerts.until(lambda v: len(v) >= 2, 30, "the second article's alert")
        await a.stop()
    assert rec.sizes == [1, 1]
