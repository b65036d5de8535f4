"""A regex without opening-word terms is tried anchored at the occurrences of its literal openings when they
are few (``positional._occurrences``, ``RegexNode._attempts``): the same matches as ``finditer``."""

from __future__ import annotations

import json

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import Article
from monitor.rules import RuleSet, load_rules, positional
from monitor.rules.positional import _occurrences
from monitor.text import fold

# mixed openings (a \b English branch beside a \b-less Arabic one), openings inside words, overlapping
# openings (ab / abc), and needed words within a bounded reach
PATTERNS = [
    r"\b(?:withdraw\w*|pull(?:s|ed)? out)\b[^.\n]{0,30}?\bafter\b|(?:قاعده|قواعد)\S*\s+(?:\S+\s+){0,2}?للفصاءل",
    r"(?:u\.s\.|\bus\b|\bamerican)[^.\n]{0,20}?\bstrikes?\b",
    r"ab|abc\b",
    r"(?:مقر|مقرات)\s+(?:ال)?حشد",
]
WORDS = ["withdraw", "withdrawal", "pull out", "pulled out", "after", "قاعده", "والقاعده", "قواعدها", "للفصاءل",
         "us", "u.s.", "american", "strike", "strikes", "abc", "ab", "xab", "abcd", "مقر", "مقرات", "الحشد",
         "حشد", ".", "the", "base"]


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("regex-openings")
    rows = [{"id": f"rx{i}", "title": "regex", "match": {"regex": p}} for i, p in enumerate(PATTERNS)]
    (folder / "r.yaml").write_text(json.dumps({"rules": rows}, ensure_ascii=False), encoding="utf-8")
    return load_rules(folder)


def test_occurrences_are_every_start_of_a_prefix_or_none_past_the_limit() -> None:
    assert _occurrences("ab abc xab", ("ab", "abc")) == [0, 3, 8]
    assert _occurrences("nothing", ("ab",)) == []
    assert _occurrences("ab " * (positional.PREFIX_ATTEMPTS + 1), ("ab",)) is None


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=14))
def test_matches_at_the_openings_are_finditer_s(rules: RuleSet, words: list[str]) -> None:
    text = " ".join(words)
    assert fold(text) == text  # offsets in the original are then offsets in the normalised text
    got = []
    default = positional.PREFIX_ATTEMPTS
    for limit in (default, 0):  # attempts at the openings, then a search through the field
        positional.PREFIX_ATTEMPTS = limit  # read at run time, compiled too (a module global)
        try:
            an = rules.analyse(Article(id="a", title="", content=text))
        finally:
            positional.PREFIX_ATTEMPTS = default
        got.append({x.rule: [(e.start, e.end) for e in x.evidence] for x in an.matches})
    assert got[0] == got[1], text
    for i, pattern in enumerate(PATTERNS):
        spans = [x.span() for x in regex.finditer(pattern, text, regex.UNICODE | regex.V0)]
        assert got[0].get(f"rx{i}", []) == spans[:3], (pattern, text)  # evidence: 3 per term and field
