"""Events from the real rules engine and shipped rules, when they are there: Match.entities as produced.

The shipped attack rule reports plain-term lists too (attack words, weapons: words of one language),
so this is where default keys must be the entity lists only. Skipped when the engine or rule is absent
or the rule no longer matches these reports (the rules are tuned elsewhere).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.cluster import Clustering, MemoryStore, article_time, sighting
from monitor.cluster.adapt import entity_lists
from monitor.models import Article
from tests.cluster.conftest import HOUR, T0
from tests.cluster.texts import ATTACK_AR, ATTACK_AR_NEXT_DAY, ATTACK_EN, ATTACK_HARIR_EN

RULES = Path(__file__).resolve().parents[2] / "rules"
RULE = "attack-on-base.named"


@pytest.fixture(scope="module")
def ruleset():
    loader = pytest.importorskip("monitor.rules.loader")
    if not (RULES / "attack-on-base").is_dir():
        pytest.skip("no attack-on-base rules shipped")
    return loader.load_rules(RULES)


def report(rs, c: Clustering, aid: str, text: str, at: float, source: str):
    title, _, body = text.partition("\n")
    when = datetime.fromtimestamp(at, UTC)
    a = Article(id=aid, title=title, content=body, published=when, fetched_at=when, source=source)
    analysis = rs.analyse(a)
    copy = c.on_article(a.id, analysis.text, article_time(a), a.source)
    for m in analysis.matches:
        if m.rule == RULE:
            return c.on_match(sighting(a, m, copy_group=copy.copy_group), c.policy(rs.get(m.rule), rs.lists))
    pytest.skip(f"{RULE} no longer matches report {aid!r}")


def test_engine_reports_join_across_languages_and_split_by_base_and_day(ruleset):
    c = Clustering(MemoryStore())
    ar = report(ruleset, c, "ar", ATTACK_AR, T0, "alsumaria")
    en = report(ruleset, c, "en", ATTACK_EN, T0 + 2 * HOUR, "reuters")
    harir = report(ruleset, c, "harir", ATTACK_HARIR_EN, T0 + HOUR, "ap")
    next_day = report(ruleset, c, "next", ATTACK_AR_NEXT_DAY, T0 + 38 * HOUR, "alsumaria")
    assert ar.kind == "new"
    assert en.event_id == ar.event_id and en.kind == "update" and en.sources == ("alsumaria", "reuters")
    assert harir.event_id != ar.event_id and harir.kind == "new"
    assert next_day.event_id not in (ar.event_id, harir.event_id) and next_day.kind == "new"


def test_entity_lists_are_the_lists_with_canonical_ids(ruleset):
    names = entity_lists(ruleset.lists)
    assert "bases" in names
    assert "attack_acts" not in names


@dataclass
class _E:
    id: str
    terms: tuple[str, ...]


@dataclass
class _L:
    entities: dict[str, _E]


def test_entity_lists_from_plain_values():
    lists = {
        "bases": _L({"harir": _E("harir", ("حرير", "Harir"))}),
        "words": _L({"hit": _E("hit", ("hit",)), "قصف": _E("قصف", ("قصف",))}),
    }
    assert entity_lists(lists) == frozenset({"bases"})
