"""``sentence_starts`` against its reference definition (the regex-only version it replaced): the same
sentence starts on random text with periods, abbreviations, single letters, digits and line breaks."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.text import normalize
from monitor.text.segment import _ABBR, _END, sentence_starts

_LAST_WORD = re.compile(r"(\w+)\.$")
SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def reference(text: str) -> list[int]:
    out = [0]
    for m in _END.finditer(text):
        if text[m.start()] == ".":
            w = _LAST_WORD.search(text, max(0, m.start() - 12), m.start() + 1)
            if w is not None and ((len(w.group(1)) == 1 and not w.group(1).isdigit()) or w.group(1) in _ABBR):
                continue
        out.append(m.end())
    return out


WORDS = ["mr", "dr", "gen", "sept", "u", "s", "a", "2", "2.5", "x_", "_", "word", "longerword", "قال",
         "ب", "etc", "jan", "abbreviation", "co", "inc", "١", "é"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from([".", ". ", "! ", "? ", "; ", "\n", " ",
                                                                  '." ', "..", ".)"])), max_size=30))
def test_same_as_the_reference(parts: list[str]) -> None:
    text = "".join(parts)
    assert sentence_starts(text) == reference(text)


def test_same_on_the_seeds() -> None:
    for path in sorted(SEEDS.glob("*.txt")):
        text = normalize(path.read_text(encoding="utf-8")).text
        assert sentence_starts(text) == reference(text)
