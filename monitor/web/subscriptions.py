"""``/subscriptions``: list, create, edit, pause/resume, test-send, delete.

Through the alerting store like the API (``monitor.api.subscriptions``: same store, same SSRF guard on
webhook URLs, same test-send). The form covers the common case (name, one channel: Redis stream, webhook
URL, email addresses or chat URLs; the filter; cluster updates); grouping, digests and quiet hours are
kept as they are on edit (the API sets them). A new webhook's signing secret is shown once, on the page
that answers the create. Errors re-render the form with the message (422).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import ValidationError

from monitor.alerting.channels.ssrf import UnsafeURL, resolve_checked
from monitor.alerting.model import (
    ChatTarget,
    EmailTarget,
    Filter,
    RedisTarget,
    Subscription,
    SubscriptionPatch,
    SubscriptionSpec,
    WebhookTarget,
    delivery_id,
)
from monitor.alerting.store import StoreError
from monitor.api.app import deps_of
from monitor.api.subscriptions import service_of, store_of
from monitor.web.forms import items, problem
from monitor.web.render import page, see_other
from monitor.web.session import read_form

routes = web.RouteTableDef()
FIELDS = ("name", "channel", "url", "to", "chat", "rules", "tags", "min_severity", "languages", "sources",
          "updates", "enabled")


def _values(sub: Subscription | None = None) -> dict[str, Any]:
    if sub is None:
        return {"name": "", "channel": "redis", "url": "", "to": "", "chat": "", "rules": "", "tags": "",
                "min_severity": "", "languages": "", "sources": "", "updates": True, "enabled": True}
    ch = sub.channel
    f = sub.filter
    return {
        "name": sub.name, "channel": ch.type, "url": ch.url if isinstance(ch, WebhookTarget) else "",
        "to": ", ".join(ch.to) if isinstance(ch, EmailTarget) else "", "chat": "",
        "rules": ", ".join(f.rules), "tags": ", ".join(f.tags), "min_severity": f.min_severity or "",
        "languages": ", ".join(f.languages), "sources": ", ".join(f.sources), "updates": sub.updates,
        "enabled": sub.enabled,
    }


def _from_form(form: Any) -> dict[str, Any]:
    v = {k: form.get(k, "") for k in FIELDS}
    v["updates"] = form.get("updates") == "on"
    v["enabled"] = form.get("enabled") == "on"
    return v


def _filter(v: dict[str, Any]) -> Filter:
    return Filter(rules=items(v["rules"]), tags=items(v["tags"]), min_severity=v["min_severity"] or None,
                  languages=items(v["languages"]), sources=items(v["sources"]))


def _target(v: dict[str, Any]) -> Any:
    kind = v["channel"]
    if kind == "redis":
        return RedisTarget()
    if kind == "webhook":
        return WebhookTarget(url=v["url"].strip())
    if kind == "email":
        return EmailTarget(to=items(v["to"]))
    if kind == "chat":
        return ChatTarget(urls=items(v["chat"]))  # type: ignore[arg-type]
    raise ValueError(f"channel: one of redis, webhook, email, chat; got {kind!r}")


async def _checked(request: web.Request, target: Any) -> Any:
    if isinstance(target, WebhookTarget):
        await resolve_checked(target.url, deps_of(request).settings.webhook_allow)
    return target


@routes.get("/subscriptions")
async def list_subscriptions(request: web.Request) -> web.Response:
    subs = await store_of(request).list()
    return page(request, "subscriptions.html", title="Subscriptions", subs=subs,
                notice=request.query.get("notice", ""))


@routes.get("/subscriptions/new")
async def new_subscription(request: web.Request) -> web.Response:
    return page(request, "subscription_form.html", title="New subscription", v=_values(), sub=None, error="")


@routes.post("/subscriptions")
async def create_subscription(request: web.Request) -> web.Response:
    v = _from_form(await read_form(request))
    try:
        spec = SubscriptionSpec(name=v["name"].strip(), filter=_filter(v), channel=_target(v),
                                updates=v["updates"], enabled=v["enabled"])
        await _checked(request, spec.channel)
        sub, secret = await store_of(request).create(spec)
    except (ValidationError, StoreError, UnsafeURL, ValueError) as exc:
        return page(request, "subscription_form.html", status=422, title="New subscription", v=v, sub=None,
                    error=problem(exc))
    if secret:
        return page(request, "subscription_created.html", title="Subscription created", sub=sub, secret=secret)
    raise see_other(f"/subscriptions#sub-{sub.id}")


async def _get(request: web.Request) -> Subscription:
    try:
        return await store_of(request).get(request.match_info["id"])
    except StoreError:
        raise web.HTTPNotFound(text="no such subscription") from None


@routes.get("/subscriptions/{id}/edit")
async def edit_subscription(request: web.Request) -> web.Response:
    sub = await _get(request)
    return page(request, "subscription_form.html", title="Edit subscription", v=_values(sub), sub=sub, error="")


@routes.post("/subscriptions/{id}")
async def update_subscription(request: web.Request) -> web.Response:
    sub = await _get(request)
    v = _from_form(await read_form(request))
    try:
        changes: dict[str, Any] = {"name": v["name"].strip(), "filter": _filter(v), "updates": v["updates"],
                                   "enabled": v["enabled"]}
        old = _values(sub)
        same = v["channel"] == old["channel"] and (
            v["channel"] == "redis" or (v["channel"] == "webhook" and v["url"].strip() == old["url"])
            or (v["channel"] == "email" and items(v["to"]) == items(old["to"]))
            or (v["channel"] == "chat" and not v["chat"].strip())
        )
        if not same:  # a new target (a webhook keeps its secrets: the store sees to it)
            changes["channel"] = await _checked(request, _target(v))
        await store_of(request).update(sub.id, SubscriptionPatch(**changes))
    except (ValidationError, StoreError, UnsafeURL, ValueError) as exc:
        return page(request, "subscription_form.html", status=422, title="Edit subscription", v=v, sub=sub,
                    error=problem(exc))
    raise see_other(f"/subscriptions#sub-{sub.id}")


@routes.post("/subscriptions/{id}/pause")
async def pause(request: web.Request) -> web.Response:
    await read_form(request)
    sub = await _get(request)
    await store_of(request).update(sub.id, SubscriptionPatch(enabled=not sub.enabled))
    raise see_other(f"/subscriptions#sub-{sub.id}")


@routes.post("/subscriptions/{id}/test")
async def test_send(request: web.Request) -> web.Response:
    """Queue a sample alert to the subscription; the running alerter delivers it."""
    from monitor.alerting.samples import sample_alert

    await read_form(request)
    sub = await _get(request)
    alert = sample_alert()
    (result,) = await service_of(request).enqueue_for(sub, [alert], force=True, kind="test")
    did = delivery_id(sub.id, alert, sub.channel_name)
    raise see_other(f"/subscriptions?notice=test+{result}+{did}#sub-{sub.id}")


@routes.post("/subscriptions/{id}/delete")
async def delete(request: web.Request) -> web.Response:
    await read_form(request)
    sub = await _get(request)
    await store_of(request).delete(sub.id)
    raise see_other("/subscriptions")
