"""Words every regex match needs (``monitor.rules.regexinfo``): the regex is skipped where none occurs,
so the analysis must be sound — every match holds one of the words at a word start, is no longer than
``max_width`` and holds no line break when ``one_line`` says so — and the engine must find exactly what
running the regex everywhere finds."""

from __future__ import annotations

import json

import pytest
import regex
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.models import Article
from monitor.rules import RuleSet, load_rules
from monitor.rules.regexinfo import at_start, max_width, one_line, opening_words, required_words

FLAGS = regex.UNICODE | regex.V0
PATTERNS = [
    r"\b(?:in|on|since) (?:(?:early|late) )?(?:(?:jan|may)[a-z]*\.? (?:\d{1,2}, )?)?(?:19|20)\d\d\b",
    r"\ban? (?:u\.s\.|us|american) (?:drone|jet)s? (?:fired|launched)\b",
    r"\b(?:with|by|from) an? (?:us|american) (?:drone|missile|jet)s?\b",
    r"\b(?:us|american)\b(?:(?!\b(?:by|after)\b)[^.;!?\n]){0,30}?(?=\b(?:air|strike|hit))\b(?:air ?strikes?|strikes?|hit)\b",
    r"\b(?:was|were)\b[^.;!?\n,]{0,20}?\bon (?:jan|may) \d",
    r"\bdeadline (?:[\w-]+ ){0,4}?(?:expired|passed)\b",
    r"\b(?:left|leave)\b (?:the )?(?:[\w'-]+ ){0,2}?(?:base|camp)s?\b",
    r"\b(?:بعد|اثر)\s+(?:\S+\s+){0,2}?[وب]?(?:ال)?(?:هجوم|قصف)",
    r"^(?:the )?(?:us|israel)\b(?: jets)? (?:attacks|pounds)\b",
    r"\b(?:base|camp)s?\b",
    r"(?:an|the) (?:drone|jet)",
    # a one-letter opening (ب, or the ا the parser factors out): the words after it open the matches
    r"\bب(?:مسيره|غاره)\s+(?:\S+\s+)?(?:امريكي|اسراءيلي)",
    r"\b(?:امريكي|اميركي)\S*\s+(?:يقصف|قصف)",
    # at the start of the field only
    r"^\S",
    r"^(?!.*\bfoil\w*\b).*\battacks? on\b",
    # openings past the literal run: an optional class, an alternation whose branches go on with \S*,
    # lookbehinds first (they consume nothing)
    r"\b[wf]?(?:strike|hit\S*|raid)s?\s+(?:on|at)\b",
    r"(?<!(?:border|the)\s+)(?<!\bsyria-)\b(?:[wb]?(?:al)?leb\S*|lebanon\b(?![\s-]+border))",
    r"\b[وف]?[يت]?(?:نفذ|شن)\S*\s+(?:\S+\s+){0,2}?علي",
]
WORDS = ["in", "on", "since", "early", "jan", "january", "may", "2019", "1990", "20", "12,", "a", "an", "us",
         "u.s.", "american", "drone", "drones", "jet", "fired", "launched", "with", "by", "from", "missile",
         "air", "strike", "strikes", "airstrike", "hit", "after", "was", "were", "deadline", "expired",
         "passed", "left", "leave", "the", "base", "camps", "بعد", "اثر", "الهجوم", "وقصف", "هجوم", "israel",
         "jets", "attacks", "pounds", ".", ",", ";", "\n", "x", "_fired", "firedx", "½fired", "بمسيره", "وبمسيره",
         "غاره", "بغاره", "امريكي", "الامريكي", "اميركي", "اسراءيلي", "يقصف", "foiled", "attack", "wstrike",
         "fhits", "raid", "raids", "at", "border", "syria-lebanon", "lebanon", "wleb", "alleb", "balleb",
         "lebanese", "ونفذ", "يشن", "شن", "تنفذها", "علي"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=16), st.sampled_from(PATTERNS))
def test_every_match_holds_a_needed_word_within_its_reach(words: list[str], pattern: str) -> None:
    text = " ".join(words).replace(" \n ", "\n")
    needed = required_words(pattern)
    width = max_width(pattern)
    for m in regex.finditer(pattern, text, FLAGS):
        a, b = m.span()
        if needed is not None:
            assert any(text.startswith(w, i) and (i == 0 or not text[i - 1].isalnum())
                       for i in range(a, b) for w in needed), (pattern, text, m)
        if width is not None:
            assert b - a <= width, (pattern, text, m)
        if one_line(pattern):
            assert "\n" not in text[a:b], (pattern, text, m)


def test_the_words_are_the_rare_ones() -> None:
    assert required_words(PATTERNS[0]) == {"19", "20"}
    assert required_words(PATTERNS[1]) == {"fired", "launched"}
    assert required_words(PATTERNS[5]) == {"deadline"}
    assert required_words(r"\b(?:base|camp)s?\b") == {"base", "bases", "camp", "camps"}
    # no word can be told: a class first, a one-letter word, case-insensitive or unparsable patterns
    assert required_words(r"\d+ rockets") == {"rockets"}  # after a space: at a word start
    for pattern in (r"\d+", r"[a-z]+ x", r"\w+", r"x", r"(?i)abc", r"(?i:drone) x", r"\p{Arabic}+", r"(", r"a|b"):
        assert required_words(pattern) is None, pattern


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=16), st.sampled_from(PATTERNS))
def test_every_match_starts_with_an_opening_word_or_at_the_start(words: list[str], pattern: str) -> None:
    text = " ".join(words).replace(" \n ", "\n")
    opening = opening_words(pattern)
    for m in regex.finditer(pattern, text, FLAGS):
        a = m.start()
        if opening is not None:
            assert (a == 0 or not text[a - 1].isalnum()) and any(text.startswith(w, a) for w in opening)
        if at_start(pattern):
            assert a == 0, (pattern, text, m)


