"""The archiver on the real embedded broker and Redis: articles and alerts in, the archive written with
the stream's own analysis, repeats ignored, the journal's ``archive`` stage acknowledged after the write."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from monitor.archive.sqlite import SqliteArchive
from monitor.archive.writer import ArchiveWriter
from monitor.broker import ensure_topics, make_producer
from monitor.journal import Journal
from monitor.models import Alert, Article, ArticleRef
from monitor.rules import load_rules
from monitor.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


async def until(cond: Callable[[], Awaitable[bool]], what: str, deadline: float = 60.0) -> None:
    end = time.monotonic() + deadline
    while not await cond():
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


ARTICLES = [
    Article(id="w-ar", title="هجوم بطائرة مسيرة على قاعدة عين الأسد التي تستضيف قوات التحالف",
            content="استهدف هجوم بطائرة مسيرة قاعدة عين الأسد الجوية غرب العراق التي تستضيف قوات أمريكية.",
            source="ar-wire"),
    Article(id="w-en", title="Drone attack targets Ain al-Asad air base hosting US troops",
            content="A drone attack targeted Ain al-Asad air base in western Iraq, which hosts US forces.",
            source="en-wire"),
    Article(id="w-plain", title="Weather: rain expected in Baghdad", content="Light rain tomorrow.", source="en-wire"),
]


async def test_archiver_writes_articles_notes_and_acks_the_journal(kafka_bootstrap, redis_db_url, unique, tmp_path):
    s = Settings(kafka_bootstrap=kafka_bootstrap, redis_url=redis_db_url, topic_articles=f"articles-{unique}",
                 topic_alerts=f"alerts-{unique}", topic_dead_letter=f"dead-{unique}", topic_partitions=2,
                 archive_group=f"archiver-{unique}", rules=ROOT / "rules", data_dir=tmp_path, embedded_broker=True,
                 _env_file=None)  # type: ignore[call-arg]
    await ensure_topics(s)
    redis = aioredis.Redis.from_url(redis_db_url)
    journal = Journal(redis, stages=("alert", "archive"), prefix=f"j-{unique}:")
    await journal.take([(a.id, a.to_json()) for a in ARTICLES])
    archive = SqliteArchive(tmp_path / "archive.db")
    writer = ArchiveWriter(s, archive, rules=load_rules(s.rules), journal=journal)
    task = asyncio.create_task(writer.run())
    producer = await make_producer(s)
    try:
        for a in ARTICLES:
            await producer.send_and_wait(s.topic_articles, a.to_json(), key=a.id.encode())
        await producer.send_and_wait(s.topic_articles, b"{not json", key=b"bad")
        await until(lambda: _count(archive, 3), "three articles archived")
        ar = await archive.get("w-ar")
        assert ar is not None and ar.lang == "ar" and "attack-on-base.named" in ar.rules
        assert ar.matches[0].evidence  # the stream's evidence, with offsets into the original
        plain = await archive.get("w-plain")
        assert plain is not None and plain.lang == "en" and plain.matches == ()
        # the archive stage is acknowledged (after the write, so it is waited for): only the alert
        # stage still holds the articles
        async def need() -> dict[str, str]:
            return {k.decode(): v.decode() for k, v in (await redis.hgetall(journal.k_need)).items()}

        expected = {"w-ar": "alert", "w-en": "alert", "w-plain": "alert"}
        await until(lambda: _equals(need, expected), "the archive stage acknowledged in the journal")
        assert await need() == expected

        # alerts carry the copy group and event id
        for a, ev in ((ARTICLES[0], "ev-x"), (ARTICLES[1], "ev-x")):
            alert = Alert(id=f"al-{a.id}", rule="r", article=ArticleRef.of(a), event_id=ev, copy_group=f"cg-{a.id}")
            await producer.send_and_wait(s.topic_alerts, alert.to_json(), key=alert.id.encode())
        await until(lambda: _event_size(archive, "ev-x", 2), "the event annotated")
        got = await archive.get("w-en")
        assert got is not None and got.copy_group == "cg-w-en"

        # a redelivered article changes nothing; a new one after it is archived
        for a in ARTICLES:
            await producer.send_and_wait(s.topic_articles, a.to_json(), key=a.id.encode())
        sentinel = Article(id="w-last", title="Talks resume", source="x")
        await producer.send_and_wait(s.topic_articles, sentinel.to_json(), key=b"w-last")
        await until(lambda: _has(archive, "w-last"), "the sentinel archived")
        assert await archive.count() == 4
    finally:
        await writer.stop()
        await asyncio.wait_for(task, 30)
        await producer.stop()
        await archive.close()
        await redis.aclose()


async def _equals(get: Callable[[], Awaitable[dict[str, str]]], want: dict[str, str]) -> bool:
    return await get() == want


async def _count(archive: SqliteArchive, n: int) -> bool:
    return await archive.count() >= n


async def _event_size(archive: SqliteArchive, event_id: str, n: int) -> bool:
    return len(await archive.event(event_id)) >= n


async def _has(archive: SqliteArchive, aid: str) -> bool:
    return await archive.get(aid) is not None


def test_the_lag_sampler_watches_the_archiver_group():
    from monitor.lag import LagSampler

    s = Settings(_env_file=None)  # type: ignore[call-arg]
    assert (s.archive_group, s.topic_articles) in LagSampler(s).watched()
    off = Settings(archive=False, _env_file=None)  # type: ignore[call-arg]
    assert all(g != off.archive_group for g, _ in LagSampler(off).watched())


class _Exploding:
    def analyse(self, article: Article) -> None:
        raise RuntimeError("engine bug")


async def test_an_article_the_engine_fails_on_is_kept_without_matches(tmp_path):
    from types import SimpleNamespace

    s = Settings(data_dir=tmp_path, rules=ROOT / "rules", _env_file=None)  # type: ignore[call-arg]
    archive = SqliteArchive(tmp_path / "a.db")
    writer = ArchiveWriter(s, archive, rules=_Exploding())  # type: ignore[arg-type]
    recs = [SimpleNamespace(topic=s.topic_articles, value=ARTICLES[0].to_json()),
            SimpleNamespace(topic=s.topic_articles, value=b"[1, 2]"),
            SimpleNamespace(topic=s.topic_alerts, value=b"not an alert")]
    assert await writer.write(recs) == ["w-ar"]  # type: ignore[arg-type]
    got = await archive.get("w-ar")
    assert got is not None and got.matches == () and got.article.title == ARTICLES[0].title
    await archive.close()
