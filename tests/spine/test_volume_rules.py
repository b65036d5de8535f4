"""Volume rules (issue 7): the `volume:` section of a rule, loaded by the real engine and evaluated by
the processor's alert policy (``EventAlerts``) over a ``MemoryStore``. Article times are explicit
(``published``); nothing here depends on the wall clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from monitor.cluster import Clustering, FrequencySpec, MemoryStore, SpikeSpec
from monitor.metrics import Metrics
from monitor.models import Alert, Article
from monitor.process.core import Processor, Record
from monitor.process.policy import EventAlerts
from monitor.rules import RulesInvalid, load_rules

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)

FREQUENCY = """\
id: drone-surge
title: Drone reports surge
severity: high
tags: [drones]
match: [drone]
volume:
  min_articles: 3
  min_sources: 2
  within: 1h
"""

SPIKE = """\
id: rocket-spike
tags: [rockets]
match: [rocket]
volume:
  spike: 3
  within: 1h
  baseline: 6h
  min_count: 4
"""

TAGGED = """\
rules:
  - id: shelling
    tags: [violence]
    match: [shelling]
  - id: clashes
    tags: [violence]
    match: [clashes]
  - id: violence-volume
    severity: critical
    tags: [violence-volume]
    match: [never-matching-placeholder-term]
    volume: {key: "tag:violence", min_articles: 2, within: 30m}