def test_opening_words_and_the_start() -> None:
    assert opening_words(r"\bب(?:مسيره|غاره)\s+x") == {"بمسيره", "بغاره"}
    assert opening_words(r"\b(?:امريكي|اميركي)\S*") == {"امريكي", "اميركي"}  # the parser factors out ا
    assert opening_words(r"\b[ab]c") == {"ac", "bc"}  # a small class expands
    # past the literal run: a group's, an alternation's and a repeat's own opening
    assert opening_words(r"\b[wf]?(?:strike|hit\S*)s?") == {"strike", "wstrike", "fstrike", "hit", "whit", "fhit"}
    assert opening_words(r"(?<!the\s)\b(?:leb\S*|lebanon\b)") == {"leb", "lebanon"}
    assert opening_words(r"\b(?:ab)+c") == {"ab"}
    assert opening_words(r"\b(?:ab|\w+)c") is None  # a branch opens with no literal text
    for pattern in (r"\ban? x", r"x\b(?:ab|cd)", r"\b\w+c", r"(?i)\bab"):
        assert opening_words(pattern) is None, pattern
    assert at_start(r"^\S") and at_start(r"\Aab")
    for pattern in (r"a|^b", r"(?m)^x", r"x^", r"\bx"):
        assert not at_start(pattern), pattern


def test_width_and_line_breaks() -> None:
    assert max_width(r"\b(?:base|camp)s?\b") == 5
    assert max_width(r"a[^.]*b") is None
    assert one_line(r"a[^.\n]*b") and one_line(r"\bx (?:\w+ ){0,3}y") and one_line(r"a.b")
    for pattern in (r"a\sb", r"a\Wb", r"a[^.]b", r"(?s)a.b", r"a\nb", r"a[^x]b", r"(a)\1"):
        assert not one_line(pattern), pattern


@pytest.fixture(scope="module")
def needs_rules(tmp_path_factory: pytest.TempPathFactory) -> RuleSet:
    folder = tmp_path_factory.mktemp("needs-rules")
    rules = [{"id": f"rx{i}", "title": "regex", "match": {"regex": p}} for i, p in enumerate(PATTERNS)]
    (folder / "r.yaml").write_text(json.dumps({"rules": rules}, ensure_ascii=False), encoding="utf-8")
    return load_rules(folder)


def test_the_needed_words_gate_the_regexes(needs_rules: RuleSet) -> None:
    nodes = [r.expr for r in needs_rules.rules]
    assert all(getattr(n, "needs", None) for n in nodes[:8])  # the test below then tests the gating
    # the gating terms are kept out of the hits the rules see: no rule names them
    an = needs_rules.analyse(Article(id="a", title="", content="a us drone fired at them"))
    assert [m.rule for m in an.matches] == ["rx1", "rx13"]  # rx13: ^\\S


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([w for w in WORDS if w != "½fired"]), max_size=24))
def test_the_engine_finds_what_the_regex_finds(needs_rules: RuleSet, words: list[str]) -> None:
    text = " ".join(words).replace(" \n ", "\n")
    an = needs_rules.analyse(Article(id="a", title="", content=text))
    got = {m.rule: [(e.start, e.end) for e in m.evidence] for m in an.matches}
    normalised = an.text
    for i, pattern in enumerate(PATTERNS):
        spans = [m.span() for m in regex.finditer(pattern, normalised, FLAGS)]
        if normalised == text:  # offsets in the original are offsets in the normalised text
            assert got.get(f"rx{i}", []) == spans[:3], (pattern, text)
        else:
            assert (f"rx{i}" in got) == bool(spans), (pattern, text)


def test_step_bounds() -> None:
    from monitor.rules.regexinfo import max_steps

    assert max_steps(r"\b(?:tour|tours|trip|jaunt)\b") < 100
    assert max_steps(r"\b(?:a|b) [^.]{0,40}?\bc") < 10_000
    # unbounded or nested repeats are not bounded: those attempts keep their time-out
    for pattern in (r"(a|aa)+$", r"\w+ x", r"(?:a{0,10}){0,10}", r"(?=a+)b", r"(a)\1"):
        assert max_steps(pattern) > 200_000, pattern


def test_bounded_regexes_run_without_a_time_out_per_attempt(needs_rules: RuleSet) -> None:
    bounded = {r.id: getattr(r.expr, "bounded", None) for r in needs_rules.rules}
    assert bounded["rx1"] and bounded["rx9"]  # literal alternations: a few dozen steps
    assert not bounded["rx0"] and not bounded["rx5"]  # [a-z]*, [\w-]+: unbounded, timed per attempt
