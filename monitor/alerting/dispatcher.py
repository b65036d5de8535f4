"""The delivery loop: due deliveries from Redis -> per-endpoint workers -> channels -> recorded outcomes.

One reader task promotes due scheduled deliveries, reads the per-channel work streams (XREADGROUP, woken
by new entries or by the next due time, never sleeping through a schedule) and hands each entry to its
endpoint's (subscription's) in-memory queue. Each endpoint has its own worker and a capped queue, so a
slow or dead endpoint only ever fills its own queue: when full, its entries are deferred in Redis for a
second and everyone else goes on. A worker takes a batch, skips what the notification log already has,
sends through the channel (``send_many``), then records every outcome and acknowledges the entries in
one MULTI (``DeliveryQueue.finish``). Retries are decided here and only here (``queue.retry_at``).

Errors never escape: a channel error becomes an outcome; an infrastructure error (``monitor.retry``:
Redis, network) leaves the entries pending, to be claimed again (own pending at start-up, XAUTOCLAIM after
``delivery_claim_idle``), and the reader backs off with jitter. Any other error (a body that does not
decode, a bug meeting one delivery) is poison: the failed batch is retried entry by entry, so the others
go on, and an entry that fails ``poison_tries`` times is recorded ``dead`` with its reason. Continuous failure for
``delivery_disable_after`` seconds, or HTTP 410, disables the subscription (``health``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from monitor.alerting.channels.base import Channel, DeliveryError
from monitor.alerting.endpoint_health import EndpointHealth
from monitor.alerting.model import Delivery, Silence, Subscription
from monitor.alerting.queue import DeliveryOutcome, DeliveryQueue, Entry, retry_at
from monitor.alerting.store import Store
from monitor.models import Alert
from monitor.retry import Backoff, Tries, is_infrastructure

if TYPE_CHECKING:
    import redis.asyncio as aioredis

    from monitor.metrics import Metrics
    from monitor.settings import Settings

log = logging.getLogger(__name__)


class SubscriptionCache:
    """Subscriptions and silences, reloaded when the store's change counter moves."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.version = -1
        self.subscriptions: list[Subscription] = []
        self.by_id: dict[str, Subscription] = {}
        self.silences: list[Silence] = []

    async def refresh(self, force: bool = False) -> None:
        """Reload what changed since the last refresh (the store's change log); everything only at
        start, on ``force``, or when the log no longer reaches back to our version."""
        changes = None if force or self.version < 0 else await self.store.changes_since(self.version)
        if changes is None:
            v = await self.store.version()
            self.subscriptions = await self.store.list()
            self.by_id = {s.id: s for s in self.subscriptions}
            self.silences = await self.store.list_silences()
            self.version = v
            return
        v, changed = changes
        if not changed:
            self.version = v
            return
        gone = changed_ids(changed, "sub")
        fresh = await self.store.get_many(sorted(gone))
        by_id = {i: s for i, s in self.by_id.items() if i not in gone}
        by_id.update(fresh)
        self.by_id = by_id
        self.subscriptions = [by_id[i] for i in sorted(by_id)]
        if any(k == "silence" for k, _ in changed):
            self.silences = await self.store.list_silences()
        self.version = v


def changed_ids(changed: set[tuple[str, str]], kind: str) -> set[str]:
    return {i for k, i in changed if k == kind}


