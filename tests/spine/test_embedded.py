"""The embedded broker and Redis start, serve, and stop without leaving a process behind."""

from __future__ import annotations

import asyncio

import psutil
import redis

from monitor.broker import ensure_topics, make_consumer, make_producer
from monitor.embedded import EmbeddedServices
from monitor.settings import Settings


def test_embedded_services_start_serve_and_stop(tmp_path):
    svc = EmbeddedServices(data_dir=tmp_path).start()
    pids = svc.pids()
    assert len(pids) == 2
    try:
        r = redis.Redis.from_url(svc.redis_url)
        assert r.ping()
        assert r.config_get("maxmemory-policy")["maxmemory-policy"] == "noeviction"
        assert r.config_get("appendonly")["appendonly"] == "yes"
        settings = Settings().with_services(svc.kafka_bootstrap, svc.redis_url)
        assert settings.idempotence is False

        async def roundtrip() -> bytes:
            await ensure_topics(settings)
            producer = await make_producer(settings)
            try:
                await producer.send_and_wait(settings.topic_articles, b"hello", key=b"k")
            finally:
                await producer.stop()
            consumer = make_consumer(settings, settings.topic_articles, group_id="t-embedded")
            await consumer.start()
            try:
                batch = await consumer.getmany(timeout_ms=15000)
                while not batch:
                    batch = await consumer.getmany(timeout_ms=15000)
                return next(iter(batch.values()))[0].value
            finally:
                await consumer.stop()

        assert asyncio.run(roundtrip()) == b"hello"
    finally:
        svc.stop()
    assert not [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]
