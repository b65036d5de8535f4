"""Evidence highlighting: a field's text and the evidence offsets in, escaped HTML with ``<mark>`` out.

Pure. ``spans_for(text, evidence, field)`` keeps the evidence of one field whose offsets lie inside the
text and whose ``matched`` text is what the offsets cut out (an alert carries the summary cut at 500
characters, so later evidence is left out rather than marked in the wrong place), merged where they
overlap. ``marked(text, spans)`` escapes every piece of the text and wraps each span in ``<mark>``
(its ``title`` names the rule terms that matched there). Nothing of the text is ever emitted unescaped.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from monitor.models import Evidence


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    terms: tuple[str, ...]


def spans_for(text: str, evidence: Iterable[Evidence], field: str) -> list[Span]:
    raw = sorted(
        (e.start, e.end, e.term)
        for e in evidence
        if e.field == field and 0 <= e.start < e.end <= len(text)
        and (not e.matched or text[e.start:e.end] == e.matched)
    )
    out: list[Span] = []
    for start, end, term in raw:
        if out and start < out[-1].end:
            last = out[-1]
            terms = last.terms if term in last.terms else (*last.terms, term)
            out[-1] = Span(last.start, max(last.end, end), terms)
        else:
            out.append(Span(start, end, (term,)))
    return out


def marked(text: str, spans: Sequence[Span]) -> Markup:
    parts: list[str] = []
    pos = 0
    for s in spans:
        parts.append(escape(text[pos:s.start]))
        if s.terms:
            parts.append(Markup('<mark title="{}">{}</mark>').format(", ".join(s.terms), text[s.start:s.end]))
        else:
            parts.append(Markup("<mark>{}</mark>").format(text[s.start:s.end]))
        pos = s.end
    parts.append(escape(text[pos:]))
    return Markup("").join(parts)


def highlight(text: str, evidence: Iterable[Evidence], field: str) -> Markup:
    return marked(text, spans_for(text, evidence, field))


def missing(text_by_field: dict[str, str], evidence: Iterable[Evidence]) -> list[Evidence]:
    """Evidence that could not be marked in the text shown (shown beside it as snippets instead)."""
    out = []
    for e in evidence:
        text = text_by_field.get(e.field)
        if text is None or not spans_for(text, [e], e.field):
            out.append(e)
    return out
