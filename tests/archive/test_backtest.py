"""Backtests over the archive with the stream's engine, on both backends; backfill alert ids."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from monitor.archive.backtest import (
    BacktestHit,
    BacktestLimits,
    BacktestSummary,
    backfill_alert,
    load_text_rules,
    parse_when,
    run_backtest,
    send_backfill,
)
from monitor.archive.model import QueryInvalid
from monitor.models import Match
from monitor.rules import RulesInvalid

from .helpers import CORPUS, T0, item

ROOT = Path(__file__).resolve().parents[2]

RULE = """\
id: bt.base
title: a base is mentioned
severity: low
tags: [test-tag]
match:
  any: ["قاعدة", base]
"""

EXTRA = [
    item("old-1", "قصف قاعدة قديمة", hours=-48),
    item("old-2", "Old base report", lang="en", hours=-47),
    item("new-1", "Another base attacked", lang="en", hours=30),
]


async def collect(archive, rules, **kw):  # type: ignore[no-untyped-def]
    hits, summary = [], None
    async for out in run_backtest(archive, rules, **kw):
        if isinstance(out, BacktestHit):
            hits.append(out)
        else:
            assert isinstance(out, BacktestSummary) and summary is None
            summary = out
    assert summary is not None
    return hits, summary


async def test_matches_newest_first_with_evidence_and_counts_per_day(archive):
    await archive.put(sorted(CORPUS + EXTRA, key=lambda i: i.article.published))  # archived as published
    rules = load_text_rules(RULE, ROOT / "rules")
    hits, summary = await collect(archive, rules, since=None)
    got = [h.item.id for h in hits]
    assert got == ["new-1", "en-3", "en-1", "ar-3", "ar-2", "ar-1", "old-2", "old-1"]
    assert all(h.match.rule == "bt.base" and h.match.evidence for h in hits)
    ev = next(h for h in hits if h.item.id == "ar-2").match.evidence[0]
    assert ev.matched in ("والقاعدة", "بالقاعدة")  # the engine's affix handling, the original text
    # the index prefilter read only the articles holding «قاعد…» or «base…»; without it, every article
    assert summary.prefiltered and summary.scanned == 8 and summary.matched == 8 and summary.shown == 8
    _, full = await collect(archive, rules, since=None, prefilter=False)
    assert not full.prefiltered and full.scanned == len(CORPUS) + 3 and full.per_day == summary.per_day
    assert summary.per_day == (("2026-11-21", 1), ("2026-11-20", 5), ("2026-11-18", 2))
    assert summary.per_rule == {"bt.base": 8} and summary.truncated == ""
    # the window: published in [since, until)
    hits, summary = await collect(archive, rules, since=T0, until=T0 + timedelta(hours=6))
    assert [h.item.id for h in hits] == ["en-1", "ar-3", "ar-2", "ar-1"]


async def test_limits_and_tags(archive):
    await archive.put(sorted(CORPUS + EXTRA, key=lambda i: i.article.published))  # archived as published
    rules = load_text_rules(RULE, ROOT / "rules")
    hits, summary = await collect(archive, rules, since=None, limits=BacktestLimits(max_hits=2))
    assert len(hits) == 2 and summary.shown == 2 and summary.matched == 8  # all counted
    hits, summary = await collect(archive, rules, since=None, limits=BacktestLimits(max_articles=3, batch=2))
    assert summary.scanned == 3 and summary.truncated.startswith("max_articles")
    hits, summary = await collect(archive, rules, since=None, tag="test-tag")
    assert summary.matched == 8
    hits, summary = await collect(archive, rules, since=None, tag="no-such-tag")
    assert hits == [] and summary.scanned == 0 and "no rule" in summary.truncated


def test_rule_text_errors_carry_line_numbers():
    with pytest.raises(RulesInvalid) as exc:
        load_text_rules("id: x\ntitle: t\nmatch:\n  any: [a]\n  bogus: 1\n", ROOT / "rules")
    assert any(str(e).startswith("request.yaml:5:") for e in exc.value.errors), exc.value.errors
    # the live folder's lists resolve; its rules are not loaded
    rs = load_text_rules("id: x\ntitle: t\nmatch:\n  any: [\"@bases\"]\n", ROOT / "rules")
    assert [r.id for r in rs.rules] == ["x"]


def test_parse_when():
    assert parse_when("7d", T0) == T0 - timedelta(days=7)
    assert parse_when("90m", T0) == T0 - timedelta(minutes=90)
    assert parse_when("2026-11-01", T0).isoformat() == "2026-11-01T00:00:00+00:00"
    with pytest.raises(QueryInvalid):
        parse_when("last tuesday", T0)


class Recorder:
    """The producer boundary: records what would go to the topic."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    async def send_and_wait(self, topic: str, value: bytes, key: bytes) -> None:
        self.sent.append((topic, key, value))


