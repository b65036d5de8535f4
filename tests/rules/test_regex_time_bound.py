"""A catastrophic rule regex is cut at its time bound (50 ms per field) instead of stalling the worker."""

from __future__ import annotations

import time
from pathlib import Path

from monitor.models import Article
from monitor.rules import load_rules

RULE = """id: evil
title: Backtracking
severity: low
match:
  regex: "(a|aa)+$"
"""


def test_a_catastrophic_regex_is_cut_at_its_time_bound(tmp_path: Path) -> None:
    (tmp_path / "evil.yaml").write_text(RULE)
    rules = load_rules(tmp_path)
    text = "a" * 60 + "b"  # unbounded, (a|aa)+$ takes ~fib(60) steps here: years (28 a's take 0.4 s)
    t0 = time.process_time()
    matches = rules.match(Article(id="x", title=text, content=text))
    assert [m.rule for m in matches] == []
    assert time.process_time() - t0 < 10  # a liveness bound: a few 50 ms time-outs, not years
