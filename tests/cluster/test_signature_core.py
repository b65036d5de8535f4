"""The compiled fingerprint core (``monitor.cluster._sig``) gives the bytes of the pure-Python reference
(``signature._py_fingerprint``) on seeds, their near-copies and random texts, every shape included."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.cluster import signature as sig
from tests.cluster.texts import NEAR_COPIES

needs_core = pytest.mark.skipif(not sig.COMPILED, reason="the compiled core is not built (or turned off)")

WORDS = ["الهجوم", "على", "قاعدة", "base", "attack", "Attack,", "«قال»", "—", "...", "x", "\x00", "a\x00b",
         "٤٢", "42", "\u200bword\u200c", "Ünïcode", "ı", "ß"]
SEPARATORS = [" ", "\n", "\n\n", "\t", "\r\n", "\u2028", "\x1c", "\u00a0", "  \n "]


def both(text: str, k: int = 5, bands: int = 14, rows: int = 9) -> tuple[object, object]:
    return (sig.fingerprint(text, k=k, bands=bands, rows=rows),
            sig._py_fingerprint(text, k=k, bands=bands, rows=rows))


@needs_core
def test_seeds_and_near_copies(seeds, norm):
    for name, text in seeds.items():
        for edit in (None, *sorted(NEAR_COPIES)):
            t = norm(text if edit is None else NEAR_COPIES[edit](text))
            for k in (1, 3, 5, 9, 16):
                got, want = both(t, k=k)
                assert got == want, (name, edit, k)


@needs_core
@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=60),
       st.integers(1, 16), st.sampled_from([(14, 9), (1, 1), (128, 1), (16, 8), (0, 5)]))
def test_random_texts(parts, k, shape):
    text = "".join(w + s for w, s in parts)
    got, want = both(text, k=k, bands=shape[0], rows=shape[1])
    assert got == want


@needs_core
@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(1, 16))
def test_any_text(text, k):
    got, want = both(text, k=k)
    assert got == want


@needs_core
def test_sparse_signatures_rotate_alike():
    """Few shingles leave most bins empty: the rotation fills them, wrapping around the end."""
    for n in range(0, 40):
        text = " ".join(f"w{i}" for i in range(n))
        for k in (1, 2, 5):
            got, want = both(text, k=k)
            assert got == want, (n, k)


@needs_core
def test_errors_alike():
    for kw in ({"k": 0}, {"k": 17}, {"bands": 15, "rows": 9}):
        args = {"k": 5, "bands": 14, "rows": 9, **kw}
        with pytest.raises(ValueError):
            sig.fingerprint("one two three four five six", **args)
        with pytest.raises(ValueError):
            sig._py_fingerprint("one two three four five six", **args)
    assert sig.fingerprint("", k=0, bands=14, rows=9) == sig._py_fingerprint("", k=0, bands=14, rows=9)


def test_pure_python_switch():
    env = {**os.environ, "MONITOR_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", "import monitor.cluster.signature as s; print(s.COMPILED)"],
                         env=env, capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"
