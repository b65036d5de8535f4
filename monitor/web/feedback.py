"""``GET /feedback``: the analysts' verdicts, newest first; ``GET /feedback.jsonl``: all of them as the
labelled JSON Lines ``monitor rules eval`` reads (``monitor.web.judgements.labelled_lines``), with the
article's full text from the archive where it has it, so judgements become the rule authors' test set.
"""

from __future__ import annotations

import contextlib

from aiohttp import web

from monitor.web.judgements import labelled_lines
from monitor.web.render import HEADERS, page
from monitor.web.state import archive_of, judgements_of

routes = web.RouteTableDef()


@routes.get("/feedback")
async def list_feedback(request: web.Request) -> web.Response:
    j = judgements_of(request)
    verdicts = await j.recent_verdicts(limit=500)
    correct = sum(1 for v in verdicts if v.verdict == "correct")
    return page(request, "feedback.html", title="Feedback", verdicts=verdicts, total=await j.count(),
                correct=correct)


@routes.get("/feedback.jsonl")
async def export(request: web.Request) -> web.Response:
    verdicts = await judgements_of(request).all_verdicts()
    content: dict[str, str] = {}
    archive = archive_of(request)
    if archive is not None:
        for aid in {v.article.id for v in verdicts}:
            with contextlib.suppress(Exception):  # without the archive's copy the line has title+summary
                item = await archive.get(aid)
                if item is not None and item.article.content:
                    content[aid] = item.article.content
    body = b"".join(line + b"\n" for line in labelled_lines(verdicts, content))
    return web.Response(body=body, content_type="application/x-ndjson", charset="utf-8", headers={
        **HEADERS, "Content-Disposition": 'attachment; filename="monitor-feedback.jsonl"'})
