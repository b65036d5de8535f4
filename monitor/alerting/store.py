"""Subscriptions and silences in Redis: create, read, update, delete; a change counter for caches.

In: validated models (``SubscriptionSpec``, ``SubscriptionPatch``, ``SilenceSpec``, ``SilencePatch``).
Out: stored ``Subscription``/``Silence``. A webhook subscription gets a fresh signing secret when it
has none; ``create`` and ``rotate_secret`` return that secret, the only time it is shown. Secrets are
stored whole (they sign requests), sealed with ``Settings.secret_key`` when one is set
(``secretbox``), and masked in every other dump. This module does no network checks: callers validate
webhook and chat URLs (``channels.ssrf``, ``channels.chatguard``) before storing.

Limits (with ``settings``): at most ``max_subscriptions`` subscriptions and ``max_silences`` silences,
at most ``max_filter_items`` entries in any filter or silence list; lists are read a page at a time.

Every change bumps the change counter and records ``(kind, id)`` under that version in a short change
log (``keys.CHANGES``), so a cache reloads only what changed (``changes_since``).

Errors: ``NotFound`` (do not retry), ``Conflict`` (id taken), ``LimitReached`` (delete something or
raise the limit); a Redis error propagates (retry later).
"""

from __future__ import annotations

import builtins
import secrets as _secrets
from base64 import b64decode
from typing import TYPE_CHECKING, Any

import orjson
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
from monitor.alerting.secretbox import SecretBox
from monitor.models import utcnow

if TYPE_CHECKING:
    from monitor.settings import Settings

#: INCR the change counter and log (kind, id) under the new version, trimmed to the newest entries.
_CHANGE = """
local v = redis.call('INCR', KEYS[1])
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], v .. '-1', 'kind', ARGV[1], 'id', ARGV[2])
return v
"""


class StoreError(Exception):
    retryable = False


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    pass


class LimitReached(StoreError):
    """A cap from the settings (``max_subscriptions``, ``max_silences``, ``max_filter_items``)."""


