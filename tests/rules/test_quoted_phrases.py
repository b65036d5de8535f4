"""Quote marks inside a phrase do not break a multi-word term (``TermTable.scan_field``, ``quote_view``):
the term is found across ASCII and typographic quote marks, its evidence spans them in the original text,
and every other hit is what the plain scan finds."""

from __future__ import annotations

import re
from pathlib import Path

from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.models import Article
from monitor.rules import load_rules
from monitor.rules.terms import COMPILED, TermTable, normalize_mask, quote_view
from monitor.text import normalize


def _rules(tmp_path: Path, *terms: str) -> object:
    quoted = ", ".join(f'"{t}"' for t in terms)
    (tmp_path / "r.yaml").write_text(f"id: t\nmatch:\n  any: [{quoted}]\n", encoding="utf-8")
    return load_rules(tmp_path)


def _matched(rs: object, text: str) -> list[str]:
    ms = rs.match(Article(id="x", content=text))  # type: ignore[attr-defined]
    return [e.matched for m in ms for e in m.evidence]


def test_an_arabic_phrase_across_quote_marks(tmp_path: Path) -> None:
    rs = _rules(tmp_path, "وقف إطلاق النار")
    assert _matched(rs, 'أعلنت الحكومة وقف "إطلاق النار" اليوم') == ['وقف "إطلاق النار']
    assert _matched(rs, "أعلنت الحكومة وقف «إطلاق النار» اليوم") == ["وقف «إطلاق النار"]
    assert _matched(rs, "أعلنت الحكومة وقف « إطلاق النار » اليوم") == ["وقف « إطلاق النار"]
    assert _matched(rs, "وقّعا اتفاق “وقف إطلاق النار” أمس") == ["وقف إطلاق النار"]
    assert _matched(rs, 'أعلن "وقف" "إطلاق" "النار"') == ['وقف" "إطلاق" "النار']


def test_an_english_phrase_across_quote_marks(tmp_path: Path) -> None:
    rs = _rules(tmp_path, "ceasefire agreement")
    assert _matched(rs, 'The "ceasefire" agreement held.') == ['ceasefire" agreement']
    assert _matched(rs, "The ‘ceasefire’ agreement held.") == ["ceasefire’ agreement"]
    assert _matched(rs, "The “ceasefire agreement” held.") == ["ceasefire agreement"]
    assert _matched(rs, "The ceasefire, agreement held.") == []  # other punctuation still separates


def test_apostrophes_inside_words_are_kept(tmp_path: Path) -> None:
    rs = _rules(tmp_path, "last week's ceasefire", "iran's", "al-qa'ida")
    text = "Iran's envoy spoke of last week's ceasefire and al-Qa'ida's 'new' cells."
    assert _matched(rs, text) == ["Iran's", "last week's ceasefire", "al-Qa'ida"]
    assert _matched(rs, "Iran s envoy, last week s ceasefire") == []


def test_a_quote_glued_to_a_proclitic_stays_a_word_edge(tmp_path: Path) -> None:
    rs = _rules(tmp_path, "تنظيم القاعدة", "القاعدة")
    assert sorted(_matched(rs, 'عنصر في تنظيم "القاعدة" قتل')) == sorted(['تنظيم "القاعدة', "القاعدة"])
    assert _matched(rs, 'مرتبط بـ"القاعدة"') == ["القاعدة"]


def test_the_view_and_its_offsets() -> None:
    text = 'a "b c" d\'s " e \'f\' g"h'
    view = quote_view(text)
    assert view is not None
    vtext, pos, mods = view
    assert vtext == "a b c d's e f g h"
    assert [text[p] for p in pos] == [ch if ch != " " or text[p] == " " else '"' for ch, p in zip(vtext, pos, strict=True)]
    assert mods[text.index("b")] == 1 and mods[text.index("d")] == 2 and mods[len(text)] == 7
    assert quote_view("iran's and qa'ida") is None
    assert quote_view("no quotes") is None


TERMS = ["وقف اطلاق النار", "اطلاق", "النار", "ceasefire", "ceasefire deal", "deal", "iran's", "a b"]
_TABLE = TermTable()
for _t in TERMS:
    _TABLE.add(_t)
_TABLE.build(compiled=COMPILED)
_PY_TABLE = TermTable()
for _t in TERMS:
    _PY_TABLE.add(_t)
_PY_TABLE.build(compiled=False)
ONE_WORD = {i for i, t in enumerate(_TABLE.terms) if " " not in t.key}
_APART = re.compile(r"'(?![^\W_])|(?<![^\W_])'")


@settings(max_examples=800, deadline=None)
@example(["ceasefire", '"', "deal"])  # a phrase whose last word is a term too (the walk near the marks)
@example(["a", "'", "'", "b"])  # two apostrophes between words: a quote mark, the phrase found across it
@example(["a", " ", "وقف", ' "', "اطلاق", " ", "النار", '"', " ", "a", '"', "b"])
@given(st.lists(st.sampled_from(["وقف", "اطلاق", "النار", "ceasefire", "deal", "iran", "'s", "a", "b", " ", " ",
                                 '"', "'", "«", "»", "“", "”", "\n", ",", "و"]), max_size=25))
def test_word_hits_as_the_plain_scan_and_phrases_only_across_quotes(parts: list[str]) -> None:
    text = normalize("".join(parts)).text
    plain: dict[int, list[tuple[int, int, int]]] = {}
    _TABLE.scan_into(text, normalize_mask(text), 0, plain)
    got: dict[int, list[tuple[int, int, int]]] = {}
    _TABLE.scan_field(text, normalize_mask(text), 0, got)
    py: dict[int, list[tuple[int, int, int]]] = {}
    _PY_TABLE.scan_field(text, normalize_mask(text), 0, py)
    assert py == got  # the pure-Python scan finds the same
    for tid in ONE_WORD:
        assert sorted(set(got.get(tid, []))) == sorted(set(plain.get(tid, [])))
    for tid, spans in got.items():
        assert set(plain.get(tid, [])) <= set(spans)
        key = _TABLE.terms[tid].key
        for _, a, b in spans:  # the span holds the term's words, with only quote marks and spaces added
            # as ``quote_view`` reads them: a double quote, and an apostrophe not between two word chars, part
            # words (``a''b`` is a and b, ``iran's`` one word)
            words = _APART.sub(" ", text[a:b].replace('"', " ")).split()
            assert key in " ".join(words)
