"""The archive over HTTP: search, one article with its evidence and relatives, one event.

- ``GET /api/v1/articles``: query ``q`` (Arabic-aware, ``monitor.archive.query``), filters ``lang``,
  ``source``, ``tag``, ``rule``, ``entity``, ``since``/``until`` (Unix seconds or ISO 8601, on the
  published time), ``limit`` (1-100, default 20), ``offset`` (≤ 10,000). Answers a ``SearchPage``:
  newest archived first, each hit with a snippet and its highlighted spans.
- ``GET /api/v1/articles/{id}``: the ``ArchivedArticle`` (text, every rule that matched with its
  evidence), its near-duplicate copies and the other reports of its event.
- ``GET /api/v1/events/{id}``: every archived report of one event, both languages, in published order.

Errors: 400 for a request that cannot run as asked (bad parameter, too many words, a search past its
time budget — change the request); 404 unknown id; 503 when the archive is off or unreachable (retry).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from monitor.api.app import deps_of
from monitor.api.subscriptions import error, json
from monitor.archive.model import ArchivedArticle, ArticleView, EventView, QueryInvalid, SearchQuery
from monitor.archive.store import hit_of
from monitor.metrics import METRICS

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

FILTERS = ("lang", "source", "tag", "rule", "entity")


def guarded(handler: Handler) -> Handler:
    """Archive errors become 400/503 answers; nothing escapes as a 500."""

    async def wrapped(request: web.Request) -> web.StreamResponse:
        if deps_of(request).archive is None:
            return error(503, "the archive is not open in this process (MONITOR_ARCHIVE=false, or its "
                              "database was unreachable at start-up: see the logs)")
        try:
            return await handler(request)
        except QueryInvalid as exc:
            return error(400, str(exc))
        except web.HTTPException:
            raise
        except Exception as exc:  # the boundary: a database failure is the client's to retry, not a 500
            log.exception("archive request failed")
            return error(503, "the archive could not answer; retry later", type(exc).__name__)

    return wrapped


def _when(value: str | None, name: str) -> datetime | None:
    """Unix seconds or ISO 8601 (naive = UTC); ``QueryInvalid`` otherwise."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (ValueError, OverflowError, OSError):
        pass
    try:
        d = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise QueryInvalid(f"{name}: expected Unix seconds or ISO 8601, got {value[:100]!r}") from None
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def search_query(q: Any) -> SearchQuery:
    """A ``SearchQuery`` from query parameters; ``QueryInvalid`` (400) when one is not acceptable."""
    try:
        data: dict[str, Any] = {k: q[k] for k in FILTERS if q.get(k)}
        data["q"] = q.get("q", "")
        data["since"] = _when(q.get("since"), "since")
        data["until"] = _when(q.get("until"), "until")
        for k in ("limit", "offset"):
            if q.get(k) is not None:
                data[k] = q[k]
        return SearchQuery.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise QueryInvalid(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


@routes.get("/api/v1/articles")
@guarded
async def search(request: web.Request) -> web.Response:
    query = search_query(request.query)
    with METRICS.archive_search_seconds.time():
        page = await deps_of(request).archive.search(query)
    return json(page.model_dump(mode="json"))


@routes.get("/api/v1/articles/{id}")
@guarded
async def show(request: web.Request) -> web.Response:
    archive = deps_of(request).archive
    aid = request.match_info["id"]
    item: ArchivedArticle | None = None if "\x00" in aid else await archive.get(aid)
    if item is None:
        raise web.HTTPNotFound(text="no such article in the archive (older ones are pruned: MONITOR_ARCHIVE_DAYS)")
    copies = [c for c in await archive.copies(item.copy_group) if c.id != item.id]
    event = [e for e in await archive.event(item.event_id) if e.id != item.id]
    view = ArticleView(
        article=item, copies=tuple(hit_of(c, []) for c in copies), event=tuple(hit_of(e, []) for e in event)
    )
    return json(view.model_dump(mode="json", by_alias=True))


@routes.get("/api/v1/events/{id}")
@guarded
async def event(request: web.Request) -> web.Response:
    event_id = request.match_info["id"]
    items = [] if "\x00" in event_id else await deps_of(request).archive.event(event_id)
    if not items:
        raise web.HTTPNotFound(text="no archived article belongs to this event")
    view = EventView(
        event_id=event_id, languages=tuple(sorted({i.lang for i in items if i.lang})),
        sources=tuple(sorted({i.article.source for i in items if i.article.source})),
        reports=tuple(hit_of(i, []) for i in items),
    )
    return json(view.model_dump(mode="json"))
