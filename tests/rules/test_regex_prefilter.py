"""The literal prefilter of ``regex`` nodes: a field is only searched when it holds a literal that every
match must start with, so skipping it never loses a match."""

from __future__ import annotations

import json

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import Article
from monitor.rules import RuleSet, load_rules
from monitor.rules.positional import boundary_prefixes, literal_prefixes
from monitor.text import fold

PATTERNS = [
    r"\b(?:base|air ?base|garrison|outpost|camp|airfield|airstrip|installation)\b",
    r"\b(?:base|air ?base|garrison|outpost|camp|airfield)s?\b",
    r"(ab)c",
    r"a\bb",
    r"^foo",
    r"ab|cd",
    r"قاعد(?:ه|ت)",
    r"\d+ rockets",
    r"(?:a|b)c",
    r"a?b",
]


def test_prefixes_of_alternations_and_literals() -> None:
    assert literal_prefixes(PATTERNS[0]) == ("base", "air", "garrison", "outpost", "camp", "airfield",
                                             "airstrip", "installation")
    assert literal_prefixes(r"(ab)c") == ("ab",)
    assert literal_prefixes(r"ab|cd") == ("ab", "cd")


def test_no_prefilter_when_a_match_can_start_otherwise() -> None:
    for pattern in (r"\d+ rockets", r"a?b", r"x+", r"(?:|x)y", r"[ab]c", r"\p{Arabic}+", r"(?i)abc",
                    r"(?i:abc)", r"(?x) a b", r"(", r"."):
        assert literal_prefixes(pattern) is None, pattern


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="abcdfoirsetmpلقاعدهت 0123456789.\n", max_size=80), st.sampled_from(PATTERNS))
def test_every_match_starts_with_a_prefix(text: str, pattern: str) -> None:
    prefixes = literal_prefixes(pattern)
    compiled = regex.compile(pattern, regex.UNICODE | regex.V0)
    for m in compiled.finditer(text):
        if prefixes is not None:
            assert any(text.startswith(p, m.start()) for p in prefixes), (pattern, text, m)


def test_boundary_prefixes_need_a_word_boundary_first() -> None:
    assert boundary_prefixes(r"\b(drone|uav)s?\b") == ("drone", "uav")
    assert boundary_prefixes(r"^foo") == ("foo",)
    for pattern in (r"drone", r"(?:x|y)", r"\b\.x", r"a\bb"):
        assert boundary_prefixes(pattern) is None, pattern


REGEX_RULES = [
    r"\b(?:base|air ?base|garrison|outpost|camp|airfield)s?\b",
    r"\b(drone|uav)s?\b",
    r"\bقاعد(?:ه|ت)",
    r"^report",
]


@pytest.fixture(scope="module")
def regex_rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("regex-rules")
    rules = [{"id": f"rx{i}", "title": "regex", "match": {"regex": p}} for i, p in enumerate(REGEX_RULES)]
    (folder / "r.yaml").write_text(json.dumps({"rules": rules}, ensure_ascii=False), encoding="utf-8")
    return load_rules(folder)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["base", "bases", "airbase", "air base", "camp", "drone", "uavs", "UAV",
                                 "قاعدة", "والقاعدة", "report", "x_base", "based", "abase", ".", ",", "\n",
                                 "وقاعدتين", "garrison", "outposts"]), max_size=12))
def test_the_presearcher_never_skips_a_regex_that_matches(regex_rules: RuleSet, words: list[str]) -> None:
    text = " ".join(words)
    an = regex_rules.analyse(Article(id="a", title="", content=text))
    for i, pattern in enumerate(REGEX_RULES):
        hit = regex.search(pattern, fold(text), regex.UNICODE | regex.V0)
        matched = f"rx{i}" in {m.rule for m in an.matches}
        assert matched == bool(hit), (pattern, text)
        if hit:
            assert f"rx{i}" in an.evaluated


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["base", "bases", "air base", "airbase", "camp", "drone", "uav", "x_base",
                                 "based", "abase", "garrison", ".", ",", "report", "baseball"]), max_size=14))
def test_matches_found_at_the_prefix_hits_are_finditer_s(regex_rules: RuleSet, words: list[str]) -> None:
    text = " ".join(words)
    assert fold(text) == text  # offsets in the original are then offsets in the normalised text
    an = regex_rules.analyse(Article(id="a", title="", content=text))
    got = {m.rule: [(e.start, e.end) for e in m.evidence] for m in an.matches}
    for i, pattern in enumerate(REGEX_RULES):
        spans = [m.span() for m in regex.finditer(pattern, text, regex.UNICODE | regex.V0)]
        assert got.get(f"rx{i}", []) == spans[:3], (pattern, text)  # evidence: 3 per term and field
