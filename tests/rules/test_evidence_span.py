"""``engine._span`` (the evidence's original offsets, inlined) agrees with ``Normalized.span`` everywhere."""

from __future__ import annotations

import random

from monitor.rules.engine import _span
from monitor.text.folding import normalize

ALPHABET = [*"abc ABC.,\n\t-", *"أإآةىيكیۀ٣ـً ", "\u200f", "ﻻ", "ﷲ", "ﬁ", "İ", "😀"]


def test_same_spans_as_normalized_on_random_texts() -> None:
    rnd = random.Random(5)
    for _ in range(2000):
        text = "".join(rnd.choice(ALPHABET) for _ in range(rnd.randint(0, 40)))
        norm = normalize(text)
        n = len(norm.text)
        pos = norm.pos if norm.text else ()
        for _ in range(10):
            a, b = rnd.randint(-2, n + 2), rnd.randint(-2, n + 2)
            assert _span(pos, n, len(text), a, b) == norm.span(a, b), (text, a, b)
