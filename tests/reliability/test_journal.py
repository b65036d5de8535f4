"""monitor.journal on a real Redis: articles held until every required stage acknowledged them."""

from __future__ import annotations

import redis.asyncio as aioredis

from monitor.journal import Journal


async def test_article_without_alerts_is_dropped_when_processed(redis_db_url: str) -> None:
    r = aioredis.Redis.from_url(redis_db_url)
    j = Journal(r)
    await j.take([("a1", b"{1}"), ("a2", b"{2}")])
    assert await j.held() == ["a1", "a2"]
    await j.processed([("a1", [])])
    assert await j.held() == ["a2"]
    await r.aclose()


async def test_alert_stage_waits_for_every_alert(redis_db_url: str) -> None:
    r = aioredis.Redis.from_url(redis_db_url)
    j = Journal(r)
    await j.take([("a1", b"x")])
    await j.processed([("a1", ["al1", "al2"])])
    await j.alerts_done(["al1"])
    assert await j.held() == ["a1"]
    await j.alerts_done(["al1"])  # a repeat changes nothing
    assert await j.held() == ["a1"]
    await j.alerts_done(["al2", "unknown"])
    assert await j.held() == []
    assert await r.keys("monitor:journal:*") == []  # nothing left behind
    await r.aclose()


async def test_reprocessing_replaces_the_expected_alerts(redis_db_url: str) -> None:
    r = aioredis.Redis.from_url(redis_db_url)
    j = Journal(r)
    await j.take([("a1", b"x")])
    await j.processed([("a1", ["old"])])
    await j.processed([("a1", ["new"])])  # processed again after a restart
    await j.alerts_done(["old"])
    assert await j.held() == ["a1"]
    await j.alerts_done(["new"])
    assert await j.held() == []
    await r.aclose()


async def test_every_configured_stage_must_ack(redis_db_url: str) -> None:
    r = aioredis.Redis.from_url(redis_db_url)
    j = Journal(r, stages=("alert", "archive"))
    await j.take([("a1", b"x"), ("a2", b"y")])
    assert await j.ack("archive", ["a1", "a2", "never-taken"]) == 0
    await j.processed([("a1", []), ("a2", ["z"])])
    assert await j.held() == ["a2"]
    assert await j.ack("archive", ["a2"]) == 0  # acked twice: no effect
    await j.alerts_done(["z"])
    assert await j.held() == []
    await r.aclose()


async def test_republish_sends_what_is_held_oldest_first(redis_db_url: str) -> None:
    r = aioredis.Redis.from_url(redis_db_url)
    j = Journal(r)
    await j.take([("a1", b"v1")])
    await j.take([("a2", b"v2"), ("a1", b"v1")])  # taken again: keeps its place

    class Producer:
        def __init__(self) -> None:
            self.sent: list[tuple[str, bytes, bytes]] = []

        async def send(self, topic: str, value: bytes, key: bytes):  # type: ignore[no-untyped-def]
            import asyncio

            self.sent.append((topic, key, value))
            f = asyncio.get_running_loop().create_future()
            f.set_result(None)
            return f

    p = Producer()
    assert await j.republish(p, "articles") == 2
    assert [k for _, k, _ in p.sent] == [b"a1", b"a2"]
    assert await j.size() == 2  # republishing keeps them until acknowledged
    await r.aclose()
