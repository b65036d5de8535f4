"""Subscription and silence administration in-process: the API's operations, straight on Redis.

Used by ``monitor subscriptions``/``monitor silences`` when no ``--api`` is given. ``call(method, path,
body)`` takes the same paths and bodies as ``/api/v1/...`` and answers ``(status, JSON-able body)`` as
the API would: bodies are validated into the frozen models (``ValidationError`` propagates), webhook
URLs pass the SSRF guard (``UnsafeURL``), unknown ids raise ``NotFound``, secrets are shown only by
create and rotate-secret. An unknown path raises ``LookupError``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import redis.asyncio as aioredis

from monitor.alerting.store import Store

if TYPE_CHECKING:
    from monitor.settings import Settings


class Admin:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.redis = aioredis.Redis.from_url(settings.redis)
        self.store = Store(self.redis, settings)

    async def close(self) -> None:
        await self.redis.aclose()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        from urllib.parse import parse_qsl, urlsplit

        from monitor.alerting import model as m
        from monitor.alerting.channels.chatguard import resolve_chat_url
        from monitor.alerting.channels.ssrf import resolve_checked

        async def check(target: object) -> None:
            if isinstance(target, m.WebhookTarget):
                await resolve_checked(target.url, self.settings.webhook_allow)
            elif isinstance(target, m.ChatTarget):
                for url in target.urls:
                    await resolve_chat_url(url.get_secret_value(), self.settings)

        split = urlsplit(path)
        query = dict(parse_qsl(split.query))
        offset, limit = int(query.get("offset", 0)), int(query.get("limit", 100))
        path = split.path
        parts = path.strip("/").split("/")
        kind, ident, action = (
            parts[0],
            parts[1] if len(parts) > 1 else None,
            parts[2] if len(parts) > 2 else None,
        )
        st = self.store
        if kind == "subscriptions":
            if method == "GET" and ident is None:
                subs = [s.model_dump(mode="json") for s in await st.list(offset, limit)]
                nxt = offset + limit if offset + limit < await st.count() else None
                return 200, {"subscriptions": subs, "next_offset": nxt}
            if method == "POST" and ident is None:
                spec = m.SubscriptionSpec.model_validate(body)
                await check(spec.channel)
                sub, secret = await st.create(spec)
                return 201, {"subscription": sub.model_dump(mode="json"), "secret": secret}
            assert ident is not None
            if method == "GET":
                return 200, {"subscription": (await st.get(ident)).model_dump(mode="json")}
            if method == "PATCH":
                patch = m.SubscriptionPatch.model_validate(body)
                await check(patch.channel)
                sub, secret = await st.update(ident, patch)
                return 200, {"subscription": sub.model_dump(mode="json"), "secret": secret}
            if method == "DELETE":
                await st.delete(ident)
                return 204, None
            if action == "rotate-secret":
                sub, secret = await st.rotate_secret(ident)
                return 200, {"subscription": sub.model_dump(mode="json"), "secret": secret}
            if action == "test":
                from monitor.alerting.model import delivery_id
                from monitor.alerting.samples import sample_alert
                from monitor.alerting.service import AlertService

                sub = await st.get(ident)
                alert = sample_alert()
                (res,) = await AlertService(self.settings, self.redis).enqueue_for(
                    sub, [alert], force=True, kind="test"
                )
                return 202, {"delivery_id": delivery_id(sub.id, alert, sub.channel_name), "result": res}
        if kind == "silences":
            if method == "GET" and ident is None:
                sils = [s.model_dump(mode="json") for s in await st.list_silences(offset, limit)]
                nxt = offset + limit if offset + limit < await st.count_silences() else None
                return 200, {"silences": sils, "next_offset": nxt}
            if method == "POST":
                sil = await st.create_silence(m.SilenceSpec.model_validate(body))
                return 201, {"silence": sil.model_dump(mode="json")}
            assert ident is not None
            if method == "GET":
                return 200, {"silence": (await st.get_silence(ident)).model_dump(mode="json")}
            if method == "PATCH":
                sil = await st.update_silence(ident, m.SilencePatch.model_validate(body))
                return 200, {"silence": sil.model_dump(mode="json")}
            if method == "DELETE":
                await st.delete_silence(ident)
                return 204, None
        raise LookupError(f"unsupported: {method} {path}")
