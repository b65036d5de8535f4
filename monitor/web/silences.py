"""``/silences``: list, create (blank or pre-filled from an alert), edit, expire, delete.

The forms go through the alerting store (``monitor.alerting.store`` via ``monitor.api.subscriptions.
store_of``), so limits and validation are the API's; an error re-renders the form with the message
(422). ``GET /silences/new?alert=ID`` fills the matchers from the alert, as Alertmanager does: its
rule, its tags and its source (all must match; remove what should not narrow the silence).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from monitor.alerting.model import Silence, SilencePatch, SilenceSpec
from monitor.alerting.store import StoreError
from monitor.api.app import deps_of
from monitor.api.subscriptions import store_of
from monitor.models import utcnow
from monitor.web.forms import items, local_value, problem, until
from monitor.web.render import page, see_other
from monitor.web.session import read_form

routes = web.RouteTableDef()


def _state(s: Silence) -> str:
    now = utcnow()
    return "active" if s.active(now) else ("pending" if s.starts_at > now else "expired")


@routes.get("/silences")
async def list_silences(request: web.Request) -> web.Response:
    sils = await store_of(request).list_silences()
    rows = sorted(((s, _state(s)) for s in sils), key=lambda r: (("active", "pending", "expired").index(r[1]),
                                                                -r[0].ends_at.timestamp()))
    return page(request, "silences.html", title="Silences", rows=rows)


def _blank(by: str = "") -> dict[str, Any]:
    return {"rules": "", "tags": "", "sources": "", "for_": "2h", "ends_at": "", "comment": "",
            "created_by": by}


@routes.get("/silences/new")
async def new_silence(request: web.Request) -> web.Response:
    values = _blank(request.cookies.get("monitor_name", ""))
    alert = None
    if request.query.get("alert"):
        alert = await deps_of(request).recent.get(request.query["alert"])
        if alert is None:
            raise web.HTTPNotFound(text="no such alert (only the most recent alerts are kept)")
        values.update(rules=alert.rule, tags=", ".join(alert.tags), sources=alert.article.source)
    return page(request, "silence_form.html", title="New silence", v=values, sil=None, alert=alert, error="")


@routes.post("/silences")
async def create_silence(request: web.Request) -> web.Response:
    form = await read_form(request)
    values = {k: form.get(k, "") for k in _blank()}
    try:
        spec = SilenceSpec(
            rules=items(values["rules"]), tags=items(values["tags"]), sources=items(values["sources"]),
            ends_at=until(values["ends_at"], values["for_"], utcnow()), comment=values["comment"].strip(),
            created_by=values["created_by"].strip(),
        )
        sil = await store_of(request).create_silence(spec)
    except (ValidationError, StoreError, ValueError) as exc:
        return page(request, "silence_form.html", status=422, title="New silence", v=values, sil=None,
                    alert=None, error=problem(exc))
    raise see_other(f"/silences#s-{sil.id}")


@routes.get("/silences/{id}/edit")
async def edit_silence(request: web.Request) -> web.Response:
    sil = await _get(request)
    values = {"rules": ", ".join(sil.rules), "tags": ", ".join(sil.tags), "sources": ", ".join(sil.sources),
              "for_": "", "ends_at": local_value(sil.ends_at), "comment": sil.comment,
              "created_by": sil.created_by}
    return page(request, "silence_form.html", title="Edit silence", v=values, sil=sil, alert=None, error="")


async def _get(request: web.Request) -> Silence:
    try:
        return await store_of(request).get_silence(request.match_info["id"])
    except StoreError:
        raise web.HTTPNotFound(text="no such silence") from None


@routes.post("/silences/{id}")
async def update_silence(request: web.Request) -> web.Response:
    form = await read_form(request)
    sil = await _get(request)
    values = {k: form.get(k, "") for k in _blank()}
    try:
        patch = SilencePatch(
            rules=items(values["rules"]), tags=items(values["tags"]), sources=items(values["sources"]),
            ends_at=until(values["ends_at"], values["for_"], utcnow()), comment=values["comment"].strip(),
        )
        await store_of(request).update_silence(sil.id, patch)
    except (ValidationError, StoreError, ValueError) as exc:
        return page(request, "silence_form.html", status=422, title="Edit silence", v=values, sil=sil,
                    alert=None, error=problem(exc))
    raise see_other(f"/silences#s-{sil.id}")


@routes.post("/silences/{id}/expire")
async def expire_silence(request: web.Request) -> web.Response:
    await read_form(request)
    sil = await _get(request)
    now = utcnow()
    store = store_of(request)
    if sil.starts_at >= now:  # not begun: nothing to keep
        await store.delete_silence(sil.id)
    elif sil.ends_at > now:
        await store.update_silence(sil.id, SilencePatch(ends_at=now))
    raise see_other("/silences")


@routes.post("/silences/{id}/delete")
async def delete_silence(request: web.Request) -> web.Response:
    await read_form(request)
    sil = await _get(request)
    await store_of(request).delete_silence(sil.id)
    raise see_other("/silences")
