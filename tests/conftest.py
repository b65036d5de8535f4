"""Shared fixtures: the real embedded broker and Redis, started once per test session.

``kafka_bootstrap`` and ``redis_url`` are real services (Tansu and redis-server from the ``embedded``
extra) on free loopback ports; tests isolate themselves with unique topic names, consumer groups and
Redis key prefixes or a fresh Redis database (``redis_db_url``).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from monitor.embedded import EmbeddedServices

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def embedded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedServices]:
    svc = EmbeddedServices(data_dir=tmp_path_factory.mktemp("embedded"))
    svc.start()
    yield svc
    svc.stop()


@pytest.fixture(scope="session")
def kafka_bootstrap(embedded: EmbeddedServices) -> str:
    assert embedded.kafka_bootstrap
    return embedded.kafka_bootstrap


@pytest.fixture(scope="session")
def redis_url(embedded: EmbeddedServices) -> str:
    assert embedded.redis_url
    return embedded.redis_url


_db = itertools.count(1)


@pytest.fixture
def redis_db_url(redis_url: str) -> str:
    """A Redis URL on a database of its own (1..15, reused after 15 tests: flushed first)."""
    import redis

    n = (next(_db) - 1) % 15 + 1
    url = redis_url.rsplit("/", 1)[0] + f"/{n}"
    redis.Redis.from_url(url).flushdb()
    return url


@pytest.fixture
def unique() -> str:
    """A short unique suffix for topic names, groups and key prefixes."""
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.exists():
        pytest.skip(f"../shared not found beside the repository ({SHARED})")
    return SHARED
