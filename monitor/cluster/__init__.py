"""Clustering: one alert per real-world event.

Two levels of grouping and the volume rules, as a pure core with no Kafka in it:
- ``copies``: exact and near-duplicate articles (MinHash over word shingles, LSH) -> ``copy_group``;
- ``events``: matches of one rule sharing key evidence (canonical entity ids, dates) within a window
  -> ``event_id``, with corroboration (``min_sources``), severity boosts, and new/update/suppress/pending;
- ``volume``: frequency, spike and source-silence conditions over bucketed counters.
State sits behind ``ClusterStore`` (``MemoryStore``, ``RedisStore``). ``Clustering`` wires them in the
order the processor calls them; ``adapt`` turns ``Article``/``Match``/rule objects into plain values.
See ``docs/events.md``.
"""

from monitor.cluster.adapt import article_time, entity_lists, policy_for_rule, sighting, to_alert
from monitor.cluster.copies import CopyDecision, CopyDetector
from monitor.cluster.events import EventDecision, EventPolicy, EventTracker, Fact, Sighting
from monitor.cluster.grouping import Clustering
from monitor.cluster.memory_store import ClusterStore, MemoryStore
from monitor.cluster.volume import (
    FrequencySpec,
    QuietSourceSpec,
    Reading,
    SpikeSpec,
    VolumeAlert,
    VolumeTracker,
)

__all__ = [
    "ClusterStore",
    "Clustering",
    "CopyDecision",
    "CopyDetector",
    "EventDecision",
    "EventPolicy",
    "EventTracker",
    "Fact",
    "FrequencySpec",
    "MemoryStore",
    "QuietSourceSpec",
    "Reading",
    "Sighting",
    "SpikeSpec",
    "VolumeAlert",
    "VolumeTracker",
    "article_time",
    "entity_lists",
    "policy_for_rule",
    "sighting",
    "to_alert",
]
