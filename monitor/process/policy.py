"""One alert per real-world event: the processor's alert policy on top of ``monitor.cluster``.

In: an article, its analysis (matches, normalised text) and the running rule set. Out: the alerts to
raise. The order per article:

1. matches of one *rule set* are merged: rules whose ids share the part before the first ``.``
   (``negotiation-round.round``, ``negotiation-round.committee-meeting``) are variants of one rule set,
   and an article matching several variants yields one match — the most severe (then highest score),
   with the evidence and entities of the others added;
2. an article with at least one match is filed with the near-duplicate detector (``copy_group``);
   articles without matches are not (they could not alert, and it keeps the store small);
3. each merged match is a sighting of its rule set's event: ``new`` raises the alert, ``update`` raises
   an update of the event (subscribers choose whether to receive updates), ``suppress`` (a copy of what
   was already alerted) and ``pending`` (``min_sources`` not reached yet) raise nothing.

4. volume rules (a ``volume:`` section): each match of such a rule (``key: rule``), or each article
   with a match carrying its tag (``key: tag:<name>``), is counted under ``volume:<rule id>`` and the
   rule's frequency or spike condition is evaluated; when it becomes true (edge-triggered) an extra
   ``Alert(kind="new")`` is raised for the rule, tagged ``volume``. Only those rules are counted, so a
   rule set without volume rules adds nothing to the hot path. A redelivered article is not counted
   again.

Alert ids stay deterministic (article, rule version, kind, event), so reprocessing after a crash yields
the same ids and the alerter's dedup log drops them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable, Sequence
from contextlib import AbstractContextManager
from typing import Any

from monitor.cluster import Clustering, FrequencySpec, SpikeSpec, VolumeAlert, article_time, sighting
from monitor.cluster.adapt import to_alert
from monitor.cluster.copies import CopyDecision
from monitor.cluster.events import EventPolicy
from monitor.cluster.signature import Fingerprint
from monitor.metrics import METRICS, Metrics
from monitor.models import SEVERITY_ORDER, Alert, Article, ArticleRef, Match, stable_id
from monitor.process.core import AnalysisLike

log = logging.getLogger(__name__)


def rule_set_of(rule_id: str) -> str:
    return rule_id.split(".", 1)[0]


def merge_rule_sets(matches: Iterable[Match]) -> list[Match]:
    """One match per rule set: the strongest variant, carrying the others' evidence and entities."""
    groups: dict[str, list[Match]] = {}
    for m in matches:
        groups.setdefault(rule_set_of(m.rule), []).append(m)
    merged: list[Match] = []
    for members in groups.values():
        members.sort(key=lambda m: (-SEVERITY_ORDER[m.severity], -m.score, m.rule))
        best = members[0]
        if len(members) > 1:
            evidence = list(best.evidence)
            entities = {k: list(v) for k, v in best.entities.items()}
            for other in members[1:]:
                evidence.extend(e for e in other.evidence if e not in evidence)
                for name, ids in other.entities.items():
                    have = entities.setdefault(name, [])
                    have.extend(i for i in ids if i not in have)
            best = best.model_copy(update={
                "evidence": tuple(evidence),
                "entities": {k: tuple(v) for k, v in entities.items()},
                "numbers": tuple(dict.fromkeys(n for m in members for n in m.numbers)),
            })
        merged.append(best)
    return merged


@dataclasses.dataclass(frozen=True, slots=True)
class VolumeRule:
    """A rule with a ``volume:`` section, ready for the processor."""

    rule: Any  # the engine ``Rule``
    counter: str  # the store counter (and latch) key: ``volume:<rule id>``
    tag: str | None  # ``key: tag:<name>``: the tag counted; None: the rule's own matches
    spec: FrequencySpec | SpikeSpec


def volume_spec(volume: Any) -> FrequencySpec | SpikeSpec:
    """The evaluator spec of a rule's ``volume`` section (``monitor.rules.schema.VolumeSpec``)."""
    if getattr(volume, "spike", None) is not None:
        optional: dict[str, Any] = {}
        if volume.baseline:
            optional["baseline_s"] = float(volume.baseline)
        if volume.min_count:
            optional["min_count"] = int(volume.min_count)
        return SpikeSpec(factor=float(volume.spike), window_s=float(volume.within), **optional)
    return FrequencySpec(
        count=int(volume.min_articles), window_s=float(volume.within), sources=int(volume.min_sources or 1)
    )


