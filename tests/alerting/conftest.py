"""Alerting fixtures: settings on a fresh Redis db, a Redis client, private metrics, a webhook receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis
from prometheus_client import CollectorRegistry

from monitor.metrics import Metrics
from monitor.models import Alert
from monitor.settings import Settings

from .helpers import FAST, Receiver, make_alert, start_receiver


@pytest.fixture
def alert_factory() -> Callable[..., Alert]:
    return make_alert


@pytest.fixture
def settings(redis_db_url: str) -> Settings:
    return Settings(
        redis_url=redis_db_url,
        webhook_allow=["127.0.0.1/32"],
        delivery_retry_schedule=FAST,
        delivery_claim_idle=1.0,
        delivery_consumer="test",
        smtp_timeout=5.0,
        _env_file=None,  # type: ignore[call-arg]
    )


@pytest.fixture
async def redis(settings: Settings) -> AsyncIterator[aioredis.Redis]:
    r = aioredis.Redis.from_url(settings.redis)
    yield r
    await r.aclose()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics(registry=CollectorRegistry())


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec, runner = await start_receiver()
    yield rec
    await runner.cleanup()
