"""The compiled term scan (``monitor.rules._scan``) finds exactly the hits of the pure-Python scan (the
pyahocorasick automaton and ``terms._check``): same term ids, same spans, in the same order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.rules import load_rules
from monitor.rules import terms as T
from monitor.text.affixes import EN_SUFFIXES, PROCLITICS, SUFFIXES, TEH_SUFFIXES
from monitor.text.folding import normalize

if T._scan is None:
    pytest.skip(
        "monitor.rules._scan is not built (or is a stale build): install a C compiler (gcc) and reinstall "
        "(pip install -e .) to test the compiled term scan",
        allow_module_level=True,
    )

ROOT = Path(__file__).resolve().parents[2]
SEEDS = sorted((ROOT / "seeds").glob("*.txt"))
LABELLED = sorted((ROOT / "tests" / "data" / "labelled").glob("*.jsonl"))

Hits = dict[int, list[tuple[int, int, int]]]


@lru_cache(maxsize=1)
def shipped() -> T.TermTable:
    """The term table of the shipped rules, with the compiled scanner (the Python one is built on demand)."""
    table = load_rules(ROOT / "rules")._table
    if not table.compiled:  # MONITOR_PURE_PYTHON=1: build the compiled scanner for this table all the same
        table.build(compiled=True)
    return table


def table_of(*raw: str) -> T.TermTable:
    table = T.TermTable()
    for r in raw:
        table.add(r)
    table.build(compiled=True)
    return table


def both(table: T.TermTable, fields: list[str]) -> tuple[Hits, Hits]:
    fast: Hits = {}
    slow: Hits = {}
    for f, text in enumerate(fields):
        mask = T.normalize_mask(text)
        table.scan_into(text, mask, f, fast)
        table.scan_into_python(text, mask, f, slow)
    return fast, slow


def assert_same(table: T.TermTable, *fields: str) -> Hits:
    fast, slow = both(table, list(fields))
    assert {t: sorted(v) for t, v in fast.items()} == {t: sorted(v) for t, v in slow.items()}
    assert fast == slow  # and in the same order
    return fast


def test_compiled_by_default_and_forced_off() -> None:
    code = "from monitor.rules import terms; print(terms.COMPILED)"
    env = {**os.environ, "MONITOR_PURE_PYTHON": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    env.pop("MONITOR_PURE_PYTHON")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_pure_python_table() -> None:
    table = T.TermTable()
    table.add("قاعدة")
    table.build(compiled=False)
    assert not table.compiled
    assert table.scan(normalize("على القاعدة").text) == {0: [(4, 11)]}


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.name)
def test_seed_articles(path: Path) -> None:
    text = normalize(path.read_text(encoding="utf-8")).text
    hits = assert_same(shipped(), text, *text.split("\n\n"))
    assert hits  # the seeds are news the shipped rules are about


@pytest.mark.parametrize("path", LABELLED, ids=lambda p: p.name)
def test_labelled_corpora(path: Path) -> None:
    table = shipped()
    found = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        item = json.loads(line)
        fields = [normalize(item.get(k) or "").text for k in ("title", "summary", "content")]
        found += bool(assert_same(table, *fields))
    assert found


def test_every_shipped_term_alone_and_in_a_sentence() -> None:
    table = shipped()
    for term in table.terms:
        for key, _, _ in table.keys(term):
            hits = assert_same(table, key, f"قال {key}، و{key}ها ({key}s) {key}ات.", f"ب{key}")
            if key == term.key:
                assert term.id in hits
    # one long text (several lanes) with every key
    keys = [k for term in table.terms for k, _, _ in table.keys(term)]
    assert_same(table, " ".join(keys), "،".join(keys), "".join(keys))


def test_edge_cases() -> None:
    table = table_of("ab", "abc", "bc", "b", "abcd*", "قاعدة", "قاعدة عسكرية", "اللجنة", "جولة", "𠀀𠀁", "x1")
    for text in ["", "ab", "abc", "b", " ab", "ab ", "abcd", "abcdef", "abcs", "abces", "bcb", "a b c",
                 "قاعدة", "والقاعدة", "قاعدتين", "القاعدة العسكرية", "بالقاعدة العسكرية", "للجنة", "وللجنة",
                 "جولات", "جولاتها", "جولتها", "جولت", "𠀀𠀁", "a𠀀𠀁b", "𠀀𠀁ab", "ab𠀀𠀁", "😀ab😀", "x1", "x12",
                 "ab\nabc", "ab-bc", "ab'bc", "ab.abc.", "٣ab", "3ab", "ab3"]:
        assert_same(table, text)
    assert assert_same(table, "ab") == {0: [(0, 0, 2)]}
    assert assert_same(table, "", "ab") == {0: [(1, 0, 2)]}


def test_mask_must_cover_the_text() -> None:
    table = table_of("ab")
    with pytest.raises(ValueError):
        table.scan_into("ab ab", b"\x01\x01", 0, {})
    hits: Hits = {}
    table.scan_into("ab ab", bytearray(b"\x01\x01\x00\x01\x01"), 0, hits)  # type: ignore[arg-type]  # any bytes-like
    assert hits == {0: [(0, 0, 2), (0, 3, 5)]}


def test_empty_and_unbuilt_tables() -> None:
    empty = table_of()
    assert empty.compiled
    assert_same(empty, "", "ab", "قاعدة " * 200)
    unbuilt = T.TermTable()
    unbuilt.add("ab")
    hits: Hits = {}
    unbuilt.scan_into("ab", b"\x01\x01", 0, hits)
    assert hits == {}


@pytest.mark.parametrize("length", [100, 511, 512, 513, 1000, 4099])
def test_hits_across_lane_boundaries(length: int) -> None:
    table = table_of("abc", "bc", "قاعدة", "long term with words", "ab*")
    for key in ("abc", "long term with words", "والقاعدتين", "abzzz"):
        for at in range(0, length - len(key), max(1, length // 97)):
            text = ("x " * length)[:at] + key + ("  y" * length)[: length - at - len(key)]
            assert_same(table, text)
    # every position of a quarter boundary, and astral chars in a long text
    for at in range(length // 4 - 25, length // 4 + 3):
        if at < 0:
            continue
        text = "𝑥" * at + " abc " + "z" * length
        assert_same(table, text)


_KEYS = sorted({k for term in shipped().terms for k, _, _ in shipped().keys(term)})
_EXTRA = sorted({k[:-1] for k in _KEYS if len(k) > 3}) + sorted({k[1:] for k in _KEYS if len(k) > 3})[:200]
_SEPS = [" ", " ", "\n", ", ", ". ", "-", "'", "،", "(", ")", "\"", " 12 ", "3", "٣", "x", "و", "ال", "😀", "𠀀"]

piece = st.tuples(
    st.sampled_from(["", "", *sorted(PROCLITICS)]),
    st.one_of(st.sampled_from(_KEYS), st.sampled_from(_EXTRA)),
    st.sampled_from(["", "", "", "*", *sorted(SUFFIXES), *sorted(TEH_SUFFIXES), *sorted(EN_SUFFIXES),
                     "ت", "تي", "xyz", "يينها"]),
    st.sampled_from(_SEPS),
).map(lambda p: "".join(p))
texts = st.lists(piece, min_size=0, max_size=40).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.text(max_size=30))
def test_generated_texts(text: str, noise: str) -> None:
    assert_same(shipped(), text, noise + text + noise)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(texts, min_size=8, max_size=20).map("\n".join))
def test_generated_long_texts(text: str) -> None:
    assert_same(shipped(), text)


def test_affixes_it_cannot_pack_fall_back_to_python(monkeypatch: pytest.MonkeyPatch) -> None:
    sets = T._affix_sets()
    monkeypatch.setattr(T, "_affix_sets", lambda: (*sets[:-1], sets[-1] | {"s" * 13}))
    monkeypatch.setattr(T, "COMPILED", True)
    table = T.TermTable()
    table.add("ab")
    with pytest.raises(ValueError):
        table.build(compiled=True)
    with pytest.warns(UserWarning, match="Python scan"):
        table.build()
    assert not table.compiled
    assert table.scan("ab") == {0: [(0, 2)]}
