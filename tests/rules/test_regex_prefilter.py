"""The literal prefilter of ``regex`` nodes: a field is only searched when it holds a literal that every
match must start with, so skipping it never loses a match."""

from __future__ import annotations

import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.rules.positional import literal_prefixes

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
