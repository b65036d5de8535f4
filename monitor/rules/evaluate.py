"""Scoring a rule set on labelled articles: precision and recall per tag and per language.

``read_labelled(path, tags)`` reads JSON Lines where each line is a ``monitor match`` input article
(``id``, ``title``, ``summary``, ``content`` — or ``text`` as another name for ``content`` — ``lang``,
``source`` …) plus ``labels: [tag, …]`` (the tags that apply, ``[]`` for a negative) and optionally
``ambiguous: true`` (the item is skipped) and ``split`` (a name the caller may filter on); other fields
are ignored. It returns the items and every problem as a ``LabelError`` (``file:line: message``: bad
JSON, a missing or malformed field, a tag not among ``tags``, a repeated id) — it never raises on bad
input. ``evaluate(ruleset, items, tags)`` runs the rules on each item and returns an ``Evaluation``: the
confusion counts per tag, overall and per language, and one ``Outcome`` per false positive and false
negative with the matches (their evidence) that made or failed to make the call, and each article's calls
(``monitor.rules.compare`` sets two evaluations side by side). Pure: no printing, no
exit codes (``monitor rules eval`` in ``monitor.cli.rules`` does that).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from pydantic import ValidationError

from monitor.models import Article, Match
from monitor.rules.engine import Analysis, RuleSet, article_from

ALL = "all"  # the language key of the figures over every language


@dataclass(frozen=True)
class LabelError:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class LabelledItem:
    line: int
    article: Article
    labels: frozenset[str]
    split: str | None
    ambiguous: bool


@dataclass
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    @property
    def precision(self) -> float | None:
        """None when nothing was predicted (undefined, not a failure)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """None when nothing carries the tag."""
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    def add(self, truth: bool, predicted: bool) -> None:
        if truth and predicted:
            self.tp += 1
        elif predicted:
            self.fp += 1
        elif truth:
            self.fn += 1
        else:
            self.tn += 1

    def as_dict(self) -> dict[str, Any]:
        return {"tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision": self.precision, "recall": self.recall}


@dataclass(frozen=True)
class Outcome:
    """One wrong call: ``kind`` is ``fp`` (a rule of ``tag`` matched, the label says no) or ``fn``."""

    kind: str
    tag: str
    item: LabelledItem
    lang: str
    matches: tuple[Match, ...]  # fp: the matches carrying the tag; fn: the article's other matches
    #: fn only: the learned check's probability reached the tag's rescue threshold, but the folder's
    #: ``rescue_needs`` for the tag did not hold in the article (so it was not added)
    held_back: bool = False


@dataclass
class Evaluation:
    tags: tuple[str, ...]
    articles: int = 0
    skipped: int = 0  # ambiguous items
    counts: dict[str, dict[str, Counts]] = field(default_factory=dict)  # tag -> lang|"all" -> counts
    errors: list[Outcome] = field(default_factory=list)
    #: article id -> the scored tags the rules gave it, and the language it was scored under (for
    #: ``monitor.rules.compare``)
    calls: dict[str, frozenset[str]] = field(default_factory=dict)
    langs: dict[str, str] = field(default_factory=dict)

    def below(self, minimum: float) -> list[tuple[str, str, str, float]]:
        """(tag, lang, "precision"|"recall", value) for every defined figure under ``minimum``."""
        out = []
        for tag, by_lang in self.counts.items():
            for lang, c in by_lang.items():
                for name, value in (("precision", c.precision), ("recall", c.recall)):
                    if value is not None and value < minimum:
                        out.append((tag, lang, name, value))
        return out


def held_back(ruleset: RuleSet, analysis: Analysis) -> tuple[str, ...]:
    """The tags the learned check would have added to this article (no match carries them, their probability
    reached the rescue threshold) but did not, because the folder's ``rescue_needs`` did not hold; sorted."""
    model = ruleset.learned
    if model is None or not analysis.unmet:
        return ()
    carried = {t for m in analysis.matches for t in m.tags}
    return tuple(sorted(t for t in analysis.unmet
                        if t not in carried and model.would_add(t, analysis.probabilities.get(t, 0.0))))


def rule_tags(ruleset: RuleSet, *, enabled_only: bool = True) -> tuple[str, ...]:
    """The tags of the enabled rules (of all rules with ``enabled_only=False``), sorted."""
    rules = ruleset.enabled if enabled_only else ruleset.rules
    return tuple(sorted({t for r in rules for t in r.tags}))


