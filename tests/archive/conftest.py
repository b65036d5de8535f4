"""Archive fixtures: a SQLite archive on a temporary folder, and the same tests on a real PostgreSQL
(started once per session by ``pgserver``, a fresh database per test; skipped with what to install
when the server binaries are missing)."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator

import pytest

from monitor.archive.store import Archive

from .pgserver import PgMissing, PgServer


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        srv = PgServer.start()
    except PgMissing as exc:
        pytest.skip(str(exc))
    yield srv
    srv.stop()


_n = itertools.count(1)


@pytest.fixture
def pg_url(pg_server: PgServer) -> str:
    import psycopg

    name = f"archive_{next(_n)}"
    with psycopg.connect(pg_server.url, autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {name}")
        c.execute(f"CREATE DATABASE {name}")
    return pg_server.db_url(name)


@pytest.fixture(params=["sqlite", "postgres"])
async def archive(request: pytest.FixtureRequest, tmp_path) -> AsyncIterator[Archive]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        from monitor.archive.sqlite import SqliteArchive

        a: Archive = SqliteArchive(tmp_path / "archive.db", query_timeout=5.0)
    else:
        from monitor.archive import postgres
        from monitor.archive.postgres import PostgresArchive

        # windows of 3 articles: every search crosses several (postgres._windowed)
        request.getfixturevalue("monkeypatch").setattr(postgres, "WINDOW", 3)
        a = await PostgresArchive.open(request.getfixturevalue("pg_url"), query_timeout=5.0)
    yield a
    await a.close()
