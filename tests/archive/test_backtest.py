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
    assert summary.scanned == len(CORPUS) + 3 and summary.matched == 8 and summary.shown == 8
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
    sent, already = await send_backfill(rec, "alerts", hits)
    assert already == 1 and len(sent) == len(hits) - 1 == 5
    again, _ = await send_backfill(Recorder(), "alerts", hits)
    assert again == sent  # the same ids: the alerter's dedup log drops a repeat
    alert = backfill_alert(next(h for h in hits if h.item.id == "ar-2"))
    assert alert is not None and alert.kind == "backfill" and alert.id in sent and alert.evidence
    assert rec.sent[0][0] == "alerts" and rec.sent[0][1] == sent[0].encode()
