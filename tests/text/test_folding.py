"""Normalisation: the folds of shared/docs/arabic.md, idempotence, and offsets back to the original."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.text import fold, normalize
from monitor.text.folding import SHORT, _fold_short, _run


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("أحمد إبراهيم آمن ٱلله", "احمد ابراهيم امن الله"),  # alef forms
        ("مسؤول مسئول", "مسءول مسءول"),  # hamza seats meet
        ("على شمالى", "علي شمالي"),  # alef maqsura → ya (على stays a word, not علا)
        ("الولایات المشترکة", "الولايات المشتركه"),  # Persian ی and ک in Arabic words
        ("گ پ چ ژ ڤ ڨ", "ك ب ج ز ف ق"),  # Persian/Urdu letters
        ("قاعدةٌ عسكريّةٌ", "قاعده عسكريه"),  # harakat, shadda, tanween; ة → ه
        ("صـــاروخ", "صاروخ"),  # tatweel
        ("٢٠٢٣ ۱۴۰۲", "2023 1402"),  # Arabic-Indic and Persian digits
        ("٣٫٥ و١٬٠٠٠", "3.5 و 1,000"),  # decimal and thousands separators; letter split from digit
        ("بـ4 صواريخ", "ب 4 صواريخ"),  # letters split from digits
        ("أغسطس٢٠٢٣", "اغسطس 2023"),
        ("قال، «نعم»؛ لماذا؟", 'قال, "نعم"; لماذا?'),  # Arabic punctuation
        ("Hello\u200b World\u200f", "hello world"),  # zero-width and bidi controls, case
        ("café  naïve\t\tx", "cafe naive x"),  # Latin accents, space runs
        ("a \n\n b", "a\nb"),  # a whitespace run holding a line break becomes one
        ("ﻻ", "لا"),  # presentation-form ligature (NFKC)
    ],
)
def test_folds(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected
    assert fold(raw) == expected


def test_offsets_map_back_to_original_words() -> None:
    raw = "قاعدةً عسكريّة في بـ4 «عين الأسد»"
    n = normalize(raw)
    for word in ("قاعده", "عسكريه", "عين الاسد", "4"):
        i = n.text.index(word)
        a, b = n.span(i, i + len(word))
        assert fold(raw[a:b]) == word


def test_long_text_offsets() -> None:
    raw = ("وقالت مصادر أمنيّة إن صاروخاً سقط قرب قاعدة فيكتوريا.\n\n" * 60).strip()
    assert len(raw) > SHORT
    n = normalize(raw)
    i = n.text.rindex("فيكتوريا")
    a, b = n.span(i, i + len("فيكتوريا"))
    assert raw[a:b] == "فيكتوريا"


texts = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",))
    | st.sampled_from(list("أإآىیکةـًٌٍَُِّْ٠١٢٣٤٥٦٧٨٩،؛؟«» \n\tabcABC123")),
    max_size=80,
)


@given(texts)
@settings(max_examples=400, deadline=None)
def test_idempotent(raw: str) -> None:
    once = normalize(raw).text
    assert normalize(once).text == once


@given(texts)
@settings(max_examples=400, deadline=None)
def test_offsets_inside_original(raw: str) -> None:
    n = normalize(raw)
    for i in range(len(n.text) + 1):
        a = n.to_original(i)
        b = n.to_original(i, end=True)
        assert 0 <= a <= len(raw)
        assert 0 <= b <= len(raw)
    for i in range(len(n.text)):
        a, b = n.span(i, i + 1)
        assert 0 <= a <= b <= len(raw)


@given(texts)
@settings(max_examples=300, deadline=None)
def test_short_and_long_paths_agree(raw: str) -> None:
    assert _fold_short(raw) == _run(raw)[0] if raw else True
    big = (raw + " x ") * (SHORT // max(1, len(raw) + 3) + 2)
    assert fold(big) == _fold_short(big)


@given(texts)
@settings(max_examples=300, deadline=None)
def test_fast_and_general_stages_agree(raw: str) -> None:
    from monitor.text.folding import _positions, _stages, _stages_general, _text

    a, plan_a = _stages(raw)
    b, plan_b = _stages_general(raw)
    assert _text(a) == _text(b)
    assert list(_positions(len(raw), plan_a)) == list(_positions(len(raw), plan_b))