class VolumeRules:
    """The volume rules of one rule set, indexed by what they count."""

    def __init__(self, rules: Iterable[Any], retention_s: float) -> None:
        self.by_rule: dict[str, list[VolumeRule]] = {}
        self.by_tag: dict[str, list[VolumeRule]] = {}
        for rule in rules:
            volume = getattr(rule, "volume", None)
            if volume is None or not getattr(rule, "enabled", True):
                continue
            spec = volume_spec(volume)
            if isinstance(spec, SpikeSpec) and spec.window_s + spec.baseline_s > retention_s:
                log.error(
                    "rule %s: volume spike window + baseline (%.0f s) is longer than the counters are kept "
                    "(%.0f s, MONITOR_VOLUME_RETENTION_HOURS): its volume section is ignored",
                    rule.id, spec.window_s + spec.baseline_s, retention_s,
                )
                continue
            tag = getattr(volume, "tag", None)
            vr = VolumeRule(rule, f"volume:{rule.id}", tag, spec)
            if tag is None:
                self.by_rule.setdefault(rule.id, []).append(vr)
            else:
                self.by_tag.setdefault(tag, []).append(vr)

    def __bool__(self) -> bool:
        return bool(self.by_rule or self.by_tag)


class EventAlerts:
    """An ``AlertPolicy`` (see ``monitor.process.core``) that raises one alert per (rule set, event), and
    the alerts of volume rules."""

    def __init__(self, clustering: Clustering, metrics: Metrics = METRICS) -> None:
        self.clustering = clustering
        self.metrics = metrics
        self._volume_of: Any = None  # the rule set ``_volume`` was built for (a reload brings a new one)
        self._volume = VolumeRules((), 0.0)
        #: article id -> (analysis, merged matches, fingerprint), read ahead for one batch by ``prepare``
        self._prepared: dict[str, tuple[Any, list[Match], Fingerprint]] = {}
        self._policies_of: Any = None  # the rule set ``_policies`` was built for
        self._policies: dict[str, EventPolicy] = {}  # rule id -> its event policy, once per rule set

    def batch(self) -> AbstractContextManager[None]:
        """The scope of one batch of articles: the store sends its writes together (``ClusterStore.batch``)."""
        return self.clustering.store.batch()

    def prepare(self, items: Sequence[tuple[Article, AnalysisLike, Any]]) -> None:
        """Read ahead, in two round trips, the store state the next calls for ``items`` will use (inside
        ``batch()``, in this order). Fingerprints are computed here once and reused."""
        c = self.clustering
        self._prepared = {}
        todo: list[tuple[Article, list[Match], Any, Fingerprint]] = []
        for article, analysis, rules in items:
            matches = merge_rule_sets(analysis.matches)
            if matches:
                fp = c.copies.fingerprint(analysis.text)
                self._prepared[article.id] = (analysis, matches, fp)
                todo.append((article, matches, rules, fp))
        store = c.store
        store.prefetch_copies([(a.id, fp.digest, fp.bands) for a, _, _, fp in todo if fp.digest])
        keys: list[str] = []
        for article, matches, rules, fp in todo:
            groups = {article.id}  # the copy groups the article may get: its own or a candidate's
            if fp.digest:
                own, exact, candidates = store.copy_lookup(article.id, fp.digest, fp.bands)
                groups.update(e.group for e in (own, exact, *candidates) if e is not None)
            at = article_time(article)
            for m in matches:
                policy = self.event_policy(rules, m.rule)
                for g in sorted(groups):
                    seen = sighting(article, m, copy_group=g, rule=rule_set_of(m.rule), at=at)
                    keys += c.events.lookup_keys(seen, policy)
        store.prefetch_events(keys)

    def event_policy(self, rules: Any, rule_id: str) -> EventPolicy:
        """``Clustering.policy`` of the rule ``rule_id`` of ``rules`` (a ``RuleSet``), computed once per rule
        and rule set object (a reload brings a new one)."""
        if self._policies_of is not rules:
            self._policies, self._policies_of = {}, rules
        policy = self._policies.get(rule_id)
        if policy is None:
            rule = rules.get(rule_id) if hasattr(rules, "get") else None
            policy = self._policies[rule_id] = self.clustering.policy(rule, getattr(rules, "lists", None))
        return policy

    def volume_rules(self, rules: Any) -> VolumeRules:
        """The volume rules of ``rules`` (a ``RuleSet``), computed once per rule set object."""
        if self._volume_of is not rules:
            self._volume = VolumeRules(getattr(rules, "rules", ()), self.clustering.volume.retention_s)
            self._volume_of = rules
        return self._volume

    def __call__(self, article: Article, analysis: Any, rules: Any) -> list[Alert]:
        cached = self._prepared.pop(article.id, None)
        if cached is not None and cached[0] is analysis:  # read ahead by ``prepare`` for this very analysis
            _, matches, fp = cached
        else:
            matches, fp = merge_rule_sets(analysis.matches), None
        if not matches:
            return []
        c = self.clustering
        at = article_time(article)
        copy = c.on_article(article.id, analysis.text, at, article.source, fp)
        if copy.is_copy:
            self.metrics.copy_groups.inc()
        alerts: list[Alert] = []
        repeats: set[str] = set()  # rule sets that saw this article before (a redelivery)
        ref: ArticleRef | None = None  # the article's part of its alerts, built once
        for m in matches:
            seen = sighting(article, m, copy_group=copy.copy_group, rule=rule_set_of(m.rule), at=at)
            decision = c.on_match(seen, self.event_policy(rules, m.rule), tags=m.tags)
            self.metrics.event_decisions.labels(rule_set_of(m.rule), decision.kind).inc()
            if decision.repeat:
                repeats.add(rule_set_of(m.rule))
            if decision.alert:
                if ref is None:
                    ref = ArticleRef.of(article, lang=analysis.lang)
                alerts.append(to_alert(article, m, copy, decision, lang=analysis.lang, ref=ref))
        volume = self.volume_rules(rules)
        if volume:
            alerts.extend(self._volume_alerts(article, analysis, copy, volume, repeats))
        return alerts

    def _volume_alerts(
        self, article: Article, analysis: Any, copy: CopyDecision, volume: VolumeRules, repeats: set[str]
    ) -> list[Alert]:
        """Count this article for the volume rules it concerns; the alerts of those that became true."""
        c = self.clustering
        at = article_time(article)
        now = max(at, c.store.now)  # the window ends at the latest article time seen
        todo: list[tuple[VolumeRule, Match]] = []
        tagged: dict[str, Match] = {}
        for m in analysis.matches:  # before merging: a variant's volume rule counts its own matches
            if rule_set_of(m.rule) in repeats:
                continue
            todo.extend((vr, m) for vr in volume.by_rule.get(m.rule, ()))
            if volume.by_tag:
                for tag in m.tags:
                    tagged.setdefault(tag, m)
        for tag, m in sorted(tagged.items()):  # an article counts once per tag, whatever matched it
            todo.extend((vr, m) for vr in volume.by_tag.get(tag, ()))
        out = []
        for vr, m in todo:
            fired = c.on_volume(vr.counter, article.source, at, vr.spec, now)
            if fired is not None:
                self.metrics.volume_alerts.labels(vr.rule.id, fired.kind).inc()
                out.append(self._volume_alert(article, analysis, copy, vr, m, fired))
        return out

    def _volume_alert(
        self, article: Article, analysis: Any, copy: CopyDecision, vr: VolumeRule, m: Match, fired: VolumeAlert
    ) -> Alert:
        c = self.clustering
        rule = vr.rule
        bucket = str(c.volume.bucket(fired.at))
        sources = c.volume_sources(vr.counter, vr.spec.window_s, fired.at)
        return Alert(
            id=Alert.make_id(article.id, rule.id, rule.version, "volume", f"{fired.kind}:{bucket}"),
            kind="new",
            rule=rule.id,
            rule_version=rule.version,
            rule_title=rule.title,
            tags=tuple(dict.fromkeys((*rule.tags, "volume"))),
            severity=rule.severity,
            score=float(fired.reading.count),
            article=ArticleRef.of(article, lang=analysis.lang),
            evidence=m.evidence,
            entities=m.entities,
            event_id=stable_id("volume", rule.id, fired.kind, bucket),
            copy_group=copy.copy_group,
            sources=sources,
            source_count=len(sources) or fired.reading.sources,
        )
