"""``GET``/``POST /websub/{id}``: the WebSub callback of the feed whose key is ``key`` (hubs only).

``GET`` is the hub's verification of intent: answered with ``hub.challenge`` (200, text) only when a
subscription to ``hub.topic`` for that feed is pending or active in Redis (``monitor.ingest.websub``),
which it then makes active until now + ``hub.lease_seconds``; ``hub.mode=denied`` is recorded; anything
else is 404. ``POST`` is a content push: the body (at most ``MONITOR_FETCH_MAX_BYTES``, else 413) is
checked against ``X-Hub-Signature`` with the subscription's secret; a good push is appended to the
inbox stream the poller reads, and only then answered 202. A missing or wrong signature is also
answered 202, as the WebSub spec asks, and the body dropped (counted as ``bad_signature``). These paths
are open (no bearer token): a hub cannot send one; the secret and the pending record protect them.
"""

from __future__ import annotations

import time

from aiohttp import web

from monitor.api.app import deps_of
from monitor.ingest.websub import INBOX_MAX, keys, load, save, signature_ok
from monitor.metrics import METRICS

routes = web.RouteTableDef()


def _text(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/plain")


@routes.get("/websub/{id}")
async def verify(request: web.Request) -> web.Response:
    deps = deps_of(request)
    prefix = deps.settings.ingest_redis_prefix
    key = request.match_info["id"]
    q = request.query
    mode, topic = q.get("hub.mode", ""), q.get("hub.topic", "")
    sub = await load(deps.redis, prefix, key)
    if sub is None or topic != sub.topic:
        METRICS.websub_events.labels("unknown_topic").inc()
        return _text("no such subscription", 404)
    if mode == "denied":
        await save(deps.redis, prefix, key, sub.model_copy(update={"state": "denied"}))
        METRICS.websub_events.labels("denied").inc()
        return _text("noted")
    challenge = q.get("hub.challenge", "")
    if mode != "subscribe" or not challenge or sub.state == "denied":
        return _text("not expected", 404)
    try:
        lease = int(q.get("hub.lease_seconds") or sub.lease_seconds)
    except ValueError:
        lease = sub.lease_seconds
    now = time.time()
    await save(deps.redis, prefix, key, sub.model_copy(update={
        "state": "active", "lease_seconds": max(lease, 1), "lease_until": now + max(lease, 1),
        "verified_at": now}))
    METRICS.websub_events.labels("verified").inc()
    return _text(challenge)


@routes.post("/websub/{id}")
async def push(request: web.Request) -> web.Response:
    deps = deps_of(request)
    prefix = deps.settings.ingest_redis_prefix
    key = request.match_info["id"]
    sub = await load(deps.redis, prefix, key)
    if sub is None or sub.state not in ("active", "pending"):
        METRICS.websub_events.labels("unknown_topic").inc()
        return _text("no such subscription", 404)
    cap = deps.settings.fetch_max_bytes
    body = bytearray()
    async for chunk in request.content.iter_chunked(65536):
        body += chunk
        if len(body) > cap:
            return _text(f"body over {cap} bytes", 413)
    if not signature_ok(request.headers.get("X-Hub-Signature"), bytes(body), sub.secret):
        METRICS.websub_events.labels("bad_signature").inc()
        return _text("accepted", 202)  # the spec: answer 2xx, ignore the content
    await deps.redis.xadd(keys(prefix)[1], {"feed": key, "body": bytes(body),
                                            "type": request.headers.get("Content-Type", "")},
                          maxlen=INBOX_MAX, approximate=True)
    METRICS.websub_events.labels("push").inc()
    return _text("accepted", 202)
