"""``GET /alerts/{id}``: one alert as an analyst reads it, and the forms that act on it.

The page shows the article's title and summary (and its full text when the archive has the article)
with the evidence marked at its offsets, every piece of evidence with the term, list and entity (named
from the rule set's lists), the rule that fired, the source link (http(s) only: a feed's
``javascript:`` link stays text), and the other reports of its event. ``POST /alerts/{id}/ack``
acknowledges with a comment (``unack`` takes it back); ``POST /alerts/{id}/verdict`` records correct or
false positive with a note (``monitor.web.judgements``). Forms answer with a redirect back to the page.
"""

from __future__ import annotations

import contextlib
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from monitor.api.app import deps_of
from monitor.models import Alert
from monitor.web.highlight import highlight, missing
from monitor.web.judgements import Ack, Verdict
from monitor.web.query import find_event
from monitor.web.render import page, see_other
from monitor.web.session import read_form
from monitor.web.state import archive_of, judgements_of, ruleset_of

routes = web.RouteTableDef()


def safe_href(url: str) -> str | None:
    return url if url.lower().startswith(("http://", "https://")) else None


async def _alert(request: web.Request) -> Alert:
    alert = await deps_of(request).recent.get(request.match_info["id"])
    if alert is None:
        raise web.HTTPNotFound(text="no such alert (only the most recent alerts are kept)")
    return alert


def _entity_names(ruleset: Any, alert: Alert) -> dict[tuple[str, str], str]:
    names: dict[tuple[str, str], str] = {}
    if ruleset is None:
        return names
    for lst, ids in alert.entities.items():
        tl = ruleset.lists.get(lst)
        for eid in ids:
            ent = tl.entities.get(eid) if tl is not None else None
            if ent is not None:
                names[(lst, eid)] = ent.name
    return names


async def _full_text(request: web.Request, alert: Alert) -> dict[str, str]:
    """title/summary/content of the article: the archive's copy when there is one, else what the alert carries."""
    texts = {"title": alert.article.title, "summary": alert.article.summary}
    archive = archive_of(request)
    if archive is not None:
        with contextlib.suppress(Exception):  # the archive is optional here: the alert's copy will do
            item = await archive.get(alert.article.id)
            if item is not None:
                art = item.article
                texts = {"title": art.title, "summary": art.summary, "content": art.content}
    return texts


@routes.get("/alerts/{id}")
async def alert_page(request: web.Request) -> web.Response:
    alert = await _alert(request)
    rule = None
    ruleset = None
    with contextlib.suppress(Exception):  # a broken rules folder must not hide the alert
        ruleset = await ruleset_of(request)
        rule = ruleset.get(alert.rule)
    texts = await _full_text(request, alert)
    marked = {f: highlight(t, alert.evidence, f) for f, t in texts.items() if t}
    others: list[Alert] = []
    key = alert.event_id or alert.copy_group
    if key:
        others = [a for a in await find_event(deps_of(request).redis, key) if a.id != alert.id]
    j = judgements_of(request)
    return page(
        request, "alert.html", title=alert.article.title or alert.rule, a=alert, rule=rule, marked=marked,
        unmarked=missing(texts, alert.evidence), names=_entity_names(ruleset, alert), others=others,
        ack=(await j.acks([alert.id])).get(alert.id), verdict=(await j.verdicts([alert.id])).get(alert.id),
        href=safe_href(alert.article.url), by=request.cookies.get("monitor_name", ""),
    )


def _remember(resp: web.HTTPException, request: web.Request, by: str) -> web.HTTPException:
    if by:
        resp.set_cookie("monitor_name", by, max_age=365 * 86400, httponly=True, samesite="Strict",
                        secure=request.secure, path="/")
    return resp


@routes.post("/alerts/{id}/ack")
async def ack(request: web.Request) -> web.Response:
    form = await read_form(request)
    alert = await _alert(request)
    by = form.get("by", "").strip()
    try:
        a = Ack(alert_id=alert.id, by=by, comment=form.get("comment", "").strip())
    except ValidationError as exc:
        raise web.HTTPUnprocessableEntity(text=exc.errors()[0]["msg"]) from None
    await judgements_of(request).ack(a)
    raise _remember(see_other(f"/alerts/{alert.id}#actions"), request, by)


@routes.post("/alerts/{id}/unack")
async def unack(request: web.Request) -> web.Response:
    await read_form(request)
    alert = await _alert(request)
    await judgements_of(request).unack(alert.id)
    raise see_other(f"/alerts/{alert.id}#actions")


@routes.post("/alerts/{id}/verdict")
async def verdict(request: web.Request) -> web.Response:
    form = await read_form(request)
    alert = await _alert(request)
    by = form.get("by", "").strip()
    kind = form.get("verdict", "")
    if kind == "clear":
        await judgements_of(request).forget(alert.id)
        raise see_other(f"/alerts/{alert.id}#actions")
    if kind not in ("correct", "false_positive"):
        raise web.HTTPUnprocessableEntity(text="verdict: choose correct or false positive")
    try:
        v = Verdict.of(alert, kind, note=form.get("note", "").strip(), by=by)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise web.HTTPUnprocessableEntity(text=exc.errors()[0]["msg"]) from None
    await judgements_of(request).judge(v)
    raise _remember(see_other(f"/alerts/{alert.id}#actions"), request, by)
