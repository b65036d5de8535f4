"""Events: one alert per (rule, event) across sources and languages; corroboration; updates."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.cluster import (
    Clustering,
    EventPolicy,
    EventTracker,
    FrequencySpec,
    MemoryStore,
    Sighting,
    article_time,
    policy_for_rule,
    sighting,
)
from monitor.models import Article, Match
from tests.cluster.conftest import HOUR, T0
from tests.cluster.texts import (
    ATTACK_AR,
    ATTACK_AR_NEXT_DAY,
    ATTACK_EN,
    ATTACK_HARIR_EN,
    NEAR_COPIES,
)

RULE = "attack-on-base"
POLICY = EventPolicy(keys=("bases",))


def article(aid: str, text: str, at: float, source: str, lang: str) -> Article:
    title, _, body = text.partition("\n")
    when = datetime.fromtimestamp(at, UTC)
    return Article(id=aid, title=title, content=body, published=when, fetched_at=when, source=source, lang=lang)


def match(base: str, *, numbers: tuple[float, ...] = (), weapons: tuple[str, ...] = ()) -> Match:
    """What the rules engine gives for an attack report: canonical entity ids, language-independent."""
    entities = {"bases": (base,)}
    if weapons:
        entities["weapons"] = weapons
    return Match(rule=RULE, severity="high", entities=entities, numbers=numbers)


def see(c: Clustering, a: Article, m: Match, policy: EventPolicy = POLICY, norm=lambda t: t):
    copy = c.on_article(a.id, norm(f"{a.title}\n{a.content}"), article_time(a), a.source)
    return c.on_match(sighting(a, m, copy_group=copy.copy_group), policy, tags=("attack",))


def test_arabic_and_english_reports_of_one_attack_join_one_event(norm):
    c = Clustering(MemoryStore())
    ar = see(c, article("ar1", ATTACK_AR, T0, "alsumaria", "ar"), match("ain-al-asad", weapons=("missile",)), norm=norm)
    en = see(c, article("en1", ATTACK_EN, T0 + 2 * HOUR, "reuters", "en"), match("ain-al-asad", weapons=("missile",)), norm=norm)
    assert ar.kind == "new"
    assert en.event_id == ar.event_id
    assert en.kind == "update"  # a new, independent source
    assert en.sources == ("alsumaria", "reuters") and en.source_count == 2


def test_same_base_on_another_day_is_another_event(norm):
    c = Clustering(MemoryStore())
    first = see(c, article("ar1", ATTACK_AR, T0, "alsumaria", "ar"), match("ain-al-asad"), norm=norm)
    later = see(c, article("ar2", ATTACK_AR_NEXT_DAY, T0 + 38 * HOUR, "alsumaria", "ar"), match("ain-al-asad"), norm=norm)
    assert later.event_id != first.event_id
    assert later.kind == "new"


def test_another_base_the_same_day_is_another_event(norm):
    c = Clustering(MemoryStore())
    asad = see(c, article("ar1", ATTACK_AR, T0, "alsumaria", "ar"), match("ain-al-asad"), norm=norm)
    harir = see(c, article("en2", ATTACK_HARIR_EN, T0 + HOUR, "reuters", "en"), match("harir"), norm=norm)
    assert harir.event_id != asad.event_id
    assert harir.kind == "new"


def test_event_window_runs_from_the_first_report():
    t = EventTracker(MemoryStore())
    a = t.decide(Sighting(RULE, "a", T0, "s1", entities={"bases": ("ain-al-asad",)}), POLICY)
    b = t.decide(Sighting(RULE, "b", T0 + 5 * HOUR, "s2", entities={"bases": ("ain-al-asad",)}), POLICY)
    c = t.decide(Sighting(RULE, "c", T0 + 7 * HOUR, "s3", entities={"bases": ("ain-al-asad",)}), POLICY)
    assert a.event_id == b.event_id != c.event_id


def test_other_rules_never_share_an_event():
    t = EventTracker(MemoryStore())
    ents = {"bases": ("ain-al-asad",)}
    a = t.decide(Sighting(RULE, "a", T0, "s1", entities=ents), POLICY)
    b = t.decide(Sighting("base-visit", "a", T0, "s1", entities=ents), POLICY)
    assert a.event_id != b.event_id and b.kind == "new"


def test_copies_of_an_alerted_story_are_suppressed_but_counted(seeds, norm):
    c = Clustering(MemoryStore())
    text = seeds["002"]
    first = see(c, article("a", "t\n" + text, T0, "site-a", "ar"), match("kharab-al-jir"), norm=norm)
    copy = see(c, article("b", "t\n" + NEAR_COPIES["all-three"](text), T0 + HOUR, "site-b", "ar"), match("kharab-al-jir"), norm=norm)
    assert first.kind == "new"
    assert copy.event_id == first.event_id
    assert copy.kind == "suppress"
    assert copy.source_count == 2 and copy.sources == ("site-a", "site-b")


def test_a_copy_joins_its_story_even_when_the_rule_found_no_key_evidence(seeds, norm):
    c = Clustering(MemoryStore())
    text = seeds["001"]
    m = Match(rule="negotiation-round", severity="medium")
    first = see(c, article("a", "t\n" + text, T0, "site-a", "ar"), m, EventPolicy(), norm=norm)
    copy = see(c, article("b", "t\n" + NEAR_COPIES["another-headline"](text), T0 + HOUR, "site-a", "ar"), m, EventPolicy(), norm=norm)
    other = see(c, article("c", "t\n" + seeds["003"], T0 + HOUR, "site-a", "ar"), m, EventPolicy(), norm=norm)
    assert copy.event_id == first.event_id and copy.kind == "suppress"
    assert other.event_id != first.event_id and other.kind == "new"


def test_new_facts_make_an_update():
    t = EventTracker(MemoryStore())
    ents = {"bases": ("ain-al-asad",)}
    t.decide(Sighting(RULE, "a", T0, "s1", entities=ents, numbers=(3,)), POLICY)
    same = t.decide(Sighting(RULE, "b", T0 + 60, "s1", entities=ents, numbers=(3,)), POLICY)
    more = t.decide(Sighting(RULE, "c", T0 + 120, "s1", entities=ents, numbers=(3, 34)), POLICY)
    weapon = t.decide(
        Sighting(RULE, "d", T0 + 180, "s1", entities={**ents, "weapons": ("drone",)}, numbers=(34,)), POLICY
    )
    assert same.kind == "suppress" and same.new_facts == ()
    assert more.kind == "update" and [(f.kind, f.value) for f in more.new_facts] == [("number", "34")]
    assert weapon.kind == "update" and [(f.kind, f.value, f.list) for f in weapon.new_facts] == [
        ("entity", "drone", "weapons")
    ]


def test_min_sources_holds_the_alert_until_corroborated():
    t = EventTracker(MemoryStore())
    policy = EventPolicy(keys=("bases",), min_sources=3)
    ents = {"bases": ("ain-al-asad",)}
    kinds = [
        t.decide(Sighting(RULE, aid, T0 + i * 60, src, entities=ents), policy).kind
        for i, (aid, src) in enumerate([("a", "s1"), ("b", "s1"), ("c", "s2"), ("d", "s3"), ("e", "s4")])
    ]
    assert kinds == ["pending", "pending", "pending", "new", "update"]


def test_severity_boost_when_enough_sources_agree():
    t = EventTracker(MemoryStore())
    policy = EventPolicy(keys=("bases",), boost_sources=3, boost_severity="critical")
    ents = {"bases": ("harir",)}
    decided = [
        t.decide(Sighting(RULE, f"a{i}", T0 + i, src, severity="high", entities=ents), policy)
        for i, src in enumerate(["s1", "s2", "s2", "s3", "s4"])
    ]
    assert [d.severity for d in decided] == ["high", "high", "high", "critical", "critical"]
    assert [d.kind for d in decided] == ["new", "update", "suppress", "update", "update"]


def test_entities_must_agree_on_every_key_list():
    t = EventTracker(MemoryStore())
    policy = EventPolicy(keys=("bases", "weapons"))
    a = t.decide(Sighting(RULE, "a", T0, "s1", entities={"bases": ("harir",), "weapons": ("drone",)}), policy)
    b = t.decide(Sighting(RULE, "b", T0 + 1, "s2", entities={"bases": ("harir",), "weapons": ("rocket",)}), policy)
    c = t.decide(Sighting(RULE, "c", T0 + 2, "s3", entities={"bases": ("harir",)}), policy)
    assert b.event_id != a.event_id
    assert c.event_id == a.event_id  # no weapon named: the base decides


def test_conflicting_dates_do_not_join():
    t = EventTracker(MemoryStore())
    ents = {"bases": ("ain-al-asad",)}
    a = t.decide(Sighting(RULE, "a", T0, "s1", entities=ents, dates=("2024-01-20",)), POLICY)
    b = t.decide(Sighting(RULE, "b", T0 + HOUR, "s2", entities=ents, dates=("2024-01-19",)), POLICY)
    c = t.decide(Sighting(RULE, "c", T0 + HOUR, "s3", entities=ents), POLICY)
    assert b.event_id != a.event_id
    assert c.event_id == a.event_id


def test_default_keys_are_all_lists_in_the_match():
    t = EventTracker(MemoryStore())
    a = t.decide(Sighting(RULE, "a", T0, "s1", entities={"bases": ("harir",)}), EventPolicy())
    b = t.decide(Sighting(RULE, "b", T0 + 1, "s2", entities={"bases": ("harir",)}), EventPolicy())
    assert a.event_id == b.event_id


def test_redelivery_returns_the_first_decision_and_counts_nothing():
    c = Clustering(MemoryStore())
    s = Sighting(RULE, "a", T0, "s1", entities={"bases": ("harir",)})
    first = c.on_match(s, POLICY)
    again = c.on_match(s, POLICY)
    assert again.kind == first.kind == "new" and again.event_id == first.event_id
    assert again.repeat and again.articles == 1
    assert c.volume.frequency(RULE, FrequencySpec(2, HOUR), T0).count == 1


def test_event_ids_are_deterministic():
    def run() -> list[tuple[str, str]]:
        t = EventTracker(MemoryStore())
        out = []
        for i, base in enumerate(["harir", "ain-al-asad", "harir", "victory", "ain-al-asad"]):
            d = t.decide(Sighting(RULE, f"a{i}", T0 + i * 600, f"s{i % 2}", entities={"bases": (base,)}), POLICY)
            out.append((d.event_id, d.kind))
        return out

    assert run() == run()
    assert len({e for e, _ in run()}) == 3


def test_policy_from_a_rule_spec():
    schema = pytest.importorskip("monitor.rules.schema")  # the rules engine may not be there yet
    RuleSpec = schema.RuleSpec

    spec = RuleSpec.model_validate(
        {
            "id": RULE,
            "match": "x",
            "event": {"keys": ["bases"], "window": "6h"},
            "min_sources": 2,
            "severity_boost": {"sources": 4, "severity": "critical"},
        }
    )
    p = policy_for_rule(spec)
    assert p == EventPolicy(keys=("bases",), window_s=6 * HOUR, min_sources=2, boost_sources=4, boost_severity="critical")
    assert policy_for_rule(object()) == EventPolicy()


def test_words_of_plain_term_lists_are_not_new_facts():
    t = EventTracker(MemoryStore())
    policy = EventPolicy(default_keys=frozenset({"bases", "weapon_types"}))
    t.decide(Sighting(RULE, "a", T0, "s1", entities={"bases": ("harir",), "attack_acts": ("قصف",)}), policy)
    b = t.decide(Sighting(RULE, "b", T0 + 60, "s1", entities={"bases": ("harir",), "attack_acts": ("hit",)}), policy)
    c = t.decide(Sighting(RULE, "c", T0 + 90, "s1", entities={"bases": ("harir",), "weapon_types": ("drone",)}), policy)
    assert b.kind == "suppress" and b.new_facts == ()
    assert c.kind == "update" and [f.value for f in c.new_facts] == ["drone"]
