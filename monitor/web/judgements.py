"""What analysts say about alerts: acknowledgements and correct/false-positive verdicts, in Redis.

``Ack`` (who, when, a comment) and ``Verdict`` (correct or false positive, a note, who, when, and a copy
of the article fields the alert carried, so the judgement outlives the alert in the recent store) are
frozen models, one per alert id; a new one replaces the old. Keys: ``monitor:web:acks`` (hash alert id →
JSON), ``monitor:web:verdicts`` (hash) and ``monitor:web:verdicts:order`` (sorted set by time, for the
list). ``labelled_lines`` turns the verdicts into the JSON Lines ``monitor rules eval`` reads: one line
per article, the ``monitor match`` input fields plus ``labels`` = the tags of the alerts judged correct
(``[]`` when every alert on it was a false positive), and ``judgements`` for the record (ignored by eval).
A tag an analyst did not judge on that article counts as absent: export what was reviewed.
Errors: a Redis error propagates (retry later).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field

from monitor.models import Alert, utcnow

ACKS = "monitor:web:acks"
VERDICTS = "monitor:web:verdicts"
ORDER = "monitor:web:verdicts:order"
Kind = Literal["correct", "false_positive"]


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Ack(Frozen):
    alert_id: str
    by: Annotated[str, Field(max_length=200)] = ""
    comment: Annotated[str, Field(max_length=2000)] = ""
    at: datetime = Field(default_factory=utcnow)


class JudgedArticle(Frozen):
    id: str
    title: str = ""
    summary: str = ""
    url: str = ""
    lang: str = ""
    source: str = ""
    published: datetime | None = None


class Verdict(Frozen):
    alert_id: str
    verdict: Kind
    rule: str
    tags: tuple[str, ...] = ()
    note: Annotated[str, Field(max_length=2000)] = ""
    by: Annotated[str, Field(max_length=200)] = ""
    at: datetime = Field(default_factory=utcnow)
    article: JudgedArticle

    @classmethod
    def of(cls, alert: Alert, verdict: Kind, note: str = "", by: str = "") -> Verdict:
        a = alert.article
        return cls(
            alert_id=alert.id, verdict=verdict, rule=alert.rule, tags=alert.tags, note=note, by=by,
            article=JudgedArticle(id=a.id, title=a.title, summary=a.summary, url=a.url, lang=a.lang,
                                  source=a.source, published=a.published),
        )


class Judgements:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    async def ack(self, ack: Ack) -> None:
        await self.redis.hset(ACKS, ack.alert_id, ack.model_dump_json())

    async def unack(self, alert_id: str) -> None:
        await self.redis.hdel(ACKS, alert_id)

    async def acks(self, alert_ids: Sequence[str]) -> dict[str, Ack]:
        if not alert_ids:
            return {}
        raws = await self.redis.hmget(ACKS, list(alert_ids))
        return {i: Ack.model_validate_json(r) for i, r in zip(alert_ids, raws, strict=True) if r is not None}

    async def judge(self, v: Verdict) -> None:
        async with self.redis.pipeline(transaction=True) as p:
            p.hset(VERDICTS, v.alert_id, v.model_dump_json())
            p.zadd(ORDER, {v.alert_id: v.at.timestamp()})
            await p.execute()

    async def forget(self, alert_id: str) -> None:
        async with self.redis.pipeline(transaction=True) as p:
            p.hdel(VERDICTS, alert_id)
            p.zrem(ORDER, alert_id)
            await p.execute()

    async def verdicts(self, alert_ids: Sequence[str]) -> dict[str, Verdict]:
        if not alert_ids:
            return {}
        raws = await self.redis.hmget(VERDICTS, list(alert_ids))
        return {i: Verdict.model_validate_json(r) for i, r in zip(alert_ids, raws, strict=True) if r is not None}

    async def recent_verdicts(self, limit: int = 200, offset: int = 0) -> list[Verdict]:
        ids: list[Any] = await self.redis.zrevrange(ORDER, offset, offset + limit - 1)
        if not ids:
            return []
        raws = await self.redis.hmget(VERDICTS, ids)
        return [Verdict.model_validate_json(r) for r in raws if r is not None]

    async def count(self) -> int:
        return int(await self.redis.zcard(ORDER))

    async def all_verdicts(self) -> list[Verdict]:
        raw = await self.redis.hgetall(VERDICTS)
        return sorted((Verdict.model_validate_json(v) for v in raw.values()), key=lambda v: v.at)


def labelled_lines(verdicts: Iterable[Verdict], content: dict[str, str] | None = None) -> list[bytes]:
    """One JSON line per judged article (oldest judgement first); ``content``: article id → full text
    where the archive has it."""
    by_article: dict[str, list[Verdict]] = {}
    for v in verdicts:
        by_article.setdefault(v.article.id, []).append(v)
    out = []
    for aid, vs in by_article.items():
        art = vs[-1].article
        labels = sorted({t for v in vs if v.verdict == "correct" for t in v.tags})
        line = {
            "id": aid, "title": art.title, "summary": art.summary, "url": art.url, "lang": art.lang,
            "source": art.source, "published": art.published.isoformat() if art.published else None,
            "labels": labels,
            "judgements": [{"alert": v.alert_id, "rule": v.rule, "verdict": v.verdict, "note": v.note,
                            "by": v.by, "at": v.at.isoformat()} for v in vs],
        }
        if content and content.get(aid):
            line["content"] = content[aid]
        if line["published"] is None:
            del line["published"]
        out.append(orjson.dumps(line))
    return out
