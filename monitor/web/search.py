"""``GET /search``: the archive's full-text search (``monitor.archive``, Arabic-aware) with the matched
words marked in each hit's snippet, filters for language, source, tag, rule, entity and time in the URL,
and pages. Without an archive in this process the page says so; a query the archive refuses (too broad,
malformed) shows its message (400).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from markupsafe import Markup
from pydantic import ValidationError

from monitor.web.highlight import Span, marked
from monitor.web.query import parse_time
from monitor.web.render import page
from monitor.web.state import archive_of

routes = web.RouteTableDef()
FIELDS = ("q", "lang", "source", "tag", "rule", "entity", "since", "until")


def marked_snippet(text: str, spans: Any) -> Markup:
    """The snippet with the archive's hit spans marked (spans that overlap or fall outside are dropped)."""
    keep: list[Span] = []
    for start, end in sorted(spans):
        if start >= (keep[-1].end if keep else 0) and start < end <= len(text):
            keep.append(Span(start, end, ()))
    return marked(text, keep)


def _query(values: dict[str, str], offset: int) -> Any:
    from monitor.archive import SearchQuery

    now = time.time()
    since, until = parse_time(values["since"], now, "since"), parse_time(values["until"], now, "until")
    return SearchQuery(
        q=values["q"], lang=values["lang"] or None, source=values["source"] or None, tag=values["tag"] or None,
        rule=values["rule"] or None, entity=values["entity"] or None,
        since=datetime.fromtimestamp(since, UTC) if since is not None else None,
        until=datetime.fromtimestamp(until, UTC) if until is not None else None, limit=20, offset=offset,
    )


@routes.get("/search")
async def search(request: web.Request) -> web.Response:
    from monitor.archive import ArchiveUnavailable, QueryInvalid

    values = {k: request.query.get(k, "").strip() for k in FIELDS}
    ctx: dict[str, Any] = {"v": values, "hits": [], "result": None, "error": "", "offset": 0}
    archive = archive_of(request)
    if archive is None:
        ctx["error"] = "No archive in this process (MONITOR_ARCHIVE is off): nothing to search."
        return page(request, "search.html", title="Search", has_archive=False, **ctx)
    asked = any(values.values())
    status = 200
    if asked:
        try:
            offset = int(request.query.get("offset") or 0)
            result = await archive.search(_query(values, offset))
            ctx.update(result=result, offset=offset,
                       hits=[(h, marked_snippet(h.snippet, h.highlights)) for h in result.hits])
        except (QueryInvalid, ValueError, ValidationError) as exc:
            msg = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            ctx["error"], status = msg, 400
        except ArchiveUnavailable as exc:
            ctx["error"], status = f"The archive is unavailable ({exc}); try again shortly.", 503
    return page(request, "search.html", status=status, title="Search", has_archive=True, **ctx)
