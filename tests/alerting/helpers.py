"""Alerting test helpers: alert factory, a real signed-webhook receiver, a polling wait."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from standardwebhooks import Webhook

from monitor.models import Alert, ArticleRef, Evidence

FAST = [0.0, 0.2, 0.2, 0.2]


def make_alert(
    n: int = 1,
    *,
    rule: str = "r1",
    severity: str = "high",
    title: str | None = None,
    lang: str = "en",
    source: str = "feedA",
    tags: tuple[str, ...] = ("t1",),
    kind: str = "new",
) -> Alert:
    art = ArticleRef(
        id=f"art-{n}",
        title=title if title is not None else f"Article {n}",
        url=f"https://news.example/{n}",
        source=source,
        published=datetime(2026, 1, 1, tzinfo=UTC),
        lang=lang,
        fetched_at=datetime.now(UTC),
    )
    ev = Evidence(term="x", matched="x", field="title", start=0, end=1, snippet=f"snippet {n}")
    return Alert(
        id=Alert.make_id(art.id, rule, "1", kind),
        kind=kind,
        rule=rule,
        rule_version="1",  # type: ignore[arg-type]
        rule_title=f"Rule {rule}",
        tags=tags,
        severity=severity,
        article=art,  # type: ignore[arg-type]
        evidence=(ev,),
        sources=(source,),
    )


@dataclass
class Receiver:
    """A webhook receiver: verifies with standardwebhooks, dedups on webhook-id, scripted statuses."""

    url: str = ""
    secrets: list[str] = field(default_factory=list)
    received: list[dict] = field(default_factory=list)  # every verified request
    ids: list[str] = field(default_factory=list)
    statuses: list[tuple[int, dict[str, str]]] = field(default_factory=list)  # popped per request
    delay: float = 0.0
    bad_signatures: int = 0
    requests: int = 0
    event: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def unique_ids(self) -> set[str]:
        return set(self.ids)

    async def handler(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.requests += 1
        headers = {k.lower(): v for k, v in request.headers.items()}
        if self.delay:
            await asyncio.sleep(self.delay)
        payload = None
        for s in self.secrets:
            try:
                payload = Webhook(s).verify(body, headers)
                break
            except Exception:
                continue
        if payload is None:
            self.bad_signatures += 1
            return web.Response(status=400)
        if self.statuses:
            status, hdrs = self.statuses.pop(0)
            if status >= 300:
                return web.Response(status=status, headers=hdrs)
        self.received.append(payload)
        self.ids.append(headers["webhook-id"])
        self.event.set()
        return web.Response(status=204)


async def start_receiver(path: str = "/hook") -> tuple[Receiver, web.AppRunner]:
    rec = Receiver()
    app = web.Application()
    app.router.add_post(path, rec.handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"http://127.0.0.1:{port}{path}"
    return rec, runner


async def wait_for(cond: Callable[[], bool], timeout: float = 20.0) -> None:
    """Poll a condition (a liveness bound, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)
