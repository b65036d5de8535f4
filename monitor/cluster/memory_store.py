"""Where clustering state lives: the ``ClusterStore`` interface and the in-memory ``MemoryStore``.

A store holds four kinds of state, each written with an ``expires_at`` in article time:
- copies: ``CopyEntry`` by article id, an exact-duplicate index (digest -> article id) and the LSH
  band index (band key -> article ids);
- events: ``EventRecord`` by event id, indexed by evidence keys (strings built by ``events.py``);
- counters: per (counter key, time bucket) a count per source, for volume rules;
- blobs: small named values (source clocks, volume latches).

``advance(now)`` moves the store's clock (the latest article time seen); ``MemoryStore`` then drops what
expired, which bounds its memory to the window, and ``RedisStore`` sets TTLs relative to it. Callers
must still check times themselves: a store may return entries that have expired (Redis TTLs lag), and
never misses live ones. Lookups return values in no particular order; callers sort for determinism.

``MemoryStore.snapshot()`` / ``MemoryStore.restore()`` turn the whole state into bytes and back (JSON);
the same state always gives the same bytes.
"""

from __future__ import annotations

import base64
import heapq
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

import orjson

from monitor.cluster.records import CopyEntry, EventRecord

Counts = dict[int, dict[str, int]]  # bucket -> source -> count
_Key = str | tuple[str, int]  # an article, event or blob name; or a (counter key, bucket)


class ClusterStore(Protocol):
    """The operations clustering needs; see the module doc for the expiry contract."""

    @property
    def now(self) -> float: ...
    def advance(self, now: float) -> None: ...

    def copy_lookup(
        self, article_id: str, digest: bytes, bands: Sequence[int]
    ) -> tuple[CopyEntry | None, CopyEntry | None, list[CopyEntry]]:
        """(this article's own entry if already stored, the exact duplicate, the band candidates)."""
        ...

    def copy_add(self, entry: CopyEntry, digest: bytes, bands: Sequence[int], expires_at: float) -> None: ...

    def events_by_keys(self, keys: Sequence[str]) -> list[EventRecord]: ...
    def event_put(self, record: EventRecord, keys: Sequence[str], expires_at: float) -> None: ...

    def count_add(self, key: str, bucket: int, source: str, expires_at: float) -> None: ...
    def counts(self, key: str, first: int, last: int) -> Counts:
        """Counts of buckets ``first..last`` (inclusive) that have any."""
        ...

    def blob_get(self, name: str) -> bytes | None: ...
    def blob_put(self, name: str, value: bytes, expires_at: float) -> None: ...
    def blob_delete(self, name: str) -> None: ...

    def batch(self) -> AbstractContextManager[None]:
        """A scope of many operations the store may send together (same answers as one at a time)."""
        ...

    def prefetch_copies(self, items: Sequence[tuple[str, bytes, Sequence[int]]]) -> None:
        """Hint inside ``batch()``: ``copy_lookup`` will be called with these (article id, digest, bands)."""
        ...

    def prefetch_events(self, keys: Sequence[str]) -> None:
        """Hint inside ``batch()``: ``events_by_keys`` will be called with these keys."""
        ...


