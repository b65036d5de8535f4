"""Hostile article text through the normaliser, the boilerplate trimmer, the tokenizer and the matcher.

Properties, for any string: nothing raises; ``normalize`` is idempotent and its offset map stays inside
the original; bidi and zero-width controls never survive normalisation; ``trim_boilerplate`` keeps
offsets (same length); token spans lie inside the text; a rule set analyses an article made of it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from monitor.models import Article
from monitor.text import detect_language, normalize, sentences, tokens, trim_boilerplate
from tests.fuzz.strategies import article_text, huge_text, mixed_text

RULES = Path(__file__).resolve().parents[2] / "chaos" / "rules"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(article_text)
def test_normalize_never_raises_and_maps_back_inside_the_original(text: str) -> None:
    n = normalize(text)
    assert isinstance(n.text, str)
    assert normalize(n.text).text == n.text, "normalize is idempotent"
    for ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\ufeff":
        assert ch not in n.text
    step = max(1, len(n.text) // 50)
    for i in range(0, len(n.text) + 1, step):
        j = n.to_original(i)
        assert 0 <= j <= len(text)
    if n.text:
        a, b = n.span(0, len(n.text))
        assert 0 <= a <= b <= len(text)


@FUZZ
@given(article_text)
def test_boilerplate_tokens_sentences_language_never_raise(text: str) -> None:
    trimmed = trim_boilerplate(text)
    assert len(trimmed) == len(text), "trimming keeps offsets"
    folded = normalize(trimmed).text
    for span in tokens(folded):
        assert 0 <= span.start <= span.end <= len(folded)
    for span in sentences(folded):
        assert 0 <= span.start <= span.end <= len(folded)
    assert isinstance(detect_language(text), str)


@pytest.fixture(scope="module")
def ruleset():  # type: ignore[no-untyped-def]
    from monitor.rules import load_rules

    return load_rules(RULES)


@FUZZ
@given(title=mixed_text(), summary=article_text, content=huge_text())
def test_rule_set_analyses_any_article(ruleset, title: str, summary: str, content: str) -> None:  # type: ignore[no-untyped-def]
    article = Article(id="fuzz", title=title[:2000], summary=summary[:20000], content=content)
    analysis = ruleset.analyse(article)
    for m in analysis.matches:
        for ev in m.evidence:
            field_text = getattr(article, ev.field)
            assert 0 <= ev.start <= ev.end <= len(field_text)


def test_markers_survive_hostile_wrapping(ruleset) -> None:  # type: ignore[no-untyped-def]
    """The harness's markers still match when wrapped in bidi isolates, tatweel and harakat."""
    for text in ("\u2067زفيركويك\u2069", "زفـــيركويك", "ZEPHYRQUAKE\u200b", "\u202bzephyrquake\u202c"):
        rules = [m.rule for m in ruleset.analyse(Article(id="x", title=text)).matches]
        assert rules == ["chaos-alpha"], (text, rules)