def _text(x: bytes | str) -> str:
    return x.decode() if isinstance(x, bytes) else x


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
    def __init__(self, redis: aioredis.Redis, settings: Settings | None = None) -> None:
        self.redis = redis
        self.settings = settings
        self.box = SecretBox(settings.secret_key if settings is not None else None)
        self._change = redis.register_script(_CHANGE)

    # --- storage form, limits, change log -------------------------------------------------------
    def _dump(self, sub: Subscription) -> bytes:
        if not self.box.enabled:
            return sub.storage_json()
        return orjson.dumps(self.box.seal(orjson.loads(sub.storage_json())))

    def _load(self, raw: bytes | str) -> Subscription:
        return Subscription.model_validate(self.box.open_(orjson.loads(raw)))

    def _check_lists(self, what: str, lists: dict[str, Any]) -> None:
        cap = self.settings.max_filter_items if self.settings is not None else None
        for name, items in lists.items():
            if cap is not None and items is not None and len(items) > cap:
                raise LimitReached(
                    f"{what}.{name}: {len(items)} entries, at most {cap} (MONITOR_MAX_FILTER_ITEMS)"
                )

    def _check_filter(self, sub: Subscription) -> None:
        f = sub.filter
        self._check_lists("filter", {k: getattr(f, k) for k in ("rules", "tags", "languages", "sources")})

    async def _changed(self, kind: str, ident: str) -> None:
        await self._change(keys=[keys.VERSION, keys.CHANGES], args=[kind, ident, 10000])

    async def changes_since(self, version: int) -> tuple[int, set[tuple[str, str]]] | None:
        """``(current version, {(kind, id)})`` changed after ``version``; None when the log no longer
        reaches back that far (reload everything)."""
        current = await self.version()
        if current <= version:
            return current, set()
        rows = await self.redis.xrange(keys.CHANGES, min=f"{version + 1}-0", max=f"{current}-1") or []
        entries = [(_text(i or ""), {_text(k): _text(v) for k, v in (f or {}).items()}) for i, f in rows]
        if {int(i.split("-")[0]) for i, _ in entries} != set(range(version + 1, current + 1)):
            return None
        return current, {(f["kind"], f["id"]) for _, f in entries}

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
        self._check_filter(sub)
        cap = self.settings.max_subscriptions if self.settings is not None else None
        if cap is not None and await self.redis.scard(keys.SUBS) >= cap:
            raise LimitReached(f"at most {cap} subscriptions (MONITOR_MAX_SUBSCRIPTIONS); delete some first")
        ok = await self.redis.set(keys.sub(sub.id), self._dump(sub), nx=True)
        if not ok:
            raise Conflict(f"subscription {sub.id} exists")
        await self.redis.sadd(keys.SUBS, sub.id)
        await self._changed("sub", sub.id)
        return sub, secret

    async def get(self, sub_id: str) -> Subscription:
        raw = await self.redis.get(keys.sub(sub_id))
        if raw is None:
            raise NotFound(f"no subscription {sub_id}")
        return self._load(raw)

    async def get_many(self, ids: builtins.list[str]) -> dict[str, Subscription]:
        """The ones of ``ids`` that exist."""
        if not ids:
            return {}
        async with self.redis.pipeline(transaction=False) as p:
            for i in ids:
                p.get(keys.sub(i))
            raws = await p.execute()
        return {i: self._load(r) for i, r in zip(ids, raws, strict=True) if r is not None}

    async def count(self) -> int:
        return int(await self.redis.scard(keys.SUBS))

    async def list(self, offset: int = 0, limit: int | None = None) -> builtins.list[Subscription]:
        """Subscriptions ordered by id; ``offset``/``limit`` for one page."""
        ids = sorted(x.decode() if isinstance(x, bytes) else x for x in await self.redis.smembers(keys.SUBS))
        ids = ids[offset : None if limit is None else offset + limit]
        found = await self.get_many(ids)
        return [found[i] for i in ids if i in found]

    async def put(self, sub: Subscription) -> Subscription:
        if not await self.redis.exists(keys.sub(sub.id)):
            raise NotFound(f"no subscription {sub.id}")
        self._check_filter(sub)
        await self.redis.set(keys.sub(sub.id), self._dump(sub))
        await self._changed("sub", sub.id)
        return sub

    async def reencrypt(self) -> int:
        """Rewrite every subscription's secrets with the newest key (rotation); returns how many."""
        n = 0
        for sub in await self.list():
            data = self.box.rotate(orjson.loads(sub.storage_json()))
            await self.redis.set(keys.sub(sub.id), orjson.dumps(data), xx=True)
            n += 1
        return n

    async def update(self, sub_id: str, patch: SubscriptionPatch) -> tuple[Subscription, str | None]:
        """Apply a patch. A new webhook target without secrets keeps the old secrets (or gets one)."""
        old = await self.get(sub_id)
        secret = None
        new = old.patched(patch)
        if isinstance(patch.channel, WebhookTarget):
            for s in patch.channel.secrets:
                _check_secret(s.get_secret_value())
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
        await self._changed("sub", sub_id)
        if not n:
            raise NotFound(f"no subscription {sub_id}")

    # --- silences -------------------------------------------------------------------------------
    async def create_silence(self, spec: SilenceSpec, id: str | None = None) -> Silence:
        data = spec.model_dump(exclude_none=True)
        sil = Silence.model_validate({**data, "id": id or _new_id()})
        self._check_lists("silence", {"rules": sil.rules, "tags": sil.tags, "sources": sil.sources})
        cap = self.settings.max_silences if self.settings is not None else None
        if cap is not None and await self.redis.hlen(keys.SILENCES) >= cap:
            raise LimitReached(f"at most {cap} silences (MONITOR_MAX_SILENCES); delete expired ones first")
        if not await self.redis.hsetnx(keys.SILENCES, sil.id, sil.model_dump_json()):
            raise Conflict(f"silence {sil.id} exists")
        await self._changed("silence", sil.id)
        return sil

    async def get_silence(self, sil_id: str) -> Silence:
        raw = await self.redis.hget(keys.SILENCES, sil_id)
        if raw is None:
            raise NotFound(f"no silence {sil_id}")
        return Silence.model_validate_json(raw)

    async def list_silences(self, offset: int = 0, limit: int | None = None) -> builtins.list[Silence]:
        """Silences by start time (then id); ``offset``/``limit`` for one page."""
        raw = await self.redis.hgetall(keys.SILENCES)
        sils = sorted((Silence.model_validate_json(v) for v in raw.values()), key=lambda s: (s.starts_at, s.id))
        return sils[offset : None if limit is None else offset + limit]

    async def count_silences(self) -> int:
        return int(await self.redis.hlen(keys.SILENCES))

    async def update_silence(self, sil_id: str, patch: SilencePatch) -> Silence:
        old = await self.get_silence(sil_id)
        data = old.model_dump()
        data.update(patch.model_dump(exclude_unset=True))
        sil = Silence.model_validate(data)
        self._check_lists("silence", {"rules": sil.rules, "tags": sil.tags, "sources": sil.sources})
        await self.redis.hset(keys.SILENCES, sil.id, sil.model_dump_json())
        await self._changed("silence", sil.id)
        return sil

    async def delete_silence(self, sil_id: str) -> None:
        if not await self.redis.hdel(keys.SILENCES, sil_id):
            raise NotFound(f"no silence {sil_id}")
        await self._changed("silence", sil_id)

    async def version(self) -> int:
        return int(await self.redis.get(keys.VERSION) or 0)
