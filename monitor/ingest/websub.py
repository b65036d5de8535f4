"""WebSub (push) for feeds that advertise a hub, when ``Settings.public_url`` is set.

Subscriber side, run by the ``Poller`` (``WebSub``):
1. discovery: after a successful poll, the feed body's ``<link rel="hub">`` (Atom, or ``atom:link`` in
   RSS) names the hub and ``rel="self"`` the topic (default: the feed URL);
2. subscribe: a ``Subscription`` record (hub, topic, a fresh random ``hub.secret``, state ``pending``) is
   written to Redis *before* the request, then ``hub.mode=subscribe`` is POSTed with
   ``hub.callback = {public_url}/websub/{feed key}`` and ``hub.lease_seconds``; a hub that does not
   answer 202/204 is tried again after ``RETRY_S``;
3. the hub's verification of intent (``GET`` on the callback, ``monitor.api.websub``) is answered with
   ``hub.challenge`` only for a pending or active record with that topic; it makes the record
   ``active`` with ``lease_until``; ``denied`` is recorded too;
4. content: the hub POSTs the feed document to the callback; the route checks ``X-Hub-Signature``
   (HMAC of the body with the secret: sha1, sha256, sha384 or sha512) and appends good pushes to a Redis
   stream (``{prefix}websub:inbox``) before answering 2xx; a bad or missing signature is answered 2xx
   too (the spec says so: nothing is revealed) and dropped. ``run()`` reads the stream as a consumer
   group and publishes each push's unseen entries through the poller's own path (seen ids, full
   text, produce, ack, mark seen), then acknowledges the stream entry — a crash re-reads it;
5. renewal: a subscription is renewed when less than a fifth of its lease is left;
6. fallback: a feed with an active lease is still polled, every ``websub_fallback_interval`` seconds
   at least (``after_poll`` pushes its next due time out), so a hub that stops pushing costs latency,
   never articles.
Pure parts (``discover``, ``signature_ok``) are module functions; Redis keys are under the ingest prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import random
import re
import secrets
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import aiohttp
import orjson
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, ValidationError
from redis.exceptions import RedisError, ResponseError

from monitor.ingest.feeds import FeedConfig
from monitor.ingest.fetch import FetchResult, make_session
from monitor.ingest.parse import FeedParseError, absolute, parse_feed
from monitor.ingest.read import THREAD_PARSE_BYTES, FeedRead
from monitor.ingest.state import FeedState

if TYPE_CHECKING:
    from monitor.ingest.poller import Poller

log = logging.getLogger(__name__)

RETRY_S = 3600.0  # a hub that refused or failed a subscription is asked again after this long
REFRESH_S = 5.0  # how often known subscription records are re-read (the callback route changes them)
RENEW_FRACTION = 0.2  # renew when less than this part of the lease is left
INBOX_MAX = 10_000  # pushes kept in the Redis stream (approximate trim)
GROUP = "poller"
_LINK = re.compile(rb"<(?:atom:|atom10:)?link\b[^>]*>", re.I)
_ATTR = re.compile(rb"""\b(rel|href)\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_HASHES = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha384": hashlib.sha384, "sha512": hashlib.sha512}


class Subscription(BaseModel):
    """One feed's subscription, as kept in Redis (times are Unix seconds)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hub: str
    topic: str
    secret: str
    state: Literal["pending", "active", "denied", "failed"] = "pending"
    requested_at: float = 0.0
    lease_seconds: int = 0
    lease_until: float | None = None
    verified_at: float | None = None


def keys(prefix: str) -> tuple[str, str]:
    """(subscription key prefix, inbox stream key)."""
    return f"{prefix}websub:sub:", f"{prefix}websub:inbox"


def discover(body: bytes, base: str) -> tuple[str, str] | None:
    """(hub, self) from a feed's link elements (self '' when absent), or None without a hub."""
    hub = topic = ""
    for m in _LINK.finditer(body[:262_144]):
        attrs = {a.group(1).lower(): (a.group(2) or a.group(3) or b"") for a in _ATTR.finditer(m.group(0))}
        rels = attrs.get(b"rel", b"").lower().split()
        href = attrs.get(b"href", b"").decode("utf-8", "replace").strip()
        if not href:
            continue
        if b"hub" in rels and not hub:
            hub = absolute(href, base)
        elif b"self" in rels and not topic:
            topic = absolute(href, base)
    if not hub.startswith(("http://", "https://")):
        return None
    return hub, topic


