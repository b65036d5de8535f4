"""The archive store interface, and the pieces both backends share.

``Archive`` is what the writer, the API, the console and backtests use; ``SqliteArchive``
(``monitor.archive.sqlite``) and ``PostgresArchive`` (``monitor.archive.postgres``) implement it with
the same semantics:

- ``put(items)``: store articles, idempotent on article id (a repeat is ignored: at-least-once input);
- ``annotate(notes)``: record ``copy_group`` / ``event_id`` for article ids (from alerts; they may come
  before or after the article itself, so notes live in their own table, joined at read time);
- ``search(query)``: a page, newest archived first, bounded by ``query_timeout`` (a query that would run
  longer raises ``QueryTooBroad``, a 400);
- ``get(id)``, ``copies(group)``, ``event(event_id)``: single articles and their relatives;
- ``batches(since, until, size, prefixes)``: the archive newest first, in batches, for backtests; with
  ``prefixes`` only the articles with an index term starting with one of them (a backtest's prefilter);
- ``prune(before)``: drop what was archived before a time (retention);
- ``backfilled(ids)`` / ``record_backfill(ids)``: which backfill alert ids were already sent (so a
  repeated ``monitor backtest --alert`` sends nothing twice, even after the alerter's dedup log expired).

Each stored article is its ``ArchivedArticle`` JSON (without the notes), zlib-compressed, beside the
index terms (``monitor.archive.query.index_terms``) and its facets: ``lang:``, ``src:``, ``tag:``
(article and rule tags), ``rule:`` and ``ent:`` (``list/id`` and bare ``id``) values used as filters.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import orjson

from monitor.archive.model import ArchivedArticle, QueryInvalid, SearchHit, SearchPage, SearchQuery
from monitor.archive.query import Group, snippet


class QueryTooBroad(QueryInvalid):
    """The search ran past its time budget (HTTP 400): add words or filters, or narrow the time range."""


@dataclass(frozen=True)
class Note:
    """What an alert tells about its article."""

    article_id: str
    event_id: str = ""
    copy_group: str = ""


class Archive(Protocol):
    backend: str

    async def put(self, items: Sequence[ArchivedArticle]) -> int: ...
    async def annotate(self, notes: Sequence[Note]) -> None: ...
    async def search(self, query: SearchQuery) -> SearchPage: ...
    async def get(self, article_id: str) -> ArchivedArticle | None: ...
    async def copies(self, copy_group: str, limit: int = 100) -> list[ArchivedArticle]: ...
    async def event(self, event_id: str, limit: int = 500) -> list[ArchivedArticle]: ...
    def batches(
        self, since: datetime | None = None, until: datetime | None = None, size: int = 500,
        prefixes: Sequence[str] | None = None,
    ) -> AsyncIterator[list[ArchivedArticle]]: ...
    async def prune(self, before: datetime) -> int: ...
    async def backfilled(self, alert_ids: Sequence[str]) -> set[str]: ...
    async def record_backfill(self, alert_ids: Sequence[str]) -> None: ...
    async def count(self) -> int: ...
    async def close(self) -> None: ...


def encode(item: ArchivedArticle) -> bytes:
    data = item.model_dump(mode="json", by_alias=True, exclude={"copy_group", "event_id"})
    return zlib.compress(orjson.dumps(data), 1)


def decode(blob: bytes, event_id: str | None = "", copy_group: str | None = "") -> ArchivedArticle:
    data = orjson.loads(zlib.decompress(blob))
    data["event_id"] = event_id or ""
    data["copy_group"] = copy_group or ""
    return ArchivedArticle.model_validate(data)


def facets(item: ArchivedArticle) -> list[str]:
    a = item.article
    out: dict[str, None] = {}
    if item.lang:
        out["lang:" + item.lang] = None
    if a.source:
        out["src:" + a.source] = None
    for t in a.tags:
        out["tag:" + t] = None
    for m in item.matches:
        out["rule:" + m.rule] = None
        for t in m.tags:
            out["tag:" + t] = None
    for e in item.entities:
        out["ent:" + e] = None
        out["ent:" + e.split("/", 1)[1]] = None
    return list(out)


def wanted_facets(q: SearchQuery) -> list[str]:
    pairs = (("lang", q.lang), ("src", q.source), ("tag", q.tag), ("rule", q.rule), ("ent", q.entity))
    return [f"{k}:{v}" for k, v in pairs if v]


def hit_of(item: ArchivedArticle, groups: list[Group]) -> SearchHit:
    a = item.article
    text, spans = "", list[tuple[int, int]]()
    for field in (a.title, a.summary, a.content):
        text, spans = snippet(field, groups)
        if spans:
            break
    if not spans:  # no hit in any field (a filter-only search): the summary, else the content
        text, spans = snippet(a.summary or a.content or a.title, [])
    return SearchHit(
        id=a.id, title=a.title, url=a.url, source=a.source, lang=item.lang, published=a.published,
        archived_at=item.archived_at, rules=item.rules, event_id=item.event_id,
        copy_group=item.copy_group, snippet=text, highlights=tuple(spans),
    )


def page_of(items: list[ArchivedArticle], q: SearchQuery, groups: list[Group], took_ms: float) -> SearchPage:
    more = len(items) > q.limit
    return SearchPage(
        hits=tuple(hit_of(i, groups) for i in items[: q.limit]), offset=q.offset, limit=q.limit, more=more,
        took_ms=round(took_ms, 2),
    )
