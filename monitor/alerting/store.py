"""Subscriptions and silences in Redis: create, read, update, delete; a change counter for caches.

In: validated models (``SubscriptionSpec``, ``SubscriptionPatch``, ``SilenceSpec``, ``SilencePatch``).
Out: stored ``Subscription``/``Silence``. A webhook subscription gets a fresh signing secret when it
has none; ``create`` and ``rotate_secret`` return that secret, the only time it is shown. Secrets are
stored whole (they sign requests) and masked in every other dump. This module does no network checks:
callers validate webhook URLs with ``channels.ssrf.check_url`` before storing.

Errors: ``NotFound`` (do not retry), ``Conflict`` (id taken); a Redis error propagates (retry later).
"""

from __future__ import annotations

import builtins
import secrets as _secrets
from base64 import b64decode

import redis.asyncio as aioredis
from pydantic import SecretStr

from monitor.alerting import keys
from monitor.alerting.model import (
    Silence,
    SilencePatch,
    SilenceSpec,
    Subscription,
    SubscriptionPatch,
    SubscriptionSpec,
    WebhookTarget,
    new_webhook_secret,
)
from monitor.models import utcnow


class StoreError(Exception):
    retryable = False


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


def _new_id() -> str:
    return _secrets.token_hex(8)


def _check_secret(s: str) -> None:
    raw = s.removeprefix("whsec_")
    try:
        n = len(b64decode(raw, validate=True))
    except ValueError as exc:
        raise ValueError("webhook secret must be whsec_ + base64") from exc
    if not 24 <= n <= 64:
        raise ValueError("webhook secret must hold 24..64 random bytes")


class Store:
    def __init__(self, redis: aioredis.Redis) -> None:
        self.redis = redis

    # --- subscriptions --------------------------------------------------------------------------
    async def create(self, spec: SubscriptionSpec, id: str | None = None) -> tuple[Subscription, str | None]:
        """Store a new subscription; returns it and its new webhook secret (None for other channels)."""
        secret = None
        data = spec.model_dump(context={"reveal": True})
        if isinstance(spec.channel, WebhookTarget):
            if spec.channel.secrets:
                for s in spec.channel.secrets:
                    _check_secret(s.get_secret_value())
            else:
                secret = new_webhook_secret()
                data["channel"]["secrets"] = [secret]
        sub = Subscription.model_validate({**data, "id": id or _new_id()})
        ok = await self.redis.set(keys.sub(sub.id), sub.storage_json(), nx=True)
        if not ok:
            raise Conflict(f"subscription {sub.id} exists")
        await self.redis.sadd(keys.SUBS, sub.id)
        await self.redis.incr(keys.VERSION)
        return sub, secret

    async def get(self, sub_id: str) -> Subscription:
        raw = await self.redis.get(keys.sub(sub_id))
        if raw is None:
            raise NotFound(f"no subscription {sub_id}")
        return Subscription.model_validate_json(raw)

    async def list(self) -> list[Subscription]:
        ids = sorted(x.decode() if isinstance(x, bytes) else x for x in await self.redis.smembers(keys.SUBS))
        if not ids:
            return []
        async with self.redis.pipeline(transaction=False) as p:
            for i in ids:
                p.get(keys.sub(i))
            raws = await p.execute()
        return [Subscription.model_validate_json(r) for r in raws if r is not None]

    async def put(self, sub: Subscription) -> Subscription:
        if not await self.redis.exists(keys.sub(sub.id)):
            raise NotFound(f"no subscription {sub.id}")
        await self.redis.set(keys.sub(sub.id), sub.storage_json())
        await self.redis.incr(keys.VERSION)
        return sub

    async def update(self, sub_id: str, patch: SubscriptionPatch) -> tuple[Subscription, str | None]:
        """Apply a patch. A new webhook target without secrets keeps the old secrets (or gets one)."""
        old = await self.get(sub_id)
        secret = None
        new = old.patched(patch)
        if isinstance(new.channel, WebhookTarget) and not new.channel.secrets:
            kept = old.channel.secrets if isinstance(old.channel, WebhookTarget) else ()
            if not kept:
                secret = new_webhook_secret()
                kept = (SecretStr(secret),)
            new = new.model_copy(update={"channel": new.channel.model_copy(update={"secrets": kept})})
        if patch.enabled and not old.enabled:  # a fresh start: forget the old failure run
            await self.redis.delete(keys.health(sub_id))
        return await self.put(new), secret

    async def rotate_secret(self, sub_id: str) -> tuple[Subscription, str]:
        """A new signing secret first; the previous one stays valid (two active) until the next rotation."""
        old = await self.get(sub_id)
        if not isinstance(old.channel, WebhookTarget):
            raise StoreError("only webhook subscriptions have a signing secret")
        secret = new_webhook_secret()
        target = old.channel.model_copy(update={"secrets": (SecretStr(secret), *old.channel.secrets[:1])})
        return await self.put(old.model_copy(update={"channel": target, "updated_at": utcnow()})), secret

    async def disable(self, sub_id: str, reason: str) -> Subscription:
        old = await self.get(sub_id)
        return await self.put(old.model_copy(update={"enabled": False, "disabled_reason": reason[:500]}))

    async def delete(self, sub_id: str) -> None:
        n = await self.redis.delete(keys.sub(sub_id))
        await self.redis.srem(keys.SUBS, sub_id)
        await self.redis.incr(keys.VERSION)
        if not n:
            raise NotFound(f"no subscription {sub_id}")

    # --- silences -------------------------------------------------------------------------------
    async def create_silence(self, spec: SilenceSpec, id: str | None = None) -> Silence:
        data = spec.model_dump(exclude_none=True)
        sil = Silence.model_validate({**data, "id": id or _new_id()})
        if not await self.redis.hsetnx(keys.SILENCES, sil.id, sil.model_dump_json()):
            raise Conflict(f"silence {sil.id} exists")
        await self.redis.incr(keys.VERSION)
        return sil

    async def get_silence(self, sil_id: str) -> Silence:
        raw = await self.redis.hget(keys.SILENCES, sil_id)
        if raw is None:
            raise NotFound(f"no silence {sil_id}")
        return Silence.model_validate_json(raw)

    async def list_silences(self) -> builtins.list[Silence]:
        raw = await self.redis.hgetall(keys.SILENCES)
        return sorted((Silence.model_validate_json(v) for v in raw.values()), key=lambda s: s.starts_at)

    async def update_silence(self, sil_id: str, patch: SilencePatch) -> Silence:
        old = await self.get_silence(sil_id)
        data = old.model_dump()
        data.update(patch.model_dump(exclude_unset=True))
        sil = Silence.model_validate(data)
        await self.redis.hset(keys.SILENCES, sil.id, sil.model_dump_json())
        await self.redis.incr(keys.VERSION)
        return sil

    async def delete_silence(self, sil_id: str) -> None:
        if not await self.redis.hdel(keys.SILENCES, sil_id):
            raise NotFound(f"no silence {sil_id}")
        await self.redis.incr(keys.VERSION)

    async def version(self) -> int:
        return int(await self.redis.get(keys.VERSION) or 0)
