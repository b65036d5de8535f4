"""Volume rules: how many matches, against what baseline, and which sources went quiet.

Three conditions, after ElastAlert's frequency, spike and flatline rule types and the EMM's breaking-news
detection, each a pure function of bucketed counts (or a source clock) and a time ``now``:
- ``frequency``: at least ``count`` matching articles from at least ``sources`` distinct sources within
  the last ``window_s``;
- ``spike``: matches in the last ``window_s`` at least ``factor`` times the baseline, the mean per
  window over the ``baseline_s`` before it (and at least ``min_count``, so 1 against 0 is no spike);
- ``silence``: a source silent for longer than ``factor`` times its usual interval (an EWMA of its gaps,
  trusted after ``min_intervals`` gaps, never less than ``min_silence_s``): an operations alert.

``VolumeTracker`` keeps the state in a ``ClusterStore``: ``record(key, source, at)`` counts a match for
a counter key (a rule id, ``tag:<tag>``, whatever the caller groups by) in ``bucket_s`` buckets;
``seen(source, at)`` moves a source's clock. The ``check_*`` methods evaluate a condition and are
edge-triggered: they return a ``VolumeAlert`` when the condition becomes true and None while it stays
true, and re-arm once it is false. Windows are whole buckets, so ``window_s`` is rounded up to them.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from monitor.cluster.memory_store import ClusterStore, Counts
from monitor.cluster.records import SourceClock


@dataclass(frozen=True, slots=True)
class FrequencySpec:
    count: int
    window_s: float
    sources: int = 1


@dataclass(frozen=True, slots=True)
class SpikeSpec:
    factor: float
    window_s: float
    baseline_s: float = 24 * 3600
    min_count: int = 3


@dataclass(frozen=True, slots=True)
class QuietSourceSpec:
    factor: float = 3.0
    min_intervals: int = 5
    min_silence_s: float = 3600.0
    alpha: float = 0.2  # EWMA weight of the newest gap


@dataclass(frozen=True, slots=True)
class Reading:
    """A condition's inputs and verdict at one time."""

    firing: bool
    count: int = 0
    sources: int = 0
    baseline: float = 0.0  # spike: mean per window; silence: usual interval in seconds
    ratio: float = 0.0  # spike: count / baseline; silence: silent seconds / usual interval


@dataclass(frozen=True, slots=True)
class VolumeAlert:
    kind: Literal["frequency", "spike", "silence"]
    key: str  # counter key, or the source for silence
    at: float
    reading: Reading


# --- pure evaluators --------------------------------------------------------------------------------
def buckets_for(window_s: float, bucket_s: float) -> int:
    return max(1, math.ceil(window_s / bucket_s))


def frequency(counts: Counts, spec: FrequencySpec, now_bucket: int, bucket_s: float) -> Reading:
    """``counts`` must hold at least the window's buckets, ending at ``now_bucket``."""
    first = now_bucket - buckets_for(spec.window_s, bucket_s) + 1
    total = 0
    sources: set[str] = set()
    for b, per_source in counts.items():
        if first <= b <= now_bucket:
            total += sum(per_source.values())
            sources.update(per_source)
    return Reading(total >= spec.count and len(sources) >= spec.sources, total, len(sources))


def spike(counts: Counts, spec: SpikeSpec, now_bucket: int, bucket_s: float) -> Reading:
    """Current window ending at ``now_bucket`` against the mean per window over the baseline before it."""
    n = buckets_for(spec.window_s, bucket_s)
    nb = buckets_for(spec.baseline_s, bucket_s)
    first = now_bucket - n + 1
    base_first = first - nb
    cur = base = 0
    for b, per_source in counts.items():
        c = sum(per_source.values())
        if first <= b <= now_bucket:
            cur += c
        elif base_first <= b < first:
            base += c
    baseline = base * n / nb
    ratio = cur / baseline if baseline > 0 else (math.inf if cur else 0.0)
    return Reading(cur >= spec.min_count and ratio >= spec.factor, cur, 0, baseline, ratio)


def silence(clock: SourceClock | None, spec: QuietSourceSpec, now: float) -> Reading:
    if clock is None or clock.intervals < spec.min_intervals:
        return Reading(False)
    usual = max(clock.mean_interval, 1.0)
    quiet = now - clock.last
    limit = max(spec.factor * usual, spec.min_silence_s)
    return Reading(quiet > limit, 0, 0, usual, quiet / usual)


