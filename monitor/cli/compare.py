"""How ``monitor rules eval --baseline`` shows a ``monitor.rules.compare.Comparison``: a short report after the
scores, or the ``baseline`` entry of the JSON document."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TextIO

import click

from monitor.rules.compare import ALL, Comparison, Gain


def _f(x: float | None) -> str:
    return "    —" if x is None else f"{x:.3f}"


def _gain_line(label: str, lang: str, g: Gain) -> str:
    return (f"  {label:<26} {lang:<4} {_f(g.baseline)} -> {_f(g.current)}  {g.gain:+.3f}  "
            f"(90 % interval {g.low:+.3f}..{g.high:+.3f})")


def verdict(cmp: Comparison) -> str:
    """One phrase on the overall gain: better or worse only when the whole interval says so."""
    g = cmp.overall
    if not cmp.changes:
        return "the same calls"
    if g.low > 0:
        return "better: the whole interval is above zero"
    if g.high < 0:
        return "worse: the whole interval is below zero"
    return "no clear difference: the interval straddles zero"


def report(out: TextIO, cmp: Comparison, baseline: Path, color: bool) -> None:
    head = f"\nAgainst the baseline {baseline} (the same {cmp.articles} articles, {cmp.resamples:,} paired resamples):"
    click.echo(click.style(head, bold=True) if color else head, file=out)
    click.echo(f"  {'F1':<26} {'lang':<4} {'base':>5}    {'now':>5}  {'gain':>6}", file=out)
    for key in (ALL, *cmp.tags):
        for lang, by_tag in cmp.gains.items():
            line = _gain_line(("all tags" if key == ALL else key) if lang == ALL else "", lang, by_tag[key])
            click.echo(line + (f"  {verdict(cmp)}" if key == ALL and lang == ALL else ""), file=out)
    right = sum(c.now_right for c in cmp.changes)
    click.echo(f"  {len(cmp.changes)} call(s) changed: {right} now right, {len(cmp.changes) - right} now wrong", file=out)
    for c in cmp.changes:
        a = c.item.article
        what = "now tagged" if c.current else "no longer tagged"
        click.echo(f"    {'right' if c.now_right else 'WRONG':<5} {c.tag:<24} {what:<16} {a.id} "
                   f"(line {c.item.line}, {c.lang})  {a.title[:70]!r}", file=out)


def _gain_json(g: Gain) -> dict[str, Any]:
    return {"baseline": g.baseline, "current": g.current, "gain": g.gain, "interval": [g.low, g.high]}


def as_json(cmp: Comparison, baseline: Path, min_gain: float | None, passed: bool) -> dict[str, Any]:
    return {"rules": str(baseline), "articles": cmp.articles, "resamples": cmp.resamples,
            "f1": _gain_json(cmp.overall), "tags": {t: _gain_json(g) for t, g in cmp.tags.items()},
            "langs": {lang: {k: _gain_json(g) for k, g in by.items()} for lang, by in cmp.gains.items() if lang != ALL},
            "min_gain": min_gain, "passed": passed,
            "changes": [{"id": c.item.article.id, "line": c.item.line, "lang": c.lang, "tag": c.tag,
                         "current": c.current, "label": c.label, "now_right": c.now_right} for c in cmp.changes]}
