"""Session 15's cuts keep their answers: the evidence mapped back to the original text without
``Normalized.span`` (``engine._span``), and a regex's opening and needed words' starts gathered in lists
(``positional._field_starts``), as before."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from monitor.rules.engine import _span
from monitor.text.folding import normalize

ROOT = Path(__file__).resolve().parents[2]

PIECES = ["Rockets", " hit ", "the  base", "\u00a0", "ﻻ", "قاعدة", " عين الأسد", "\u0640", "…", "—", "2,500",
          "\n\n", "U.S.", "ٌ", "ﷲ", "  ", "Ⅻ", "ﬁ", "ß", "İ"]


def _texts(n: int) -> list[str]:
    rnd = random.Random(15)
    out = ["", " ", "a", "ﬁ"]
    for _ in range(n):
        out.append("".join(rnd.choice(PIECES) for _ in range(rnd.randint(1, 12))))
    return out


def test_span_is_normalized_span() -> None:
    for text in _texts(300):
        norm = normalize(text)
        size = len(norm.text)
        pos = norm.pos if size else None
        for a in range(-1, size + 2):
            for b in range(a, size + 3):
                assert _span(pos, size, len(text), a, b) == norm.span(a, b), (text, a, b)


FIELD_STARTS = """
import random
from monitor.models import Article
from monitor.rules import matcher_core, positional
from monitor.rules.expr import Ctx
assert matcher_core() == "python"
rnd = random.Random(15)
for _ in range(300):
    hits, extra = {}, {}
    for tid in rnd.sample(range(40), rnd.randint(0, 12)):
        target = extra if tid >= 30 else hits
        target[tid] = [(rnd.randrange(3), a, a + 3) for a in (rnd.randrange(50) for _ in range(rnd.randint(1, 5)))]
    ids = frozenset(rnd.sample(range(40), rnd.randint(1, 20)))
    ctx = Ctx(["x" * 60] * 3, hits, Article(id="a", title="t"), "en", extra)
    want = [set(), set(), set()]
    for tid in ids:
        for f, a, _ in (*hits.get(tid, ()), *extra.get(tid, ())):
            want[f].add(a)
    assert positional._field_starts(ctx, ids) == [sorted(s) for s in want], (hits, extra, ids)
print("ok")
"""


def test_field_starts_sorted_unique() -> None:
    """The pure-Python reference (compiled, ``_field_starts`` is a C function; the compiled guard and
    ``test_regex_openings`` check its regex matches against the reference's)."""
    out = subprocess.run([sys.executable, "-c", FIELD_STARTS], env={**os.environ, "MONITOR_PURE_PYTHON": "1"},
                         cwd=ROOT, capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
