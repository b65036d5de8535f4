"""Volume rules: frequency, spike against baseline, source silence; evaluators and edge-triggering."""

from __future__ import annotations

import math

import pytest

from monitor.cluster import FrequencySpec, MemoryStore, QuietSourceSpec, SpikeSpec, VolumeTracker
from monitor.cluster.records import SourceClock
from monitor.cluster.volume import frequency, silence, spike, tick
from tests.cluster.conftest import HOUR, T0

MIN = 60.0


def tracker(**kw) -> VolumeTracker:
    return VolumeTracker(MemoryStore(), bucket_s=60.0, **kw)


def test_frequency_needs_both_articles_and_sources():
    v = tracker()
    spec = FrequencySpec(count=4, sources=3, window_s=30 * MIN)
    for i, src in enumerate(["a", "a", "b", "b"]):
        v.record("attack-on-base", src, T0 + i * MIN)
    r = v.frequency("attack-on-base", spec, T0 + 4 * MIN)
    assert (r.count, r.sources, r.firing) == (4, 2, False)
    v.record("attack-on-base", "c", T0 + 5 * MIN)
    assert v.frequency("attack-on-base", spec, T0 + 5 * MIN).firing


def test_frequency_forgets_what_left_the_window():
    v = tracker()
    spec = FrequencySpec(count=3, window_s=10 * MIN)
    for i in range(3):
        v.record("r", "a", T0 + i * MIN)
    assert v.frequency("r", spec, T0 + 3 * MIN).firing
    assert not v.frequency("r", spec, T0 + 12 * MIN).firing
    assert v.frequency("other", spec, T0 + 3 * MIN).count == 0


def test_alerts_are_edge_triggered_and_rearm():
    v = tracker()
    spec = FrequencySpec(count=2, window_s=10 * MIN)
    v.record("r", "a", T0)
    v.record("r", "b", T0 + MIN)
    first = v.check_frequency("r", spec, T0 + 2 * MIN)
    assert first is not None and first.kind == "frequency" and first.reading.count == 2
    assert v.check_frequency("r", spec, T0 + 3 * MIN) is None  # still true: no second alert
    assert v.check_frequency("r", spec, T0 + 30 * MIN) is None  # false again: re-armed
    v.record("r", "a", T0 + 31 * MIN)
    v.record("r", "a", T0 + 32 * MIN)
    assert v.check_frequency("r", spec, T0 + 32 * MIN) is not None


def test_spike_against_baseline():
    v = tracker()
    spec = SpikeSpec(factor=3.0, window_s=HOUR, baseline_s=6 * HOUR, min_count=3)
    start = T0 - 7 * HOUR
    for h in range(6):  # 2 matches an hour for 6 hours
        v.record("tag:attack", "a", start + h * HOUR + 5 * MIN)
        v.record("tag:attack", "b", start + h * HOUR + 35 * MIN)
    now = start + 7 * HOUR - MIN
    calm = v.spike("tag:attack", spec, now)
    assert calm.baseline == 2.0 and not calm.firing
    for i in range(6):
        v.record("tag:attack", "c", now - 50 * MIN + i * MIN)
    hot = v.spike("tag:attack", spec, now)
    assert hot.count == 6 and hot.ratio == 3.0 and hot.firing
    alert = v.check_spike("tag:attack", spec, now)
    assert alert is not None and alert.key == "tag:attack"


def test_spike_needs_a_minimum_count_when_baseline_is_zero():
    counts = {100: {"a": 2}}
    r = spike(counts, SpikeSpec(factor=2, window_s=60, baseline_s=600, min_count=3), 100, 60)
    assert math.isinf(r.ratio) and not r.firing
    r = spike({100: {"a": 3}}, SpikeSpec(factor=2, window_s=60, baseline_s=600, min_count=3), 100, 60)
    assert r.firing


def test_frequency_evaluator_is_pure():
    counts = {10: {"a": 1}, 11: {"b": 2}, 3: {"c": 5}}
    r = frequency(counts, FrequencySpec(count=3, sources=2, window_s=120), 11, 60)
    assert (r.count, r.sources, r.firing) == (3, 2, True)


def test_source_silent_for_k_times_its_usual_interval():
    v = tracker(silence=QuietSourceSpec(factor=3.0, min_intervals=5, min_silence_s=10 * MIN))
    for i in range(10):  # a feed that publishes every 20 minutes
        v.seen("alsumaria", T0 + i * 20 * MIN)
    last = T0 + 9 * 20 * MIN
    assert not v.silence("alsumaria", last + 50 * MIN).firing
    quiet = v.silence("alsumaria", last + 61 * MIN)
    assert quiet.firing and quiet.baseline == 20 * MIN
    alerts = v.check_silence(["alsumaria", "never-seen"], last + 61 * MIN)
    assert [a.key for a in alerts] == ["alsumaria"]
    assert v.check_silence(["alsumaria"], last + 90 * MIN) == []  # already alerted
    v.seen("alsumaria", last + 95 * MIN)
    assert v.check_silence(["alsumaria"], last + 96 * MIN) == []  # back: re-armed, not firing


def test_silence_needs_history_and_respects_a_floor():
    spec = QuietSourceSpec(factor=3.0, min_intervals=5, min_silence_s=HOUR)
    young = SourceClock("s", T0, 60.0, 2)
    assert not silence(young, spec, T0 + 10 * HOUR).firing
    chatty = SourceClock("s", T0, 60.0, 50)  # every minute: 3 minutes quiet is no outage
    assert not silence(chatty, spec, T0 + 30 * MIN).firing
    assert silence(chatty, spec, T0 + HOUR + 1).firing


def test_old_items_do_not_move_a_source_clock_back():
    c = tick(None, "s", T0, 0.2)
    c = tick(c, "s", T0 + 600, 0.2)
    assert tick(c, "s", T0 + 100, 0.2) == c


def test_a_spike_baseline_longer_than_the_counters_is_refused():
    v = tracker(retention_s=6 * HOUR)
    with pytest.raises(ValueError, match="volume_retention_hours"):
        v.spike("r", SpikeSpec(factor=3, window_s=HOUR, baseline_s=24 * HOUR), T0)