def _str_list(value: Any, what: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValueError(f"`{what}` must be a list of strings, got {orjson.dumps(value).decode()[:60]}")
    return value


def _item(data: Any, line: int, known: frozenset[str]) -> LabelledItem:
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    if data.get("id") in (None, "") or isinstance(data["id"], bool | list | dict):
        raise ValueError("missing `id` (a string or number)")
    data = dict(data, id=str(data["id"]))
    ambiguous = data.get("ambiguous", False)
    if not isinstance(ambiguous, bool):
        raise ValueError("`ambiguous` must be true or false")
    if "labels" not in data and not ambiguous:
        raise ValueError("missing `labels` (a list of tags; [] when none applies)")
    labels = _str_list(data.get("labels", []), "labels")
    unknown = sorted(set(labels) - known)
    if unknown:
        raise ValueError(f"unknown tag `{unknown[0]}` in `labels` (the rules' tags: {', '.join(sorted(known))})")
    if "text" in data:
        if data.get("content"):
            raise ValueError("both `text` and `content`: give one (`text` is read as `content`)")
        if not isinstance(data["text"], str):
            raise ValueError("`text` must be a string")
        data["content"] = data.pop("text")
    split = data.get("split")
    if split is not None and not isinstance(split, str):
        raise ValueError("`split` must be a string")
    try:
        article = article_from(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise ValueError(f"`{'.'.join(str(x) for x in first['loc'])}`: {first['msg']}") from None
    return LabelledItem(line, article, frozenset(labels), split, ambiguous)


def read_labelled(path: Path, tags: Iterable[str]) -> tuple[list[LabelledItem], list[LabelError]]:
    """Every item of ``path`` and every problem in it (see the module docstring); ``tags`` are the
    tags a label may name."""
    known = frozenset(tags)
    items: list[LabelledItem] = []
    errors: list[LabelError] = []
    seen: dict[str, int] = {}
    name = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [], [LabelError(name, 0, f"cannot read: {exc.strerror or exc}")]
    raw = raw.removeprefix(b"\xef\xbb\xbf")  # a byte order mark some editors write
    for n, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = _item(orjson.loads(line), n, known)
        except orjson.JSONDecodeError as exc:
            errors.append(LabelError(name, n, f"not JSON: {exc}"))
            continue
        except ValueError as exc:
            errors.append(LabelError(name, n, str(exc)))
            continue
        if item.article.id in seen:
            errors.append(LabelError(name, n, f"id `{item.article.id}` repeats line {seen[item.article.id]}"))
            continue
        seen[item.article.id] = n
        items.append(item)
    return items, errors


def evaluate(ruleset: RuleSet, items: Iterable[LabelledItem], tags: Iterable[str]) -> Evaluation:
    """Score ``ruleset`` on ``items`` for each of ``tags`` (ambiguous items are counted and skipped).

    An item's language is its own ``lang`` when given, else the detected one (``?`` if neither)."""
    ev = Evaluation(tags=tuple(tags))
    ev.counts = {t: {ALL: Counts()} for t in ev.tags}
    for item in items:
        if item.ambiguous:
            ev.skipped += 1
            continue
        ev.articles += 1
        analysis = ruleset.analyse(item.article)
        lang = item.article.lang.strip().lower() or analysis.lang or "?"
        carried = {t for m in analysis.matches for t in m.tags}
        ev.calls[item.article.id] = frozenset(carried.intersection(ev.tags))
        ev.langs[item.article.id] = lang
        for tag in ev.tags:
            fired = tuple(m for m in analysis.matches if tag in m.tags)
            truth, predicted = tag in item.labels, tag in carried
            ev.counts[tag][ALL].add(truth, predicted)
            ev.counts[tag].setdefault(lang, Counts()).add(truth, predicted)
            if predicted and not truth:
                ev.errors.append(Outcome("fp", tag, item, lang, fired))
            elif truth and not predicted:
                ev.errors.append(Outcome("fn", tag, item, lang, tuple(analysis.matches),
                                         tag in held_back(ruleset, analysis)))
    for tag in ev.tags:  # languages in a stable order: all first, then by name
        by = ev.counts[tag]
        ev.counts[tag] = {ALL: by[ALL], **{k: by[k] for k in sorted(by) if k != ALL}}
    return ev