def signature_ok(header: str | None, body: bytes, secret: str) -> bool:
    """``X-Hub-Signature: method=hex`` checked in constant time; unknown methods fail."""
    if not header or "=" not in header:
        return False
    method, _, sent = header.strip().partition("=")
    algo = _HASHES.get(method.strip().lower())
    if algo is None:
        return False
    want = hmac.new(secret.encode(), body, algo).hexdigest()
    return hmac.compare_digest(want, sent.strip().lower())


async def load(redis: aioredis.Redis, prefix: str, feed_key: str) -> Subscription | None:
    raw = await redis.get(keys(prefix)[0] + feed_key)
    if not raw:
        return None
    try:
        return Subscription.model_validate(orjson.loads(raw))
    except (orjson.JSONDecodeError, ValidationError):
        return None


async def save(redis: aioredis.Redis, prefix: str, feed_key: str, sub: Subscription) -> None:
    await redis.set(keys(prefix)[0] + feed_key, orjson.dumps(sub.model_dump()))


class WebSub:
    """The poller's WebSub side (see the module docstring)."""

    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self.settings = poller.settings
        self.prefix = poller.store.prefix
        self.redis = poller.store.redis
        self.base = (self.settings.public_url or "").rstrip("/")
        self.subs: dict[str, Subscription] = {}  # feed key -> last known record
        self.asked: dict[str, float] = {}  # feed key -> when a subscribe was last sent
        self.by_key = {f.key: f for f in poller.feeds}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:  # its own: subscribe requests and full text of pushed entries
            self._session = make_session(self.poller.limits, concurrency=8)
        return self._session

    def callback(self, feed: FeedConfig) -> str:
        return f"{self.base}/websub/{feed.key}"

    # --- poller hooks ----------------------------------------------------------------------------

    def after_poll(self, feed: FeedConfig, read: FeedRead, st: FeedState, now: float) -> FeedState:
        """Discover a hub in a fetched body (subscribing in the background) and keep an actively
        pushed feed's next poll at least ``websub_fallback_interval`` away."""
        body = read.fetch.body
        if body and read.fetch.status == "ok" and now - self.asked.get(feed.key, 0.0) >= RETRY_S:
            found = discover(body, read.fetch.final_url or feed.url)
            sub = self.subs.get(feed.key)
            if found is not None and (sub is None or sub.state != "active" or sub.hub != found[0]):
                self.asked[feed.key] = now
                self._spawn(self.subscribe(feed, found[0], found[1] or feed.url))
        sub = self.subs.get(feed.key)
        if sub is not None and sub.state == "active" and (sub.lease_until or 0) > now:
            floor = now + self.settings.websub_fallback_interval * random.uniform(1.0, 1.1)
            if (st.next_due or 0) < floor:
                st = st.model_copy(update={"next_due": floor})
        return st

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def subscribe(self, feed: FeedConfig, hub: str, topic: str) -> bool:
        """Record, then ask the hub; True when the hub accepted (202) or verified at once (204)."""
        m = self.poller.metrics
        sub = Subscription(hub=hub, topic=topic, secret=secrets.token_hex(24), requested_at=time.time(),
                           lease_seconds=self.settings.websub_lease)
        old = await load(self.redis, self.prefix, feed.key)
        if old is not None and old.state == "active" and old.hub == hub and old.topic == topic:
            sub = sub.model_copy(update={"secret": old.secret, "state": "active", "lease_until": old.lease_until,
                                         "verified_at": old.verified_at})  # renewal: the lease stays until verified
        await save(self.redis, self.prefix, feed.key, sub)
        self.subs[feed.key] = sub
        form = {"hub.mode": "subscribe", "hub.topic": topic, "hub.callback": self.callback(feed),
                "hub.lease_seconds": str(self.settings.websub_lease), "hub.secret": sub.secret}
        m.websub_events.labels("subscribe_requested").inc()
        status = 0
        try:
            async with asyncio.timeout(self.poller.limits.deadline):
                async with self.session.post(hub, data=form, allow_redirects=False) as resp:
                    status = resp.status
                    await resp.content.read(65536)
        except (TimeoutError, OSError, aiohttp.ClientError, ValueError) as exc:
            log.warning("feed %s: WebSub subscribe at %s failed: %r (polling continues)", feed.name, hub, exc)
        if status in (202, 204):
            self.subs[feed.key] = await load(self.redis, self.prefix, feed.key) or sub
            return True
        if status:
            log.warning("feed %s: WebSub hub %s answered %d to subscribe (polling continues)", feed.name, hub,
                        status)
        m.websub_events.labels("subscribe_failed").inc()
        if sub.state != "active":
            await save(self.redis, self.prefix, feed.key, sub.model_copy(update={"state": "failed"}))
            self.subs[feed.key] = sub.model_copy(update={"state": "failed"})
        return False

    # --- background: pushes and renewals ---------------------------------------------------------

    async def run(self) -> None:
        """Read pushes and renew leases until cancelled."""
        loaded = [(k, await load(self.redis, self.prefix, k)) for k in self.by_key]
        self.subs.update({k: s for k, s in loaded if s is not None})
        inbox = keys(self.prefix)[1]
        with contextlib.suppress(ResponseError):  # BUSYGROUP: it exists
            await self.redis.xgroup_create(inbox, GROUP, id="0", mkstream=True)
        consumer = f"poller-{secrets.token_hex(4)}"
        pending = True  # first take what this group was given but never acknowledged (a crash)
        refreshed = 0.0
        while True:
            try:
                if time.monotonic() - refreshed >= REFRESH_S:
                    refreshed = time.monotonic()
                    for k in list(self.subs):
                        sub = await load(self.redis, self.prefix, k)
                        if sub is not None:
                            self.subs[k] = sub
                await self._renew_due()
                if pending:
                    got: Any = await self.redis.xautoclaim(inbox, GROUP, consumer, min_idle_time=0,
                                                           start_id="0-0", count=100)
                    entries = got[1]
                    pending = bool(entries)
                else:
                    res: Any = await self.redis.xreadgroup(GROUP, consumer, {inbox: ">"}, count=50, block=1000)
                    entries = res[0][1] if res else []
                for entry_id, fields in entries:
                    await self._handle(fields)
                    await self.redis.xack(inbox, GROUP, entry_id)
            except RedisError as exc:
                log.warning("WebSub inbox: redis error %r; retrying in 1 s", exc)
                pending = True  # what was read and not acknowledged is taken again
                await asyncio.sleep(1.0)

    async def _renew_due(self) -> None:
        now = time.time()
        for key, sub in list(self.subs.items()):
            feed = self.by_key.get(key)
            if feed is None or sub.state != "active" or sub.lease_until is None:
                continue
            left = sub.lease_until - now
            if left < RENEW_FRACTION * max(sub.lease_seconds, 1) and now - self.asked.get(key, 0.0) > left / 2:
                self.asked[key] = now
                self._spawn(self.subscribe(feed, sub.hub, sub.topic))

    async def _handle(self, fields: dict[bytes, bytes]) -> None:
        key = fields.get(b"feed", b"").decode()
        feed = self.by_key.get(key)
        body = fields.get(b"body", b"")
        if feed is None or not body:
            return
        sub = await load(self.redis, self.prefix, key)
        if sub is not None:
            self.subs[key] = sub
        ctype = fields.get(b"type", b"").decode("latin-1")
        try:
            if len(body) > THREAD_PARSE_BYTES:
                parsed = await asyncio.to_thread(parse_feed, body, content_type=ctype, base_url=feed.url)
            else:
                parsed = parse_feed(body, content_type=ctype, base_url=feed.url)
        except FeedParseError as exc:
            log.warning("feed %s: a WebSub push could not be parsed: %s", feed.name, exc)
            return
        if not parsed.entries:
            return
        fetched = FetchResult(url=feed.url, status="ok", http_status=200, final_url=feed.url)
        started = datetime.now(UTC)
        outcome = await self.poller._publish_new(feed, FeedRead(fetch=fetched, parsed=parsed), started,
                                                 self.session)
        self.poller.metrics.source_articles.labels("websub").inc(outcome.new)
        if outcome.failed_publish:
            raise RedisError("publish of a WebSub push not acknowledged")  # leave it in the stream: retried

    async def close(self) -> None:
        for t in list(self._tasks):
            t.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        if self._session is not None:
            await self._session.close()
            self._session = None
