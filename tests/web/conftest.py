"""Console fixtures: the API application (with the console) on a real Redis db, served by aiohttp's test
server on loopback, and alerts shaped like the stream's (Arabic and English, with evidence offsets)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from monitor.alerting.recent import RecentAlerts
from monitor.api.app import ApiDeps, make_app
from monitor.models import Alert, ArticleRef, Evidence
from monitor.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
AR_TITLE = "بدء جولة مفاوضات جديدة بين بغداد وواشنطن"


def alert(
    n: int, *, title: str = AR_TITLE, lang: str = "ar", rule: str = "negotiation-round.talks-held",
    tags: tuple[str, ...] = ("negotiation-round",), source: str = "seeds", event: str = "", at: datetime | None = None,
    severity: str = "medium", summary: str = "", entities: dict[str, tuple[str, ...]] | None = None,
) -> Alert:
    words = [w for w in ("جولة", "مفاوضات", "talks", "round") if w in title]
    evidence = tuple(
        Evidence(term=w, matched=w, field="title", start=title.index(w), end=title.index(w) + len(w)) for w in words
    )
    return Alert(
        id=f"a{n:05d}", rule=rule, rule_title="Negotiations start", tags=tags, severity=severity,  # type: ignore[arg-type]
        created_at=at or datetime(2026, 12, 4, 4, 0, tzinfo=UTC) + timedelta(seconds=n),
        article=ArticleRef(id=f"art-{n}", title=title, url=f"https://news.example/{n}", source=source,
                           published=datetime(2026, 12, 4, 3, 0, tzinfo=UTC), lang=lang, summary=summary),
        evidence=evidence, entities=entities or {}, event_id=event, sources=(source,),
    )


class Console:
    def __init__(self, client: TestClient, redis: aioredis.Redis, deps: ApiDeps) -> None:
        self.client = client
        self.redis = redis
        self.deps = deps

    async def add(self, *alerts: Alert) -> None:
        await self.deps.recent.add(list(alerts))

    async def text(self, path: str, status: int = 200) -> str:
        resp = await self.client.get(path, allow_redirects=False)
        body = await resp.text()
        assert resp.status == status, (resp.status, body[:2000])
        return body

    async def csrf(self) -> str:
        body = await self.text("/feedback")
        m = re.search(r'name="csrf-token" content="([^"]+)"', body)
        assert m
        return m.group(1)

    async def post(self, path: str, data: dict[str, Any], status: int = 303) -> Any:
        form = {"csrf": await self.csrf(), **data}
        resp = await self.client.post(path, data=form, allow_redirects=False)
        body = await resp.text()
        assert resp.status == status, (resp.status, body[:2000])
        return resp, body


ConsoleFactory = Callable[..., Awaitable[Console]]


@pytest.fixture
async def make_console(redis_db_url: str, tmp_path: Path) -> AsyncIterator[ConsoleFactory]:
    made: list[tuple[TestClient, aioredis.Redis]] = []

    async def factory(**overrides: Any) -> Console:
        values: dict[str, Any] = {"redis_url": redis_db_url, "rules": ROOT / "rules", "data_dir": tmp_path,
                                  "webhook_allow": ["127.0.0.1/32"], **overrides}
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        redis = aioredis.Redis.from_url(redis_db_url)
        deps = ApiDeps(settings=settings, redis=redis, recent=RecentAlerts(redis, limit=settings.alerts_recent))
        client = TestClient(TestServer(make_app(deps), host="127.0.0.1"))
        await client.start_server()
        made.append((client, redis))
        return Console(client, redis, deps)

    yield factory
    for client, redis in made:
        await client.close()
        await redis.aclose()


@pytest.fixture
async def console(make_console: ConsoleFactory) -> Console:
    return await make_console()