"""

PLAIN = """\
id: plain
tags: [plain]
match: [drone]
"""


def ruleset(tmp_path: Path, **files: str):  # type: ignore[no-untyped-def]
    folder = tmp_path / "rules"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name}.yaml").write_text(text, encoding="utf-8")
    return load_rules(folder)


class Pipeline:
    """The processor with the event policy, as the CLI builds it (no volume counters by default)."""

    def __init__(self, rules) -> None:  # type: ignore[no-untyped-def]
        self.store = MemoryStore()
        self.metrics = Metrics(CollectorRegistry())
        self.policy = EventAlerts(Clustering(self.store, track_volume=False), metrics=self.metrics)
        self.processor = Processor(rules, metrics=self.metrics, policy=self.policy)
        self.offset = 0

    def feed(self, aid: str, text: str, source: str, minutes: float) -> list[Alert]:
        when = T0 + timedelta(minutes=minutes)
        art = Article(id=aid, title=text, content=f"{text} ({source}, {aid})", source=source,
                      published=when, fetched_at=when)
        self.offset += 1
        out = self.processor.process(Record("articles", 0, self.offset, None, art.to_json()))
        assert out.dead is None
        return out.alerts

    def volume(self, alerts: list[Alert]) -> list[Alert]:
        return [a for a in alerts if "volume" in a.tags]


# --- loading -----------------------------------------------------------------------------------
def test_volume_section_is_parsed_into_the_rule(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, freq=FREQUENCY, spike=SPIKE, tagged=TAGGED, plain=PLAIN)
    freq = rules.get("drone-surge").volume
    assert (freq.key, freq.kind, freq.min_articles, freq.min_sources, freq.within) == ("rule", "frequency", 3, 2, 3600)
    spike = rules.get("rocket-spike").volume
    assert (spike.kind, spike.spike, spike.within, spike.baseline, spike.min_count) == ("spike", 3, 3600, 6 * 3600, 4)
    tagged = rules.get("violence-volume").volume
    assert (tagged.key, tagged.tag, tagged.within) == ("tag:violence", "violence", 1800)
    assert rules.get("plain").volume is None


@pytest.mark.parametrize(
    ("body", "line", "fragment"),
    [
        ("volume:\n  min_articles: 3\n  within: soon\n", 7, "within: seconds, or a duration"),
        ("volume:\n  min_articles: 3\n", 5, "volume.within"),
        ("volume:\n  within: 1h\n", 5, "exactly one of `min_articles` (frequency) or `spike`"),
        ("volume:\n  min_articles: 3\n  spike: 2\n  within: 1h\n", 5, "exactly one of"),
        ("volume:\n  min_articles: 0\n  within: 1h\n", 6, "volume.min_articles"),
        ("volume:\n  min_articles: 2\n  min_sources: 3\n  within: 1h\n", 5, "cannot exceed min_articles"),
        ("volume:\n  spike: 3\n  min_sources: 2\n  within: 1h\n", 5, "`min_sources` goes with `min_articles`"),
        ("volume:\n  min_articles: 3\n  within: 1h\n  baseline: 1d\n", 5, "go with `spike`"),
        ("volume:\n  spike: 3\n  within: 2h\n  baseline: 1h\n", 5, "must be at least `within`"),
        ("volume:\n  key: tags:x\n  min_articles: 3\n  within: 1h\n", 6, "key must be `rule` or `tag:<name>`"),
        ("volume:\n  min_articles: 3\n  within: 1h\n  sources: 2\n", 8, "unknown key `sources`"),
        ("volume:\n  min_articles: 3\n  within: -5m\n", 7, "within"),
    ],
)
def test_bad_volume_sections_are_reported_with_file_and_line(
    tmp_path: Path, body: str, line: int, fragment: str
) -> None:
    text = "id: bad\ntitle: Bad\ntags: [x]\nmatch: [drone]\n" + body
    with pytest.raises(RulesInvalid) as exc:
        ruleset(tmp_path, bad=text)
    errors = exc.value.errors
    assert len(errors) == 1, errors
    assert errors[0].file.endswith("bad.yaml")
    assert errors[0].line == line, str(errors[0])
    assert fragment in errors[0].message, str(errors[0])
    assert str(errors[0]).startswith(f"{errors[0].file}:{line}: ")


# --- frequency ---------------------------------------------------------------------------------
def test_frequency_fires_once_when_the_third_article_from_a_second_source_arrives(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, freq=FREQUENCY))
    a1 = p.feed("a1", "drone strike reported", "wire", 0)
    a2 = p.feed("a2", "second drone sighting", "wire", 10)
    assert p.volume(a1) == [] and p.volume(a2) == []  # two articles, one source: not yet
    a3 = p.feed("a3", "drone attack near the airport", "shafaq", 20)
    [v] = p.volume(a3)
    assert v.kind == "new" and v.rule == "drone-surge"
    assert v.tags == ("drones", "volume")
    assert v.severity == "high"
    assert v.article.id == "a3"
    assert v.source_count == 2 and v.sources == ("shafaq", "wire")
    assert v.score == 3
    bucket = p.policy.clustering.volume.bucket((T0 + timedelta(minutes=20)).timestamp())
    assert v.id == Alert.make_id("a3", "drone-surge", v.rule_version, "volume", f"frequency:{bucket}")
    a4 = p.feed("a4", "a fourth drone report", "reuters", 30)  # still true: edge-triggered, no new alert
    assert p.volume(a4) == []
    # the ordinary event alerts of the rule are still raised beside the volume alert
    assert [a.kind for a in a1 if "volume" not in a.tags] == ["new"]
    assert p.metrics.volume_alerts.labels("drone-surge", "frequency")._value.get() == 1


def test_frequency_needs_the_articles_within_the_window(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, freq=FREQUENCY))
    assert p.volume(p.feed("a1", "drone strike", "wire", 0)) == []
    assert p.volume(p.feed("a2", "drone strike", "shafaq", 70)) == []
    assert p.volume(p.feed("a3", "drone strike", "reuters", 140)) == []  # three sources, never within 1 h
    assert p.volume(p.feed("a4", "drone strike", "wire", 150)) == []  # two within the hour
    assert [a.article.id for a in p.volume(p.feed("a5", "drone strike", "wire", 160))] == ["a5"]


def test_frequency_rearms_after_the_level_drops(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, freq=FREQUENCY))
    fired = []
    for i, (source, minutes) in enumerate([("wire", 0), ("wire", 5), ("afp", 10), ("afp", 15),
                                           ("wire", 200), ("wire", 205), ("afp", 210)]):
        fired += [(i, a.article.id) for a in p.volume(p.feed(f"a{i}", "drone report", source, minutes))]
    assert fired == [(2, "a2"), (6, "a6")]  # the level fell in between (no drone reports for hours)


def test_a_redelivered_article_is_not_counted_again(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, freq=FREQUENCY))
    p.feed("a1", "drone strike", "wire", 0)
    p.feed("a1", "drone strike", "wire", 0)
    assert p.volume(p.feed("a2", "drone strike", "shafaq", 5)) == []  # only two distinct articles


# --- spike -------------------------------------------------------------------------------------
def test_spike_fires_when_the_last_hour_is_k_times_the_baseline(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, spike=SPIKE))
    fired = []
    # baseline: one rocket report an hour for six hours (mean 1 per hour)
    for h in range(6):
        fired += p.volume(p.feed(f"b{h}", "rocket fire", "wire", h * 60))
    assert fired == []
    # then a burst in the seventh hour: the 3rd is 3x the baseline but below min_count 4; the 4th fires
    for i in range(3):
        assert p.volume(p.feed(f"s{i}", "rocket barrage", f"src{i}", 6 * 60 + 5 + i)) == []
    [v] = p.volume(p.feed("s3", "rocket barrage", "src3", 6 * 60 + 10))
    assert v.rule == "rocket-spike" and v.tags == ("rockets", "volume") and v.severity == "medium"
    assert v.score == 4 and v.source_count == 4
    assert p.volume(p.feed("s4", "rocket barrage", "src4", 6 * 60 + 12)) == []  # still spiking: no repeat
    assert p.metrics.volume_alerts.labels("rocket-spike", "spike")._value.get() == 1


def test_no_spike_without_a_burst(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, spike=SPIKE))
    fired = []
    for i in range(24):  # a steady two reports an hour
        fired += p.volume(p.feed(f"r{i}", "rocket fire", "wire", i * 30))
    assert fired == []


# --- tag keys ----------------------------------------------------------------------------------
def test_tag_key_counts_every_rule_carrying_the_tag_once_per_article(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, tagged=TAGGED))
    first = p.volume(p.feed("v1", "shelling and clashes overnight", "wire", 0))  # two rules, one article
    assert first == []
    [v] = p.volume(p.feed("v2", "clashes resumed", "afp", 10))
    assert v.rule == "violence-volume" and v.severity == "critical"
    assert v.tags == ("violence-volume", "volume") and v.article.id == "v2"
    assert v.sources == ("afp", "wire")
    # one counter for the volume rule: v1 counted once though two rules with the tag matched it
    assert {key for key, _bucket in p.store._counts} == {"volume:violence-volume"}
    assert sum(sum(per.values()) for per in p.store._counts.values()) == 2


# --- the hot path stays cheap ------------------------------------------------------------------
def test_a_rule_without_volume_records_no_counters(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, plain=PLAIN))
    for i in range(5):
        assert p.feed(f"p{i}", "drone strike", f"s{i}", i)  # the rule matches and alerts
    assert not p.policy.volume_rules(p.processor.rules)
    store = p.store
    assert store._counts == {} and store._count_exp == {}
    assert not any(name.startswith(("latch:", "clock:")) for name in store._blobs)


def test_only_volume_rules_are_counted(tmp_path: Path) -> None:
    p = Pipeline(ruleset(tmp_path, freq=FREQUENCY, plain=PLAIN))
    p.feed("a1", "drone strike", "wire", 0)  # matches both rules
    assert {key for key, _bucket in p.store._counts} == {"volume:drone-surge"}


def test_specs_given_to_the_evaluators(tmp_path: Path) -> None:
    rules = ruleset(tmp_path, freq=FREQUENCY, spike=SPIKE)
    policy = EventAlerts(Clustering(MemoryStore(), track_volume=False), metrics=Metrics(CollectorRegistry()))
    vol = policy.volume_rules(rules)
    assert vol.by_rule["drone-surge"][0].spec == FrequencySpec(count=3, window_s=3600, sources=2)
    assert vol.by_rule["rocket-spike"][0].spec == SpikeSpec(factor=3, window_s=3600, baseline_s=6 * 3600, min_count=4)
    assert policy.volume_rules(rules) is vol  # computed once per rule set


def test_a_spike_longer_than_the_counters_is_ignored_not_fatal(tmp_path: Path) -> None:
    long = SPIKE.replace("baseline: 6h", "baseline: 3d")
    p = Pipeline(ruleset(tmp_path, spike=long))
    assert not p.policy.volume_rules(p.processor.rules)
    assert p.feed("x", "rocket fire", "wire", 0)  # the rule's ordinary alert still works