def tick(clock: SourceClock | None, source: str, at: float, alpha: float) -> SourceClock:
    """A source's clock after it published at ``at`` (older items do not move it back)."""
    if clock is None:
        return SourceClock(source, at)
    if at <= clock.last:
        return clock
    gap = at - clock.last
    mean = gap if clock.intervals == 0 else (1 - alpha) * clock.mean_interval + alpha * gap
    return SourceClock(source, at, mean, clock.intervals + 1)


# --- stateful tracker ------------------------------------------------------------------------------
class VolumeTracker:
    """Counters, source clocks and alert latches over a ``ClusterStore``; see the module doc."""

    def __init__(
        self,
        store: ClusterStore,
        *,
        bucket_s: float = 300.0,
        retention_s: float = 26 * 3600,
        silence: QuietSourceSpec | None = None,
    ) -> None:
        if bucket_s <= 0:
            raise ValueError(f"bucket_s must be positive, not {bucket_s}")
        self.store = store
        self.bucket_s = bucket_s
        self.retention_s = retention_s
        self.silence_spec = silence or QuietSourceSpec()
        self.clock_write_s = 60.0
        self._clocks: dict[str, SourceClock] = {}
        self._written: dict[str, float] = {}

    def bucket(self, at: float) -> int:
        return math.floor(at / self.bucket_s)

    def record(self, key: str, source: str, at: float) -> None:
        """Count one match for ``key`` from ``source`` at article time ``at``."""
        self.store.advance(at)
        self.store.count_add(key, self.bucket(at), source, at + self.retention_s)

    def seen(self, source: str, at: float) -> None:
        """A source published an article at ``at`` (call for every article, matched or not).

        Clocks are cached here and written to the store at most every ``clock_write_s`` (60 s) of
        article time per source: after a restart a clock is at most that stale, which silence checks
        (hours) do not notice.
        """
        self.store.advance(at)
        old = self._clocks.get(source)
        if old is None:
            raw = self.store.blob_get(f"clock:{source}")
            old = SourceClock.from_bytes(raw) if raw is not None else None
        new = tick(old, source, at, self.silence_spec.alpha)
        if new is old:
            return
        self._clocks[source] = new
        written = self._written.get(source)
        if written is None or new.last - written >= self.clock_write_s:
            self.store.blob_put(f"clock:{source}", new.to_bytes(), at + 30 * 24 * 3600)
            self._written[source] = new.last

    def frequency(self, key: str, spec: FrequencySpec, now: float) -> Reading:
        nb = self.bucket(now)
        return frequency(self._counts(key, spec.window_s, nb), spec, nb, self.bucket_s)

    def spike(self, key: str, spec: SpikeSpec, now: float) -> Reading:
        if spec.window_s + spec.baseline_s > self.retention_s:
            raise ValueError(
                f"spike window + baseline ({spec.window_s + spec.baseline_s:.0f} s) is longer than the "
                f"counters are kept ({self.retention_s:.0f} s): raise volume_retention_hours"
            )
        nb = self.bucket(now)
        return spike(self._counts(key, spec.window_s + spec.baseline_s, nb), spec, nb, self.bucket_s)

    def silence(self, source: str, now: float) -> Reading:
        clock = self._clocks.get(source)
        if clock is None:
            raw = self.store.blob_get(f"clock:{source}")
            clock = SourceClock.from_bytes(raw) if raw is not None else None
        return silence(clock, self.silence_spec, now)

    def check_frequency(self, key: str, spec: FrequencySpec, now: float) -> VolumeAlert | None:
        return self._edge("frequency", key, self.frequency(key, spec, now), now)

    def check_spike(self, key: str, spec: SpikeSpec, now: float) -> VolumeAlert | None:
        return self._edge("spike", key, self.spike(key, spec, now), now)

    def check_silence(self, sources: Iterable[str], now: float) -> list[VolumeAlert]:
        """Sources that went silent since the last check (``now``: wall-clock time is fine here)."""
        out = []
        for source in sorted(set(sources)):
            a = self._edge("silence", source, self.silence(source, now), now)
            if a is not None:
                out.append(a)
        return out

    def _counts(self, key: str, span_s: float, now_bucket: int) -> Counts:
        return self.store.counts(key, now_bucket - buckets_for(span_s, self.bucket_s), now_bucket)

    def _edge(self, kind: str, key: str, reading: Reading, now: float) -> VolumeAlert | None:
        latch = f"latch:{kind}:{key}"
        was = self.store.blob_get(latch) is not None
        if reading.firing:
            self.store.blob_put(latch, b"1", now + self.retention_s)
            return None if was else VolumeAlert(kind, key, now, reading)  # type: ignore[arg-type]
        if was:
            self.store.blob_delete(latch)
        return None