class _Endpoint:
    """One subscription's capped queue, its worker task, and the sends it has in flight."""

    def __init__(self, cap: int) -> None:
        self.queue: asyncio.Queue[Entry] = asyncio.Queue(cap)
        self.task: asyncio.Task[None] | None = None
        self.sending: set[asyncio.Task[None]] = set()


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        queue: DeliveryQueue,
        cache: SubscriptionCache,
        channels: Mapping[str, Channel],
        metrics: Metrics,
        consumer: str,
    ) -> None:
        self.s = settings
        self.redis = redis
        self.queue = queue
        self.cache = cache
        self.channels = channels
        self.m = metrics
        self.consumer = consumer
        self.endpoints: dict[str, _Endpoint] = {}
        self.inflight: set[str] = set()
        self._stopping = asyncio.Event()
        self._last_refresh = 0.0
        self._last_maint = 0.0
        self._last_trim = 0.0
        self._background: set[asyncio.Task[None]] = set()
        self._outq: asyncio.Queue[DeliveryOutcome] = asyncio.Queue()
        self.health = EndpointHealth(settings, redis, cache.store, self._spawn)
        self._children: dict[tuple[str, str], Any] = {}
        self._sends_done = asyncio.Event()
        self._tries = Tries(max(1, int(getattr(settings, "poison_tries", 3))))
        self._backoff = Backoff()

    def _spawn(self, coro: Coroutine[object, object, None]) -> None:
        t = asyncio.create_task(coro)
        self._background.add(t)
        t.add_done_callback(self._background.discard)

    # --- reader ---------------------------------------------------------------------------------
    async def run(self) -> None:
        await self.queue.ensure_groups()
        finisher = asyncio.create_task(self._finisher(), name="delivery-finisher")
        try:
            await self._loop()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._sends_done.wait(), 30.0)
        finally:
            await self._drain_outcomes(finisher)

    async def _drain_outcomes(self, finisher: asyncio.Task[None], timeout: float = 5.0) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outq.join(), timeout)
        finisher.cancel()
        await asyncio.gather(finisher, return_exceptions=True)

    async def _loop(self) -> None:
        self._hand_out(await self.queue.read(self.consumer, block_ms=0, pending=True))
        failures = 0
        while not self._stopping.is_set():
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis trouble: keep the loop alive, try again after a backoff
                failures += 1
                pause = self._backoff.delay(failures)
                if is_infrastructure(exc):
                    log.warning("delivery loop step failed (%s: %s); retrying in %.1fs", type(exc).__name__, exc,
                                pause)
                else:
                    log.exception("delivery loop step failed; retrying in %.1fs", pause)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), pause)
            else:
                failures = 0

    async def _step(self) -> None:
        now = time.time()
        if now - self._last_refresh > 0.5:
            await self.cache.refresh()
            self._last_refresh = now
        await self.queue.promote(now)
        nxt = await self.queue.next_due()
        # the read returns at once when a delivery is queued: the block only bounds idle rounds
        block = 1000 if nxt is None else int(min(1000, max(1, (nxt - time.time()) * 1000)))
        entries = await self.queue.read(self.consumer, block_ms=block)
        self._hand_out(entries)
        if now - self._last_maint > 5:
            self._last_maint = now
            await self._maintain(now)

    def _hand_out(self, entries: Sequence[Entry]) -> None:
        deferred: list[DeliveryOutcome] = []
        for e in entries:
            if e.entry_id in self.inflight:
                continue
            ep = self.endpoints.get(e.sub_id)
            if ep is None:
                ep = self.endpoints[e.sub_id] = _Endpoint(self.s.delivery_endpoint_queue)
            try:
                ep.queue.put_nowait(e)
            except asyncio.QueueFull:
                deferred.append(DeliveryOutcome(e, "defer", due=time.time() + 1.0))
                continue
            self.inflight.add(e.entry_id)
            if ep.task is None or ep.task.done():
                ep.task = asyncio.create_task(self._work(e.sub_id, ep), name=f"deliver-{e.sub_id}")
        if deferred:
            for o in deferred:
                self._outq.put_nowait(o)

    async def _maintain(self, now: float) -> None:
        claimed = await self.queue.claim(self.consumer, int(self.s.delivery_claim_idle * 1000))
        self._hand_out(claimed)
        for ch, n in (await self.queue.depth()).items():
            self.m.delivery_queue.labels(channel=ch).set(n)
        disabled: dict[str, int] = dict.fromkeys(self.channels, 0)
        for sub in self.cache.subscriptions:
            if not sub.enabled and sub.disabled_reason:
                disabled[sub.channel_name] = disabled.get(sub.channel_name, 0) + 1
        for ch, n in disabled.items():
            self.m.endpoints_disabled.labels(channel=ch).set(n)
        redis_ch = self.channels.get("redis")
        if redis_ch is not None and now - self._last_trim > 60:
            self._last_trim = now
            for sub in self.cache.subscriptions:
                if sub.channel_name == "redis":
                    await redis_ch.trim(sub.id, sub.channel.retention_hours)  # type: ignore[attr-defined,union-attr]

    def _count(self, channel: str, outcome: str) -> None:
        child = self._children.get((channel, outcome))
        if child is None:
            child = self._children[(channel, outcome)] = self.m.deliveries.labels(
                channel=channel, outcome=outcome
            )
        child.inc()

    # --- workers --------------------------------------------------------------------------------
    async def _work(self, sub_id: str, ep: _Endpoint) -> None:
        """Take entries and send them. A batching channel (redis) gets up to ``delivery_batch`` per call,
        one call at a time; others send one entry per request, ``channel.concurrency`` at a time. Each
        outcome goes to the finisher as soon as it is known (so a kill repeats at most a few sends)."""
        sem: asyncio.Semaphore | None = None
        while not self._stopping.is_set():
            try:
                first = await asyncio.wait_for(ep.queue.get(), 30.0)
            except TimeoutError:
                if ep.sending:
                    continue
                return
            ch = self.channels.get(first.channel)
            batching = bool(ch is not None and ch.batching)
            if sem is None:
                sem = asyncio.Semaphore(1 if batching or ch is None else ch.concurrency)
            await sem.acquire()
            held = 1
            batch = [first]
            while not ep.queue.empty():
                if batching:
                    if len(batch) >= self.s.delivery_batch:
                        break
                else:
                    if sem.locked():
                        break
                    await sem.acquire()
                    held += 1
                batch.append(ep.queue.get_nowait())
            task = asyncio.create_task(self._run(sub_id, batch, sem, held, batching))
            ep.sending.add(task)
            task.add_done_callback(ep.sending.discard)

    async def _run(
        self, sub_id: str, batch: list[Entry], sem: asyncio.Semaphore, held: int, batching: bool
    ) -> None:
        slots = [held]
        recorded: set[str] = set()

        def record(outcomes: Sequence[DeliveryOutcome]) -> None:
            for o in outcomes:
                recorded.add(o.entry.entry_id)
                if not batching and slots[0] > 0:  # the slot frees once the outcome is in Redis, so a
                    slots[0] -= 1  # kill repeats at most `concurrency` sends of this endpoint
                    o.release = sem.release
                self._outq.put_nowait(o)

        try:
            sub, to_send = await self._prepare(sub_id, batch, record)
            if to_send and sub is not None:
                if batching:
                    record(await self._send(sub, to_send))
                else:

                    async def one(item: tuple[Entry, Delivery, int]) -> None:
                        record(await self._send(sub, [item]))

                    await asyncio.gather(*(one(item) for item in to_send))
        except Exception as exc:
            left = [e for e in batch if e.entry_id not in recorded]
            if is_infrastructure(exc):
                log.warning("delivery batch for %s failed (%s: %s); entries stay pending", sub_id,
                            type(exc).__name__, exc)
            else:
                log.warning("delivery batch for %s failed (%s: %s); trying its entries one by one", sub_id,
                            type(exc).__name__, exc)
                with contextlib.suppress(Exception):  # an outage now leaves the rest pending, as above
                    for e in left:
                        await self._alone(sub_id, e, record, recorded)
            for e in batch:
                if e.entry_id not in recorded:
                    self.inflight.discard(e.entry_id)
        finally:
            for _ in range(slots[0]):
                sem.release()

    async def _alone(
        self, sub_id: str, e: Entry, record: Callable[[Sequence[DeliveryOutcome]], None], recorded: set[str]
    ) -> None:
        """One entry of a failed batch by itself; poison after ``poison_tries`` failures (then ``dead``)."""
        try:
            sub, to_send = await self._prepare(sub_id, [e], record)
            if to_send and sub is not None:
                record(await self._send(sub, to_send))
            self._tries.clear(e.entry_id)
            return
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            n = self._tries.failed(e.entry_id)
            why = f"handler_error: {type(exc).__name__}: {exc}"
            if n < self._tries.limit:
                log.warning("delivery %s failed (try %d of %d): %s", e.did, n, self._tries.limit, why)
                self._spawn(self._again(e, self._backoff.delay(n)))
                return
            log.error("delivery %s is dead after %d tries: %s", e.did, n, why, exc_info=exc)
            self._tries.clear(e.entry_id)
            self._count(e.channel, "failed")
            record([DeliveryOutcome(e, "dead", reason=why[:1000], body=e.body or b"")])

    async def _again(self, e: Entry, delay: float) -> None:
        """Hand a poison-suspect entry out again after ``delay`` (it stays pending in Redis meanwhile)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), delay)
        if not self._stopping.is_set():
            self.inflight.discard(e.entry_id)
            self._hand_out([e])

    async def _prepare(
        self, sub_id: str, entries: list[Entry], record: Callable[[Sequence[DeliveryOutcome]], None]
    ) -> tuple[Subscription | None, list[tuple[Entry, Delivery, int]]]:
        """Load bodies; settle what needs no send (gone, already sent, subscription gone or disabled)."""
        sub = self.cache.by_id.get(sub_id)
        if sub is None:
            await self.cache.refresh(force=True)
            sub = self.cache.by_id.get(sub_id)
        now = time.time()
        settled: list[DeliveryOutcome] = []
        to_send: list[tuple[Entry, Delivery, int]] = []
        recovered = [e for e in entries if e.recovered]
        loaded = (
            dict(zip((e.entry_id for e in recovered), await self.queue.load(recovered), strict=True))
            if recovered
            else {}
        )
        for e in entries:
            body, attempts, sent = loaded.get(e.entry_id, (e.body, e.attempts, False))
            if body is None:
                settled.append(DeliveryOutcome(e, "gone"))
                continue
            d = Delivery.from_stored(body)
            if d.kind in ("group", "digest"):
                flush_ttl = int(sub.grouping.repeat_interval) if sub and d.kind == "group" else 0
                items, mem = await self.queue.seal(d, now, flush_ttl)
                d = d.with_alerts(tuple(Alert.model_validate_json(x) for x in items), tuple(mem))
            batch = bool(d.members)
            if sub is None or not sub.enabled:
                why = (
                    "subscription deleted" if sub is None else f"subscription disabled: {sub.disabled_reason}"
                )
                self._count(e.channel, "dropped")
                settled.append(DeliveryOutcome(e, "dead", reason=why, members=d.members, batch=batch, body=body))
            elif sent and not d.replay:
                self.m.alerts_deduplicated.inc()
                settled.append(DeliveryOutcome(e, "dup", members=d.members, batch=batch))
            else:
                to_send.append((e, d, attempts))
        if settled:
            record(settled)
        return sub, to_send

    async def _send(self, sub: Subscription, items: list[tuple[Entry, Delivery, int]]) -> list[DeliveryOutcome]:
        ch = self.channels[sub.channel_name]
        try:
            results = await ch.send_many([(d, sub) for _, d, _ in items])
        except Exception as exc:  # a channel bug: treat as a retryable failure of every item
            log.exception("channel %s raised from send_many", ch.name)
            results = [exc] * len(items)
        out: list[DeliveryOutcome] = []
        now = time.time()
        failed: DeliveryError | None = None
        for (e, d, attempts), res in zip(items, results, strict=True):
            batch = bool(d.members)
            if res is None:
                self._count(e.channel, "ok")
                hist = self.m.delivery_seconds.labels(channel=e.channel)
                for a in d.alerts:
                    hist.observe(max(0.0, now - (a.article.fetched_at or a.created_at).timestamp()))
                out.append(DeliveryOutcome(e, "ok", members=d.members, batch=batch, logged=ch.batching))
                continue
            err = res if isinstance(res, DeliveryError) else DeliveryError(f"{type(res).__name__}: {res}")
            failed = err
            nxt = (
                retry_at(attempts + 1, now, self.s.delivery_retry_schedule, err.retry_after)
                if err.retryable
                else None
            )
            if nxt is None:
                self._count(e.channel, "failed")
                out.append(
                    DeliveryOutcome(
                        e,
                        "dead",
                        reason=str(err),
                        members=d.members,
                        batch=batch,
                        body=d.wire(),
                    )
                )
            else:
                self._count(e.channel, "retry")
                self.m.delivery_retries.labels(channel=e.channel).inc()
                out.append(DeliveryOutcome(e, "retry", due=nxt, reason=str(err)))
        await self._health(sub, failed, any(o.kind == "ok" for o in out), now)
        return out

    async def _finisher(self) -> None:
        """Record outcomes as they come, many per MULTI under load; then let their entries go."""
        while True:
            batch = [await self._outq.get()]
            if self._outq.empty():  # let outcomes completing right now join this round trip
                await asyncio.sleep(0.001)
            while not self._outq.empty() and len(batch) < 1000:
                batch.append(self._outq.get_nowait())
            try:
                await self.queue.finish(batch)
            except Exception:
                log.exception("could not record %d delivery outcomes (entries stay pending)", len(batch))
            finally:
                for o in batch:
                    self.inflight.discard(o.entry.entry_id)
                    if o.release is not None:
                        o.release()
                    self._outq.task_done()

    async def _health(self, sub: Subscription, err: DeliveryError | None, any_ok: bool, now: float) -> None:
        if err is None:
            if any_ok:
                await self.health.ok(sub.id)
            return
        await self.health.failed(sub, err, now)

    # --- stop -----------------------------------------------------------------------------------
    async def stop(self, timeout: float = 10.0) -> None:
        """Stop taking work; let the sends in flight finish (bounded), leave the rest pending in Redis."""
        self._stopping.set()
        sending: list[asyncio.Task[None]] = []
        for ep in self.endpoints.values():
            while not ep.queue.empty():  # not started: stays pending in Redis for the next start
                self.inflight.discard(ep.queue.get_nowait().entry_id)
            if ep.task is not None and not ep.task.done():
                ep.task.cancel()
            sending += ep.sending
        if sending:
            _, pending = await asyncio.wait(sending, timeout=timeout)
            for t in pending:
                t.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        tasks = [ep.task for ep in self.endpoints.values() if ep.task is not None]
        await asyncio.gather(*tasks, return_exceptions=True)
        self._sends_done.set()
        with contextlib.suppress(TimeoutError):  # outcomes recorded before we say we stopped
            await asyncio.wait_for(self._outq.join(), 5.0)
