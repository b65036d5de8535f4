"""The compiled normalisation core (``monitor.text._fold``) gives exactly what the pure-Python path gives:
the normalised text, the map back to the original and the letter-or-digit mask; and ``gaps``."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.text import trim_boilerplate

N = importlib.import_module("monitor.text.folding")  # the module (``monitor.text.folding`` is the function)

try:
    from monitor.text import _fold
except ImportError:
    _fold = None
if _fold is None or not hasattr(_fold, "Folder"):
    pytest.skip(
        "monitor.text._fold is not built (or is a stale build): install a C compiler (gcc) and reinstall "
        "(pip install -e .) to test the compiled normalisation core",
        allow_module_level=True,
    )

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
FOLDER = N._make_folder(_fold)


def python_path(text: str) -> tuple[str, list[int], bytes]:
    norm, pos = N._run(text)
    mask = N.word_mask(N._codes(norm)) if norm else b""
    return norm, [int(p) for p in pos], mask


def compiled_path(text: str) -> tuple[str, list[int], bytes]:
    norm, pos, mask = FOLDER.run(text)
    return norm, list(pos), mask


def python_gaps(text: str) -> list[int]:
    out = [0]
    for ch in text:
        out.append(out[-1] + (ch in " \n"))
    return out


ARABIC = [chr(c) for c in range(0x621, 0x64B)] + list("أإآٱىیکگپچژڤڨةۀہەھےۍ")
MARKS = [chr(c) for c in range(0x64B, 0x660)] + ["\u0670", "\u06d6", "\u06ed", "\u0301", "\u0308", "\u0327"]
DIGITS = list("0123456789٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹٫٬")
LATIN = list("abcxyzABCXYZéÉçñüßİıµ'-.,;:!?\"()[]«»“”’…–—%_")
SPACE = [" ", " ", "\n", "\n", "\r", "\t", "\x0b", "\x0c", "\x85", "\xa0", "\u2028", "\u2029", "\u3000", "\u202f"]
CONTROLS = ["\u0640", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202e",
            "\u2066", "\u2069", "\ufeff", "\u061c", "\u00ad", "\x00", "\x1b"]
ASTRAL = ["😀", "𝟙", "𝟘", "𝐀", "𠀀", "𤋮", "\U0001e900", "\U000104a0", "\U0010ffff"]
EXPANDING = ["ﷺ", "ﻻ", "ﷲ", "ﰀ", "ﬁ", "ﬀ", "½", "⑴", "㏘", "ŉ", "\ufa6c", "\ufad0", "¨", "İ", "ǅ", "ﹰ", "ﱞ"]

chars = st.sampled_from(ARABIC + MARKS + DIGITS + LATIN + SPACE + CONTROLS + ASTRAL + EXPANDING) | st.characters(
    codec="utf-8", exclude_categories=("Cs",))
texts = st.text(alphabet=chars, max_size=120)
# long runs of one kind (spaces, marks, digits) meet the edge cases of the run folding
runs = st.lists(st.tuples(chars, st.integers(1, 6)), max_size=30).map(lambda xs: "".join(c * k for c, k in xs))


@given(texts)
@settings(max_examples=1500, deadline=None)
def test_compiled_equals_python(raw: str) -> None:
    assert compiled_path(raw) == python_path(raw)
    assert FOLDER.fold(raw) == N._run(raw)[0]


@given(runs)
@settings(max_examples=800, deadline=None)
def test_compiled_equals_python_on_runs(raw: str) -> None:
    assert compiled_path(raw) == python_path(raw)


@given(texts)
@settings(max_examples=300, deadline=None)
def test_compiled_equals_short_path(raw: str) -> None:
    assert FOLDER.fold(raw) == N._fold_short(raw)


@given(st.text(alphabet=chars, max_size=60))
@settings(max_examples=300, deadline=None)
def test_long_texts(raw: str) -> None:
    big = (raw + " x٣ ") * (N.SHORT // max(1, len(raw) + 4) + 2)
    assert compiled_path(big) == python_path(big)


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_articles(path: Path) -> None:
    raw = path.read_text(encoding="utf-8")
    for text in (raw, trim_boilerplate(raw), raw.split("\n", 1)[0], raw[:1000], raw * 3):
        assert compiled_path(text) == python_path(text)


def test_text_larger_than_the_kept_scratch() -> None:
    raw = "".join(p.read_text(encoding="utf-8") for p in SEEDS) * 30  # > 2**19 chars: scratch freed after
    for _ in range(2):
        assert compiled_path(raw) == python_path(raw)
    assert compiled_path("بـ4 ﷺ") == python_path("بـ4 ﷺ")


def test_normalized_interface() -> None:
    raw = "قاعدةً عسكريّة في بـ4 «عين الأسد» ﷺ"
    norm, pos, mask = FOLDER.run(raw)
    n = N.Normalized(raw, norm, _pos=pos, _mask=mask)
    ref = N.Normalized(raw, N._run(raw)[0])
    assert n.text == ref.text and n.mask == ref.mask
    assert [n.to_original(i) for i in range(len(n.text) + 1)] == [ref.to_original(i) for i in range(len(n.text) + 1)]
    assert [n.span(i, i + 3) for i in range(len(n.text))] == [ref.span(i, i + 3) for i in range(len(n.text))]
    empty = FOLDER.run("")
    assert empty[0] == "" and len(empty[1]) == 0 and empty[2] == b""


@given(texts)
@settings(max_examples=500, deadline=None)
def test_gaps(raw: str) -> None:
    norm = N._run(raw)[0]
    for text in (raw, norm):
        g = _fold.gaps(text)
        assert g.typecode == "q"
        assert list(g) == python_gaps(text)


def test_gaps_fallback_agrees() -> None:
    text = N._run(SEEDS[0].read_text(encoding="utf-8") if SEEDS else "a b\nc  d")[0]
    assert list(_fold.gaps(text)) == python_gaps(text) == list(N._gaps_python(text)) == list(N.gaps(text))
    assert list(N._gaps_python("")) == list(_fold.gaps("")) == [0]


@pytest.mark.parametrize(("env", "expected"), [("1", "False"), ("", "True")])
def test_pure_python_switch(env: str, expected: str) -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import importlib; print(importlib.import_module('monitor.text.folding').COMPILED)"],
        env={**os.environ, "MONITOR_PURE_PYTHON": env}, capture_output=True, text=True, check=True, cwd=ROOT,
    )
    assert out.stdout.strip() == expected


@given(texts)
@settings(max_examples=500, deadline=None)
def test_script_counts(raw: str) -> None:
    lang = importlib.import_module("monitor.text.lang")
    counter = _fold.ClassCounter(lang._CLASS, lang._OTHER + 1)
    codes = np.frombuffer(raw[: lang.SAMPLE].encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    expected = np.bincount(lang._CLASS.take(np.minimum(codes, 0xFFFF)), minlength=lang._OTHER + 1).tolist()
    assert counter.counts(raw, lang.SAMPLE) == expected
    assert counter.counts(raw * 30, lang.SAMPLE) == counter.counts((raw * 30)[: lang.SAMPLE], 10**9)


@given(st.lists(st.characters(max_codepoint=0x2100) | st.sampled_from(["İ", "ﬁ", "’", "the ", "de "])).map("".join))
@settings(max_examples=500, deadline=None)
def test_language_words(raw: str) -> None:
    """The byte-table word split of ``lang`` is the regex one (Python code; here with the other fast paths)."""
    lang = importlib.import_module("monitor.text.lang")
    assert lang._latin_words(raw) == lang._WORD.findall(raw.lower())