class MemoryStore:
    """The state in dictionaries, pruned by article time; bounded by what the windows hold."""

    def __init__(self) -> None:
        self._now = float("-inf")
        self._copies: dict[str, CopyEntry] = {}
        self._copy_meta: dict[str, tuple[bytes, tuple[int, ...], float]] = {}  # digest, bands, expiry
        self._exact: dict[bytes, str] = {}
        self._bands: dict[int, str | list[str]] = {}
        self._events: dict[str, EventRecord] = {}
        self._event_meta: dict[str, tuple[tuple[str, ...], float]] = {}
        self._event_keys: dict[str, set[str]] = {}
        self._counts: dict[tuple[str, int], dict[str, int]] = {}
        self._count_exp: dict[tuple[str, int], float] = {}
        self._blobs: dict[str, tuple[bytes, float]] = {}
        self._heap: list[tuple[float, int, str, _Key]] = []
        self._scheduled: set[tuple[str, _Key]] = set()
        self._seq = 0

    # --- clock and expiry -------------------------------------------------------------------
    @property
    def now(self) -> float:
        return self._now

    def advance(self, now: float) -> None:
        if now <= self._now:
            return
        self._now = now
        heap = self._heap
        while heap and heap[0][0] < now:
            _, _, kind, key = heapq.heappop(heap)
            expires_at = self._expiry(kind, key)
            if expires_at is None:
                self._scheduled.discard((kind, key))
            elif expires_at < now:
                self._scheduled.discard((kind, key))
                self._drop(kind, key)
            else:  # extended since it was scheduled: look again then
                self._push(expires_at, kind, key)

    def _schedule(self, expires_at: float, kind: str, key: _Key) -> None:
        """Make sure (kind, key) is looked at when it may expire; one heap item per live key."""
        if (kind, key) not in self._scheduled:
            self._scheduled.add((kind, key))
            self._push(expires_at, kind, key)

    def _push(self, expires_at: float, kind: str, key: _Key) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (expires_at, self._seq, kind, key))

    def _expiry(self, kind: str, key: _Key) -> float | None:
        if isinstance(key, tuple):  # counters
            return self._count_exp.get(key)
        if kind == "c":
            cm = self._copy_meta.get(key)
            return cm[2] if cm is not None else None
        if kind == "e":
            em = self._event_meta.get(key)
            return em[1] if em is not None else None
        blob = self._blobs.get(key)
        return blob[1] if blob is not None else None

    def _drop(self, kind: str, key: _Key) -> None:
        if isinstance(key, tuple):
            del self._count_exp[key]
            self._counts.pop(key, None)
        elif kind == "c":
            self._drop_copy(key)
        elif kind == "e":
            self._drop_event(key)
        else:
            del self._blobs[key]

    # --- copies -------------------------------------------------------------------------------
    def copy_lookup(
        self, article_id: str, digest: bytes, bands: Sequence[int]
    ) -> tuple[CopyEntry | None, CopyEntry | None, list[CopyEntry]]:
        own = self._copies.get(article_id)
        exact_id = self._exact.get(digest)
        exact = self._copies.get(exact_id) if exact_id is not None else None
        seen: set[str] = set()
        found: list[CopyEntry] = []
        for band in bands:
            ids = self._bands.get(band)
            if ids is None:
                continue
            for aid in (ids,) if isinstance(ids, str) else ids:
                if aid not in seen:
                    seen.add(aid)
                    entry = self._copies.get(aid)
                    if entry is not None:
                        found.append(entry)
        return own, exact, found

    def copy_add(self, entry: CopyEntry, digest: bytes, bands: Sequence[int], expires_at: float) -> None:
        aid = entry.article_id
        if aid in self._copies:
            return
        self._copies[aid] = entry
        band_keys = tuple(bands)
        self._copy_meta[aid] = (digest, band_keys, expires_at)
        self._exact.setdefault(digest, aid)
        for band in band_keys:
            ids = self._bands.get(band)
            if ids is None:
                self._bands[band] = aid  # one article per band key is the common case: no list
            elif isinstance(ids, str):
                self._bands[band] = [ids, aid]
            else:
                ids.append(aid)
        self._schedule(expires_at, "c", aid)

    def _drop_copy(self, aid: str) -> None:
        digest, bands, _ = self._copy_meta.pop(aid)
        del self._copies[aid]
        if self._exact.get(digest) == aid:
            del self._exact[digest]
        for band in bands:
            ids = self._bands.get(band)
            if ids is None:
                continue
            if isinstance(ids, str):
                if ids == aid:
                    del self._bands[band]
            else:
                if aid in ids:
                    ids.remove(aid)
                if len(ids) == 1:
                    self._bands[band] = ids[0]
                elif not ids:
                    del self._bands[band]

    # --- events -------------------------------------------------------------------------------
    def events_by_keys(self, keys: Sequence[str]) -> list[EventRecord]:
        ids: set[str] = set()
        for key in keys:
            ids.update(self._event_keys.get(key, ()))
        return [self._events[i] for i in ids if i in self._events]

    def event_put(self, record: EventRecord, keys: Sequence[str], expires_at: float) -> None:
        eid = record.event_id
        old = self._event_meta.get(eid)
        all_keys = tuple(sorted(set(keys) | set(old[0] if old else ())))
        self._events[eid] = record
        self._event_meta[eid] = (all_keys, expires_at)
        for key in all_keys:
            self._event_keys.setdefault(key, set()).add(eid)
        self._schedule(expires_at, "e", eid)

    def _drop_event(self, eid: str) -> None:
        keys, _ = self._event_meta.pop(eid)
        del self._events[eid]
        for key in keys:
            s = self._event_keys.get(key)
            if s is not None:
                s.discard(eid)
                if not s:
                    del self._event_keys[key]

    # --- counters -----------------------------------------------------------------------------
    def count_add(self, key: str, bucket: int, source: str, expires_at: float) -> None:
        k = (key, bucket)
        per_source = self._counts.setdefault(k, {})
        per_source[source] = per_source.get(source, 0) + 1
        if self._count_exp.get(k, float("-inf")) < expires_at:
            self._count_exp[k] = expires_at
        self._schedule(self._count_exp[k], "n", k)

    def counts(self, key: str, first: int, last: int) -> Counts:
        out: Counts = {}
        for bucket in range(first, last + 1):
            c = self._counts.get((key, bucket))
            if c:
                out[bucket] = dict(c)
        return out

    # --- blobs --------------------------------------------------------------------------------
    def blob_get(self, name: str) -> bytes | None:
        v = self._blobs.get(name)
        return v[0] if v is not None else None

    def blob_put(self, name: str, value: bytes, expires_at: float) -> None:
        self._blobs[name] = (value, expires_at)
        self._schedule(expires_at, "b", name)

    def blob_delete(self, name: str) -> None:
        self._blobs.pop(name, None)  # its heap item finds nothing and goes

    # --- batches (nothing to save in memory) ---------------------------------------------------
    def batch(self) -> AbstractContextManager[None]:
        return nullcontext()

    def prefetch_copies(self, items: Sequence[tuple[str, bytes, Sequence[int]]]) -> None:
        pass

    def prefetch_events(self, keys: Sequence[str]) -> None:
        pass

    # --- snapshots ----------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """The whole state as JSON bytes (sorted, so equal states give equal bytes)."""
        b64 = base64.b64encode
        copies = [
            [aid, b64(e.to_bytes()).decode(), b64(m[0]).decode(), list(m[1]), m[2]]
            for aid, e in self._copies.items()  # insertion order: restore re-adds in it
            for m in (self._copy_meta[aid],)
        ]
        events = [
            [eid, r.to_bytes().decode(), list(self._event_meta[eid][0]), self._event_meta[eid][1]]
            for eid, r in sorted(self._events.items())
        ]
        counts = [
            [k, b, dict(sorted(c.items())), self._count_exp[(k, b)]] for (k, b), c in sorted(self._counts.items())
        ]
        blobs = [[n, b64(v).decode(), exp] for n, (v, exp) in sorted(self._blobs.items())]
        now = self._now if self._now != float("-inf") else None
        return orjson.dumps(
            {"version": 1, "now": now, "copies": copies, "events": events, "counts": counts, "blobs": blobs}
        )

    @classmethod
    def restore(cls, data: bytes) -> MemoryStore:
        """A store holding exactly what ``snapshot()`` saved (copies re-added in their saved order)."""
        d = orjson.loads(data)
        if d.get("version") != 1:
            raise ValueError(f"unknown cluster snapshot version {d.get('version')!r}")
        s = cls()
        b64d = base64.b64decode
        for aid, entry, digest, bands, exp in d["copies"]:
            s.copy_add(CopyEntry.from_bytes(aid, b64d(entry)), b64d(digest), bands, exp)
        for _eid, rec, keys, exp in d["events"]:
            s.event_put(EventRecord.from_bytes(rec.encode()), keys, exp)
        for key, bucket, per_source, exp in d["counts"]:
            k = (key, bucket)
            s._counts[k] = dict(per_source)
            s._count_exp[k] = exp
            s._schedule(exp, "n", k)
        for name, value, exp in d["blobs"]:
            s.blob_put(name, b64d(value), exp)
        if d["now"] is not None:
            s.advance(d["now"])
        return s

    # --- introspection (tests, benchmark) -----------------------------------------------------
    def sizes(self) -> dict[str, int]:
        return {
            "copies": len(self._copies),
            "bands": len(self._bands),
            "events": len(self._events),
            "counters": len(self._counts),
            "blobs": len(self._blobs),
        }


def first_of(entries: Iterable[CopyEntry]) -> CopyEntry | None:
    """The earliest entry (article time, then id): the deterministic tie-break."""
    return min(entries, key=lambda e: (e.at, e.article_id), default=None)
