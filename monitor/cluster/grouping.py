"""``Clustering``: the one object the processor holds; copies, events and volume over one store.

Per article, in this order (all times are article times, see ``adapt.article_time``):
1. ``on_article(article_id, text, at, source)`` -> ``CopyDecision`` (its ``copy_group``), for every
   article, matched or not, so groups do not depend on which rules are loaded (with Redis at high
   volume: only for matched articles, see docs/events.md); it also moves the source's clock.
2. for each rule match: ``on_match(sighting, policy(rule, ruleset.lists), tags)`` ->
   ``EventDecision``; alert when ``decision.alert`` (kind ``new`` or ``update``). It also counts the
   match for volume rules under the rule id and ``tag:<tag>`` (not again for a redelivery).
3. volume rules whenever the caller likes: ``volume.check_frequency/check_spike(key, spec, now)`` and,
   on a timer, ``volume.check_silence(feed names, now)``. With ``track_volume=False`` nothing is
   counted in steps 1-2; a caller with a few volume rules counts just their matches with
   ``on_volume(key, source, at, spec, now)``, which also evaluates the condition.

State lives in the store; with ``RedisStore`` it survives restarts, with ``MemoryStore`` a
``snapshot()`` can be saved and ``MemoryStore.restore()``-d.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from monitor.cluster.adapt import entity_lists, policy_for_rule
from monitor.cluster.copies import CopyDecision, CopyDetector
from monitor.cluster.events import EventDecision, EventPolicy, EventTracker, Sighting
from monitor.cluster.memory_store import ClusterStore, MemoryStore
from monitor.cluster.signature import Fingerprint
from monitor.cluster.volume import FrequencySpec, SpikeSpec, VolumeAlert, VolumeTracker, buckets_for
from monitor.settings import Settings


class Clustering:
    """Copies, events and volume sharing one store; see the module doc for the call order."""

    def __init__(
        self,
        store: ClusterStore,
        *,
        copy_threshold: float = 0.8,
        copy_window_s: float = 48 * 3600,
        shingle_words: int = 5,
        event_window_s: float = 6 * 3600,
        bucket_s: float = 300.0,
        retention_s: float = 26 * 3600,
        track_volume: bool = True,
    ) -> None:
        self.store = store
        #: feed the volume counters on every article and match; off when no volume rule reads them
        #: (each update is a store round trip, the largest cost with Redis)
        self.track_volume = track_volume
        self.event_window_s = event_window_s
        self.copies = CopyDetector(
            store, threshold=copy_threshold, window_s=copy_window_s, shingle_words=shingle_words
        )
        self.events = EventTracker(store)
        self.volume = VolumeTracker(store, bucket_s=bucket_s, retention_s=retention_s)
        self._lists_seen: Mapping[str, Any] | None = None
        self._entity_lists: frozenset[str] = frozenset()

    @classmethod
    def from_settings(
        cls, settings: Settings, store: ClusterStore | None = None, *, track_volume: bool = True
    ) -> Clustering:
        """With no store given: Redis at ``settings.redis_url`` when set, else in memory."""
        if store is None:
            if settings.redis_url:
                from monitor.cluster.redis_store import RedisStore

                store = RedisStore.from_url(settings.redis_url, prefix=settings.cluster_redis_prefix)
            else:
                store = MemoryStore()
        return cls(
            store,
            copy_threshold=settings.copy_threshold,
            copy_window_s=settings.copy_window_hours * 3600,
            shingle_words=settings.copy_shingle_words,
            event_window_s=settings.event_window_hours * 3600,
            bucket_s=settings.volume_bucket_seconds,
            retention_s=settings.volume_retention_hours * 3600,
            track_volume=track_volume,
        )

    def policy(self, rule: Any, lists: Mapping[str, Any] | None = None) -> EventPolicy:
        """The event policy of a rule object, with this configuration's default window.

        ``lists``: the rule set's named lists (``ruleset.lists``), so that only entity lists (canonical
        ids) are default keys; computed once per lists object (a reload brings a new one).
        """
        default_keys = None
        if lists is not None:
            if self._lists_seen is not lists:
                self._lists_seen, self._entity_lists = lists, entity_lists(lists)
            default_keys = self._entity_lists
        return policy_for_rule(rule, default_window_s=self.event_window_s, entity_lists=default_keys)

    def on_article(
        self, article_id: str, text: str, at: float, source: str = "", fp: Fingerprint | None = None
    ) -> CopyDecision:
        """``fp``: ``self.copies.fingerprint(text)`` when the caller has it already."""
        if source and self.track_volume:
            self.volume.seen(source, at)
        return self.copies.check(article_id, text, at, fp)

    def on_match(self, sighting: Sighting, policy: EventPolicy, tags: Iterable[str] = ()) -> EventDecision:
        decision = self.events.decide(sighting, policy)
        if not decision.repeat and self.track_volume:
            self.volume.record(sighting.rule, sighting.source, sighting.at)
            for tag in sorted(set(tags)):
                self.volume.record(f"tag:{tag}", sighting.source, sighting.at)
        return decision

    def on_volume(
        self, key: str, source: str, at: float, spec: FrequencySpec | SpikeSpec, now: float | None = None
    ) -> VolumeAlert | None:
        """Count one match under the counter ``key`` and evaluate ``spec`` over it at ``now``.

        Independent of ``track_volume``: for callers that count only what their volume rules read.
        ``now`` (default ``at``): the end of the window, normally the latest article time seen, so an
        article that arrives late is counted in its own bucket but the window does not move back.
        Edge-triggered (see ``VolumeTracker``): a ``VolumeAlert`` when the condition becomes true.
        """
        self.volume.record(key, source, at)
        when = at if now is None else max(at, now)
        if isinstance(spec, SpikeSpec):
            return self.volume.check_spike(key, spec, when)
        return self.volume.check_frequency(key, spec, when)

    def volume_sources(self, key: str, window_s: float, now: float) -> tuple[str, ...]:
        """The distinct sources counted under ``key`` in the window of ``window_s`` ending at ``now``."""
        last = self.volume.bucket(now)
        counts = self.store.counts(key, last - buckets_for(window_s, self.volume.bucket_s) + 1, last)
        return tuple(sorted({src for per_source in counts.values() for src in per_source}))
