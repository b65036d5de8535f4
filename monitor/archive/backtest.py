"""Backtests: what rules would have caught in the archive, and backfill alerts for a new rule.

``run_backtest(archive, rules, since=…)`` reads the archive newest first in batches and runs the
stream's own engine (``RuleSet.analyse``) on each article, off the event loop. It yields a
``BacktestHit`` per match (article + ``Match`` with evidence) as it goes, and last a
``BacktestSummary`` (articles scanned, matches per day newest first and per rule, whether a limit cut
it short). Bounded in time and memory by ``BacktestLimits``: articles scanned, seconds, hits yielded
with evidence (matches past that are still counted). The rules are whatever the caller loaded (a
folder, a file, a request body): the live rule set of the processor is never touched.

``send_backfill`` turns the hits of the last hours into ``Alert``s of kind ``backfill`` with
deterministic ids (article + rule + version + "backfill"), skipping articles the live stream already
matched with that rule version. The archive records the ids it sent (after the broker's ack), so a
repeated backfill sends none of them again; and should a crash come between the ack and that record,
the repeat carries the same ids, which the alerter's dedup log drops.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import Field

from monitor.archive.model import ArchivedArticle, QueryInvalid
from monitor.archive.store import Archive
from monitor.models import Alert, ArticleRef, Evidence, Match, Model
from monitor.rules import RuleError, RuleSet, RulesInvalid, load_rules
from monitor.rules.loader import rule_files
from monitor.text.affixes import is_arabic


@dataclass(frozen=True)
class BacktestLimits:
    max_articles: int = 200_000
    max_seconds: float = 60.0
    max_hits: int = 1000
    batch: int = 500


@dataclass(frozen=True)
class BacktestHit:
    item: ArchivedArticle
    match: Match

    def view(self) -> HitView:
        a = self.item.article
        m = self.match
        return HitView(
            article_id=a.id, title=a.title, url=a.url, source=a.source, lang=self.item.lang,
            published=a.published, rule=m.rule, rule_version=m.rule_version, severity=m.severity,
            score=m.score, evidence=m.evidence, entities=m.entities,
            live=any(x.rule == m.rule and x.rule_version == m.rule_version for x in self.item.matches),
        )


class HitView(Model):
    """One backtest match, as the CLI and the API print it."""

    article_id: str
    title: str
    url: str
    source: str
    lang: str
    published: datetime
    rule: str
    rule_version: str
    severity: str
    score: float
    evidence: tuple[Evidence, ...]
    entities: dict[str, tuple[str, ...]]
    live: bool = Field(description="the stream matched this article with the same rule version")


class BacktestSummary(Model):
    scanned: int = Field(description="articles the rules ran on")
    prefiltered: bool = Field(
        default=False, description="only articles holding a trigger term's stem were read (the index said "
        "the others cannot match)")
    matched: int = Field(description="matches found (all counted, also past max_hits)")
    shown: int = Field(description="matches yielded with their evidence")
    per_day: tuple[tuple[str, int], ...] = Field(description="(YYYY-MM-DD of publication, matches), newest first")
    per_rule: dict[str, int]
    truncated: str = Field(default="", description="'' when the whole window was read, else the limit hit")
    seconds: float


@dataclass
class _State:
    scanned: int = 0
    shown: int = 0
    per_day: Counter[str] = field(default_factory=Counter)
    per_rule: Counter[str] = field(default_factory=Counter)
    prefiltered: bool = False


def _analyse(rules: RuleSet, items: Sequence[ArchivedArticle], only: frozenset[str] | None) -> list[list[Match]]:
    """The matches of each article, as the stream finds them: every enabled rule goes through the
    engine's own candidate selection (trigger terms, required groups) and the chosen ones are kept. A
    disabled rule named explicitly is evaluated directly (``only``: no candidate selection)."""
    if only is None:
        return [rules.analyse(i.article).matches for i in items]
    enabled = {r.id for r in rules.rules if r.enabled}
    if only <= enabled:
        return [[m for m in rules.analyse(i.article).matches if m.rule in only] for i in items]
    return [rules.analyse(i.article, only=only).matches for i in items]


def rule_ids(rules: RuleSet, tag: str | None = None, ids: Sequence[str] = ()) -> frozenset[str] | None:
    """The rules to evaluate: ``None`` = every enabled rule (the stream's own candidate selection)."""
    if not tag and not ids:
        return None
    chosen = {r.id for r in rules.rules if (not tag or tag in r.tags) and (not ids or r.id in ids)}
    return frozenset(chosen)


MAX_PREFIXES = 2000
_TOKEN = re.compile(r"[^\W_]+")


def index_prefixes(rules: RuleSet, only: frozenset[str] | None) -> list[str] | None:
    """Index-term prefixes at least one of which every article the rules can match contains; ``None``
    when no such prefilter holds (a rule evaluated on every article, a term too short, too many terms).

    The engine evaluates a rule only when one of its trigger terms occurs (``Rule.triggers``); a term
    occurs as tokens made of an optional proclitic, one of the term's keys (itself; for a ة-final
    Arabic word the stem with ت or ات; without ال after an article proclitic; a phrase's later words
    with ال) and a suffix (``monitor.rules.terms``). Each word of the term thus appears as a token, or
    a proclitic-stripped variant in the index (``monitor.archive.query.variants``), that starts with
    the word less a leading ال and a final ه; the longest such stem of each term is its prefix. A
    superset by construction: the engine still decides.
    """
    chosen = [r for r in rules.rules if (r.enabled if only is None else r.id in only)]
    stems: set[str] = set()
    for r in chosen:
        keys = rules.trigger_keys(r)
        if keys is None:
            return None
        for key in keys:
            words = [_stem(w) for w in _TOKEN.findall(key)]
            w = max(words, key=len, default="")
            if not w:
                return None
            stems.add(w)
    if len(stems) > MAX_PREFIXES:
        return None
    return sorted(stems)


def _stem(w: str) -> str:
    if is_arabic(w):
        if w.startswith("ال") and len(w) >= 4:
            w = w[2:]
        if w.endswith("ه") and len(w) >= 3:
            w = w[:-1]
    return w


async def run_backtest(
    archive: Archive, rules: RuleSet, *, since: datetime | None, until: datetime | None = None,
    tag: str | None = None, rules_only: Sequence[str] = (), limits: BacktestLimits = BacktestLimits(),
    prefilter: bool = True,
) -> AsyncIterator[BacktestHit | BacktestSummary]:
    only = rule_ids(rules, tag, rules_only)
    st = _State()
    started = time.monotonic()
    truncated = ""
    if only is not None and not only:
        yield _summary(st, started, "no rule has that tag or id")
        return
    prefixes = index_prefixes(rules, only) if prefilter else None
    st.prefiltered = prefixes is not None
    if prefixes == []:  # no rule with a term: nothing can match
        yield _summary(st, started, "")
        return
    async for batch in archive.batches(since, until, limits.batch, prefixes):
        batch = batch[: limits.max_articles - st.scanned]
        found = await asyncio.to_thread(_analyse, rules, batch, only)
        st.scanned += len(batch)
        for item, matches in zip(batch, found, strict=True):
            for m in matches:
                st.per_day[item.article.published.date().isoformat()] += 1
                st.per_rule[m.rule] += 1
                if st.shown < limits.max_hits:
                    st.shown += 1
                    yield BacktestHit(item, m)
        if st.scanned >= limits.max_articles:
            truncated = f"max_articles ({limits.max_articles})"
            break
        if time.monotonic() - started > limits.max_seconds:
            truncated = f"max_seconds ({limits.max_seconds:g})"
            break
    yield _summary(st, started, truncated)


def _summary(st: _State, started: float, truncated: str) -> BacktestSummary:
    return BacktestSummary(
        scanned=st.scanned, prefiltered=st.prefiltered, matched=sum(st.per_rule.values()), shown=st.shown,
        per_day=tuple(sorted(st.per_day.items(), reverse=True)), per_rule=dict(st.per_rule),
        truncated=truncated, seconds=round(time.monotonic() - started, 3),
    )


def backfill_alert(hit: BacktestHit) -> Alert | None:
    """The backfill alert of a hit, or ``None`` when the live stream already matched it."""
    item, m = hit.item, hit.match
    if any(x.rule == m.rule and x.rule_version == m.rule_version for x in item.matches):
        return None
    a = item.article
    return Alert(
        id=Alert.make_id(a.id, m.rule, m.rule_version, "backfill"), kind="backfill", rule=m.rule,
        rule_version=m.rule_version, rule_title=m.title, tags=m.tags, severity=m.severity, score=m.score,
        article=ArticleRef.of(a, lang=item.lang), evidence=m.evidence, entities=m.entities,
        event_id=item.event_id, copy_group=item.copy_group, sources=(a.source,) if a.source else (),
    )


BODY_NAME = "request.yaml"


def _is_list_file(path: Path) -> bool:
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return any(line.startswith("list:") for line in head.splitlines())


def load_text_rules(text: str, lists_from: Path | None, *, name: str = BODY_NAME) -> RuleSet:
    """Rules from one YAML document (a rule file's content), with the named lists of ``lists_from``.

    Raises ``RulesInvalid``; errors in the text name it ``name`` with their line numbers. Only
    the list files of the live folder are copied beside it, so its rules are neither loaded nor touched.
    """
    return _load_beside_lists({BODY_NAME: (text, name)}, lists_from)


def load_backtest_rules(path: Path, live: Path) -> RuleSet:
    """The rules of ``path`` (the live folder, a sub-folder of it or any folder, or one rule file) with
    the live folder's named lists, so a rule set's folder or file can be tried on its own."""
    path, live = path.resolve(), live.resolve()
    if path == live:
        return load_rules(path)
    if path.is_file():
        return load_text_rules(path.read_text(encoding="utf-8"), live, name=str(path))
    files = {f"rules/{f.relative_to(path)}": (f.read_text(encoding="utf-8"), str(f)) for f in rule_files(path)}
    return _load_beside_lists(files, live)


def _load_beside_lists(files: dict[str, tuple[str, str]], lists_from: Path | None) -> RuleSet:
    """Load ``files`` (relative name -> (text, name shown in errors)) in a scratch folder with the list
    files of ``lists_from`` (those the files do not define themselves)."""
    with tempfile.TemporaryDirectory(prefix="monitor-backtest-") as tmp:
        root = Path(tmp)
        shown = {str(root / rel): label for rel, (_, label) in files.items()}
        own = {Path(rel).name for rel in files}
        if lists_from is not None and lists_from.is_dir():
            for f in rule_files(lists_from):
                if _is_list_file(f) and f.name not in own:
                    dest = root / "lists" / f.relative_to(lists_from)
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(f, dest)
                    shown[str(dest)] = str(f)
        for rel, (text, _) in files.items():
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(text, encoding="utf-8")
        try:
            return load_rules(root)
        except RulesInvalid as exc:
            raise RulesInvalid([RuleError(shown.get(e.file, e.file), e.line, e.message) for e in exc.errors]) from None


@dataclass(frozen=True)
class BackfillResult:
    sent: list[str]  # alert ids sent now
    live: int  # matches the stream had already made with this rule version
    repeated: int  # backfill alerts a previous run already sent


async def send_backfill(
    producer: Any, topic: str, hits: Sequence[BacktestHit], archive: Archive | None = None,
) -> BackfillResult:
    """Send the backfill alerts of ``hits`` to ``topic``, skipping the ones the stream already raised and
    (with ``archive``) the ones an earlier backfill sent; the ids sent are recorded after the broker's ack."""
    alerts = []
    live = 0
    for hit in hits:
        alert = backfill_alert(hit)
        if alert is None:
            live += 1
        else:
            alerts.append(alert)
    done = await archive.backfilled([a.id for a in alerts]) if archive is not None and alerts else set()
    sent: list[str] = []
    for alert in alerts:
        if alert.id in done:
            continue
        await producer.send_and_wait(topic, alert.to_json(), key=alert.id.encode())
        sent.append(alert.id)
    if archive is not None and sent:
        await archive.record_backfill(sent)
    return BackfillResult(sent, live, len(done))


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_when(value: str, now: datetime) -> datetime:
    """``7d``, ``24h``, ``30m``, ``90s``, ``2w`` (that long before ``now``), Unix seconds or ISO 8601.

    Raises ``QueryInvalid`` with what was expected."""
    v = value.strip()
    if len(v) > 1 and v[-1] in _UNITS and v[:-1].replace(".", "", 1).isdigit():
        return now - timedelta(seconds=float(v[:-1]) * _UNITS[v[-1]])
    try:
        return datetime.fromtimestamp(float(v), UTC)
    except (ValueError, OverflowError):
        pass
    try:
        d = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        raise QueryInvalid(f"expected a duration (7d, 24h, 30m), Unix seconds or ISO 8601, got {value!r}") from None
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)
