"""One alert per real-world event, with the real engine and the shipped rules (no Kafka)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from monitor.cluster import Clustering, MemoryStore
from monitor.metrics import Metrics
from monitor.models import Article, Evidence, Match
from monitor.process.core import Processor, Record
from monitor.process.policy import EventAlerts, merge_rule_sets
from monitor.rules import load_rules
from tests.helpers import ROOT


@pytest.fixture(scope="module")
def rules():  # type: ignore[no-untyped-def]
    return load_rules(ROOT / "rules")


def processor(rules) -> Processor:  # type: ignore[no-untyped-def]
    metrics = Metrics(CollectorRegistry())
    return Processor(rules, metrics=metrics, policy=EventAlerts(Clustering(MemoryStore()), metrics=metrics))


def attack(aid: str, lang: str, day: int, base: str = "Ain al-Asad", source: str = "wire") -> Article:
    when = datetime(2024, 1, day, 3, tzinfo=UTC)
    if lang == "ar":
        arabic_base = {"Ain al-Asad": "عين الأسد", "Harir": "حرير"}[base]
        title = f"استهداف قاعدة {arabic_base} بطائرة مسيرة"
        text = (f"استهدف هجوم بطائرة مسيرة قاعدة {arabic_base} الجوية التي تستضيف قوات أمريكية في العراق، "
                "فجر اليوم، بحسب مصدر أمني.")
    else:
        title = f"Drone attack targets {base} air base"
        text = f"A drone attack targeted {base} air base, which hosts US troops in Iraq, early today, a security source said."
    return Article(id=aid, title=title, content=text, source=source, published=when, fetched_at=when)


def alerts_of(p: Processor, article: Article):  # type: ignore[no-untyped-def]
    out = p.process(Record("articles", 0, 0, None, article.to_json()))
    assert out.dead is None
    return out.alerts


def test_variants_of_one_rule_set_give_one_alert(rules):
    seed = (ROOT / "seeds" / "001_dc5b0399aa33f440.txt").read_text(encoding="utf-8")
    art = Article(id="seed:001", title=seed.splitlines()[1][:100], content=seed, source="seeds")
    raw = [m for m in rules.analyse(art).matches if "negotiation-round" in m.tags]
    alerts = [a for a in alerts_of(processor(rules), art) if "negotiation-round" in a.tags]
    assert len(raw) >= 1
    assert len(alerts) == 1
    assert alerts[0].kind == "new" and alerts[0].event_id


def test_arabic_and_english_reports_of_one_attack_make_one_event(rules):
    p = processor(rules)
    first = alerts_of(p, attack("ar-1", "ar", 2, source="shafaq"))
    second = alerts_of(p, attack("en-1", "en", 2, source="reuters"))
    assert [a.kind for a in first] == ["new"]
    assert [a.kind for a in second] == ["update"]
    assert first[0].event_id == second[0].event_id
    assert second[0].source_count == 2 and set(second[0].sources) == {"shafaq", "reuters"}
    assert first[0].entities.get("bases") == ("ain-al-asad",)


def test_another_day_or_another_base_is_another_event(rules):
    p = processor(rules)
    a = alerts_of(p, attack("a", "en", 2))
    b = alerts_of(p, attack("b", "en", 4))
    c = alerts_of(p, attack("c", "ar", 4, base="Harir"))
    assert [x.kind for x in a + b + c] == ["new", "new", "new"]
    assert len({x.event_id for x in a + b + c}) == 3


def test_the_same_article_again_raises_nothing_new(rules):
    p = processor(rules)
    art = attack("x", "en", 2)
    first = alerts_of(p, art)
    again = alerts_of(p, art)
    assert [a.kind for a in first] == ["new"]
    assert all(a.id == first[0].id for a in again), "a redelivered article yields only the same alert id"


def test_merge_keeps_the_most_severe_variant_and_all_evidence():
    ev = lambda t: Evidence(term=t, matched=t, field="content", start=0, end=len(t))  # noqa: E731
    low = Match(rule="set.a", severity="low", score=9, evidence=(ev("x"),), entities={"bases": ("b1",)})
    high = Match(rule="set.b", severity="high", score=1, evidence=(ev("y"),), entities={"bases": ("b2",)})
    other = Match(rule="other", severity="info")
    merged = merge_rule_sets([low, high, other])
    assert [m.rule for m in merged] == ["set.b", "other"]
    assert {e.term for e in merged[0].evidence} == {"x", "y"}
    assert set(merged[0].entities["bases"]) == {"b1", "b2"}
