"""``/api/v1/subscriptions``: create, list, show, update, delete, rotate the webhook secret, test-send.

Bodies are parsed into the frozen alerting models (``SubscriptionSpec``, ``SubscriptionPatch``); unknown
fields are refused (422). Webhook URLs pass the SSRF guard (resolved, every address checked) on create
and on update. A webhook signing secret appears in the response of create and rotate-secret only
(``secret``); every other response masks it. Chat URLs pass ``chatguard.resolve_chat_url``. Lists come a
page at a time (``limit`` 1-500, default 100, ``offset``; ``next_offset`` is null on the last page);
the number of subscriptions and filter entries is capped (``store.LimitReached``, 422). Errors are JSON ``{"error": ..., "detail": ...}``:
400 bad JSON, 404 unknown id, 409 id taken, 413 body too large (``Settings.api_max_body``), 422 invalid.

The helpers here (``read_model``, ``json``, ``store_of``, ``service_of``) are shared by the other
alerting route modules.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemory

from monitor.alerting.channels.chatguard import resolve_chat_url
from monitor.alerting.channels.ssrf import UnsafeURL, resolve_checked
from monitor.alerting.model import (
    ChatTarget,
    Subscription,
    SubscriptionPatch,
    SubscriptionSpec,
    WebhookTarget,
)
from monitor.alerting.secretbox import SecretsLocked
from monitor.alerting.store import Conflict, NotFound, Store, StoreError
from monitor.api.alerts import query_int
from monitor.api.app import deps_of
from monitor.redisfull import REDIS_FULL

routes = web.RouteTableDef()
M = TypeVar("M", bound=BaseModel)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json(data: Any, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, content_type="application/json")


def error(status: int, message: str, detail: Any = None) -> web.Response:
    return json({"error": message, "detail": detail}, status)


async def read_model(request: web.Request, model: type[M]) -> M:
    limit = deps_of(request).settings.api_max_body
    if request.content_length is not None and request.content_length > limit:
        raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=request.content_length)
    raw = await read_body(request, limit)
    try:
        data = orjson.loads(raw or b"{}")
    except orjson.JSONDecodeError as exc:
        raise _Fail(error(400, "invalid JSON", str(exc))) from exc
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        detail = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors()]
        raise _Fail(error(422, "invalid request body", detail)) from exc


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole body, however it arrives (pieces, chunks), read to EOF; 413 past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(limit + 1 - size)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise web.HTTPRequestEntityTooLarge(max_size=limit, actual_size=size)


def page(request: web.Request) -> tuple[int, int]:
    """``(offset, limit)`` of a list request: ``limit`` 1-500 (default 100), ``offset`` from 0."""
    q = request.query
    return (
        query_int(q.get("offset"), "offset", 0, 0, 1_000_000),
        query_int(q.get("limit"), "limit", 100, 1, 500),
    )


def paged(name: str, items: list[dict[str, Any]], offset: int, limit: int, total: int) -> web.Response:
    """One page: the items under ``name``, and ``next_offset`` (None on the last page)."""
    nxt = offset + limit if offset + limit < total else None
    return json({name: items, "next_offset": nxt})


class _Fail(Exception):
    def __init__(self, response: web.Response) -> None:
        self.response = response


def handled(fn: Handler) -> Handler:
    """Map domain errors to JSON responses."""

    async def wrapper(request: web.Request) -> web.StreamResponse:
        try:
            return await fn(request)
        except _Fail as f:
            return f.response
        except NotFound as exc:
            return error(404, str(exc))
        except Conflict as exc:
            return error(409, str(exc))
        except UnsafeURL as exc:
            return error(422, "URL refused", str(exc))
        except RedisOutOfMemory:
            return error(503, REDIS_FULL)
        except SecretsLocked as exc:  # configuration, not the request: set the key that sealed them
            return error(500, str(exc))
        except (StoreError, ValueError) as exc:
            return error(422, str(exc))

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def store_of(request: web.Request) -> Store:
    deps = deps_of(request)
    store = deps.extra.get("alerting_store")
    if store is None:
        store = deps.extra["alerting_store"] = Store(deps.redis, deps.settings)
    return store


def service_of(request: web.Request) -> Any:
    """An AlertService for enqueueing (replay, test-send); the alerter process delivers."""
    from monitor.alerting.service import AlertService

    deps = deps_of(request)
    svc = deps.extra.get("alert_service")
    if svc is None:
        svc = deps.extra["alert_service"] = AlertService(deps.settings, deps.redis)
    return svc


def public(sub: Subscription) -> dict[str, Any]:
    return sub.model_dump(mode="json")


async def _check_target(request: web.Request, target: object) -> None:
    settings = deps_of(request).settings
    if isinstance(target, WebhookTarget):
        await resolve_checked(target.url, settings.webhook_allow)
    elif isinstance(target, ChatTarget):
        for url in target.urls:
            await resolve_chat_url(url.get_secret_value(), settings)


@routes.get("/api/v1/subscriptions")
@handled
async def list_subscriptions(request: web.Request) -> web.Response:
    offset, limit = page(request)
    store = store_of(request)
    subs = await store.list(offset, limit)
    return paged("subscriptions", [public(s) for s in subs], offset, limit, await store.count())


@routes.post("/api/v1/subscriptions")
@handled
async def create_subscription(request: web.Request) -> web.Response:
    spec = await read_model(request, SubscriptionSpec)
    await _check_target(request, spec.channel)
    sub, secret = await store_of(request).create(spec)
    return json({"subscription": public(sub), "secret": secret}, 201)


@routes.get("/api/v1/subscriptions/{id}")
@handled
async def show_subscription(request: web.Request) -> web.Response:
    return json({"subscription": public(await store_of(request).get(request.match_info["id"]))})


@routes.patch("/api/v1/subscriptions/{id}")
@handled
async def update_subscription(request: web.Request) -> web.Response:
    patch = await read_model(request, SubscriptionPatch)
    if patch.channel is not None:
        await _check_target(request, patch.channel)
    sub, secret = await store_of(request).update(request.match_info["id"], patch)
    return json({"subscription": public(sub), "secret": secret})


@routes.delete("/api/v1/subscriptions/{id}")
@handled
async def delete_subscription(request: web.Request) -> web.Response:
    await store_of(request).delete(request.match_info["id"])
    return web.Response(status=204)


@routes.post("/api/v1/subscriptions/{id}/rotate-secret")
@handled
async def rotate_secret(request: web.Request) -> web.Response:
    """New signing secret first; the previous one stays valid until the next rotation."""
    sub, secret = await store_of(request).rotate_secret(request.match_info["id"])
    return json({"subscription": public(sub), "secret": secret})


@routes.post("/api/v1/subscriptions/{id}/test")
@handled
async def test_send(request: web.Request) -> web.Response:
    """Queue a sample alert to this subscription (delivered by the running alerter)."""
    from monitor.alerting.samples import sample_alert

    sub = await store_of(request).get(request.match_info["id"])
    alert = sample_alert()
    svc = service_of(request)
    (result,) = await svc.enqueue_for(sub, [alert], force=True, kind="test")
    from monitor.alerting.model import delivery_id

    return json({"delivery_id": delivery_id(sub.id, alert, sub.channel_name), "result": result}, 202)
