"""``sentence_starts`` (compiled, and its Python fallback) against a reference definition written
differently (regexes over the words around each stop): the same sentence starts on random text with
periods, abbreviations, single letters, digits, line breaks, and stops glued to the next word."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.text import normalize
from monitor.text.segment import _ABBR, _TLD, _sentence_starts, sentence_starts

_LAST_WORD = re.compile(r"(\w+)\.$")
_SPACED = re.compile(r"[.!?;\n](?:(?<=\n)|[.!?;\"')\]]*(?: |$))")
_GLUED = re.compile(r"[.!?;](?=[^\W\d_])")
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def _glued(text: str, i: int) -> bool:
    head = text[:i - 1] if text[:i].endswith(" ") else text[:i]  # a stop typed after the space
    left = re.search(r"(?:^|(?<=(.)))(\w*)\Z", head, re.DOTALL)
    right = re.match(r"(\w*)(.?)(.?)", text[i + 1:], re.DOTALL)
    assert left is not None and right is not None
    before, lw = left.group(1) or "", left.group(2)
    rw, after, after2 = right.groups()
    if not re.fullmatch(r"[^\W\d_]{2,}", lw) or not re.fullmatch(r"[^\W\d_]{2,}", rw):
        return False
    if (before and before in "/@") or (after and after in "/@"):
        return False
    if text[i] == ".":
        before2 = head[len(head) - len(lw) - 2] if len(head) - len(lw) - 2 >= 0 else ""
        if lw in _ABBR or rw in _TLD:
            return False
        if before == "." and re.fullmatch(r"\w", before2):
            return False
        if after == "." and re.fullmatch(r"\w", after2):
            return False
    return True


def reference(text: str) -> list[int]:
    ends = []
    for m in _SPACED.finditer(text):
        if text[m.start()] == ".":
            w = _LAST_WORD.search(text, max(0, m.start() - 12), m.start() + 1)
            if w is not None and ((len(w.group(1)) == 1 and not w.group(1).isdigit()) or w.group(1) in _ABBR):
                continue
        ends.append(m.end())
    # a stop that the spaced pattern did not take (its match would have covered it) and a letter follows
    covered = {i for m in _SPACED.finditer(text) for i in range(m.start(), m.end())}
    for m in _GLUED.finditer(text):
        if m.start() not in covered and _glued(text, m.start()):
            ends.append(m.end())
    return [0, *sorted(ends)]


WORDS = ["mr", "dr", "gen", "sept", "u", "s", "a", "2", "2.5", "x_", "_", "word", "longerword", "قال",
         "ب", "etc", "jan", "abbreviation", "co", "inc", "١", "é", "com", "نت", "امس", "كما", "az", "www",
         "ab", "us"]


@settings(max_examples=800, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from([".", ". ", "! ", "? ", "; ", "\n", " ",
                                                                  '." ', "..", ".)", "/", "@", "?", ";", "!"])),
                max_size=30))
def test_same_as_the_reference(parts: list[str]) -> None:
    text = "".join(parts)
    assert sentence_starts(text) == _sentence_starts(text) == reference(text)


def test_same_on_the_seeds() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        text = normalize(path.read_text(encoding="utf-8")).text
        assert sentence_starts(text) == _sentence_starts(text) == reference(text)