async def test_backfill_alerts_are_deterministic_and_skip_live_matches(archive):
    rules = load_text_rules(RULE, ROOT / "rules")
    version = rules.rules[0].version
    live = item("live", "قاعدة تحت القصف", hours=1)
    live = live.model_copy(update={"matches": (Match(rule="bt.base", rule_version=version),)})
    await archive.put([*CORPUS, live])
    hits, _ = await collect(archive, rules, since=None)
    rec = Recorder()
    first = await send_backfill(rec, "alerts", hits)
    assert first.live == 1 and len(first.sent) == len(hits) - 1 == 5 and first.repeated == 0
    # without the archive's record the ids are the same (the alerter's dedup log drops a repeat) ...
    assert (await send_backfill(Recorder(), "alerts", hits)).sent == first.sent
    alert = backfill_alert(next(h for h in hits if h.item.id == "ar-2"))
    assert alert is not None and alert.kind == "backfill" and alert.id in first.sent and alert.evidence
    assert rec.sent[0][0] == "alerts" and rec.sent[0][1] == first.sent[0].encode()
    # ... and with it a repeat sends nothing at all
    await send_backfill(Recorder(), "alerts", hits, archive)
    again = await send_backfill(rec2 := Recorder(), "alerts", hits, archive)
    assert again.sent == [] and again.repeated == 5 and rec2.sent == []


async def test_prefilter_finds_what_a_full_scan_finds_on_the_rule_examples(archive, monkeypatch):
    """Every positive and negative example kept with the shipped rules, archived: the backtest with the
    index prefilter gives exactly the matches (article, rule, evidence) of a scan of every article."""
    from monitor.archive.record import analyse_for_archive
    from monitor.rules import compile as rules_compile
    from monitor.rules import load_rules
    from monitor.rules.examples import example_article

    # a regex past its 50 ms budget on a loaded machine would make the two runs differ: not our subject
    monkeypatch.setattr(rules_compile, "REGEX_TIMEOUT", 30.0)
    rules = load_rules(ROOT / "rules")
    articles = [example_article(ex, r.id, kind, i) for r in rules.rules if r.examples
                for kind in ("positive", "negative") for i, ex in enumerate(getattr(r.examples, kind))]
    articles += [_affixed(a, seed) for a in articles for seed in range(3)]
    assert len(articles) > 300
    await archive.put([analyse_for_archive(a, None) for a in articles])

    def key(h: BacktestHit) -> tuple[str, str, tuple[tuple[int, int], ...]]:
        return h.item.id, h.match.rule, tuple((e.start, e.end) for e in h.match.evidence)

    limits = BacktestLimits(max_hits=100_000)
    fast, s1 = await collect(archive, rules, since=None, limits=limits)
    slow, s2 = await collect(archive, rules, since=None, limits=limits, prefilter=False)
    assert s1.prefiltered and not s2.prefiltered and s2.scanned == len(articles)
    assert sorted(map(key, fast)) == sorted(map(key, slow)) and len(slow) > 50
    tagged, _ = await collect(archive, rules, since=None, tag="attack", limits=limits)
    assert sorted(map(key, tagged)) == sorted(k for h in slow if "attack" in h.match.tags for k in [key(h)])


def _affixed(a, seed: int):  # type: ignore[no-untyped-def]
    """The article with proclitics and suffixes glued to a third of its Arabic words (seeded)."""
    import random

    from monitor.text.affixes import PROCLITICS, SUFFIXES, is_arabic

    rng = random.Random(f"{a.id}:{seed}")
    pro, suf = sorted(PROCLITICS), sorted(SUFFIXES)

    def edit(text: str) -> str:
        words = text.split(" ")
        for i, w in enumerate(words):
            if is_arabic(w) and rng.random() < 0.33:
                words[i] = (rng.choice(pro) if rng.random() < 0.7 else "") + w + (rng.choice(suf) if rng.random() < 0.3 else "")
        return " ".join(words)

    return a.model_copy(update={"id": f"{a.id}~{seed}", "title": edit(a.title), "summary": edit(a.summary),
                                "content": edit(a.content)})
