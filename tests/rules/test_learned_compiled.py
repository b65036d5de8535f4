"""The compiled scorer of the learned check (``monitor.rules._learned``) gives what the Python one gives:
the same known features in the same order, the same TF-IDF values and decision values (to rounding), on
generated texts with invented vocabularies and options, and with the shipped model on the seeds and on
our written corpus."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.rules import article_from, load_rules
from monitor.rules import learned as L
from monitor.rules.learned import LearnedModel, Options

if L._core is None:
    pytest.skip(
        "monitor.rules._learned is not built: install a C compiler (gcc) and reinstall (pip install -e .) to "
        "test the learned check's compiled scorer",
        allow_module_level=True,
    )

ROOT = Path(__file__).resolve().parents[2]
# an invented vocabulary: Latin words, digits, and Arabic words with and without clitic prefixes (some too
# short to lose one); Arabic-Indic digits, a presentation form, an astral digit, a title-case letter and the
# Arabic stretching mark (a letter to Python)
WORDS = ["convoy", "drill", "harbour", "x", "ab", "7", "2024", "قافلة", "والقافلة", "بالقافلة", "للميناء",
         "الميناء", "وال", "فبالسوق", "كالبحر", "بحر", "لبن", "ولد", "٣٤", "ﻻ", "𝟙𝟚x", "ǅ", "ـ"]
# separators and marks (not letters or digits), among them right-to-left and no-break marks
SEPARATORS = [" ", "  ", "\n", ", ", " - ", "_", "\t", ".\n", "،", "\u200f", "\u00a0"]


def _table(words: list[str], rnd: np.random.Generator) -> dict[str, tuple[float, tuple[float, ...]]]:
    """Features of several kinds over ``words`` (plus some never seen), each with an idf and two weights."""
    feats: set[str] = set(words) | {"unseen"}
    feats |= {f"h:{w}" for w in words[::2]}
    feats |= {f"s:{m[1]}" for w in words if (m := L._STEM.match(w))}
    feats |= {f"{a} {b}" for a, b in itertools.product(words[:8], words[3:12])}
    return {f: (float(rnd.uniform(0.5, 4)), (float(rnd.normal()), float(rnd.normal()))) for f in sorted(feats)}


def _same(model: LearnedModel, text: str, scorer: Any = None) -> None:
    fast = (scorer or model.scorer(compiled=True)).weigh(text)
    slow = model._weigh_python(text)
    assert fast[1].tolist() == slow[1].tolist()  # the same rows, first occurrence first
    np.testing.assert_allclose(fast[2], slow[2], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(fast[0], slow[0], rtol=1e-12, atol=1e-12)


@given(
    pieces=st.lists(st.tuples(st.sampled_from(WORDS), st.sampled_from(SEPARATORS)), max_size=60),
    limit=st.sampled_from([1, 5, 30, 200, 1500]),
    flags=st.tuples(st.booleans(), st.booleans(), st.booleans()),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_compiled_equals_python_on_generated_texts(pieces: list[tuple[str, str]], limit: int,
                                                   flags: tuple[bool, bool, bool], seed: int) -> None:
    text = "".join(w + s for w, s in pieces)
    rnd = np.random.default_rng(seed)
    model = LearnedModel(tags=("a", "b"), bias=(0.1, -0.2), veto=(0.3, 0.3), rescue=(0.8, 0.8),
                         table=_table(WORDS, rnd), options=Options(limit, *flags))
    _same(model, text)


def test_compiled_finds_each_kind_of_feature() -> None:
    """A check that can fail on its own: the features a hand-made text holds, and their order."""
    table = {f: (1.0, (1.0,)) for f in ["convoy", "drill", "convoy drill", "h:convoy", "s:قافلة", "unseen"]}
    model = LearnedModel(tags=("a",), bias=(0.0,), veto=(0.5,), rescue=(0.5,), table=table)
    _, rows, values = model.scorer(compiled=True).weigh("convoy drill\nوالقافلة convoy")
    names = [model._names[r] for r in rows.tolist()]
    assert names == ["convoy", "drill", "convoy drill", "h:convoy", "s:قافلة"]
    assert values[0] > values[1]  # convoy twice


def _texts() -> list[tuple[str, str]]:
    """(title, content) of the seeds and of 400 items of our written corpus (every file's first ones)."""
    out = []
    for p in sorted((ROOT / "seeds").glob("*.txt")):
        title, _, body = p.read_text(encoding="utf-8").partition("\n")
        out.append((title, body))
    files = sorted((ROOT / "tests" / "data" / "labelled").glob("*.jsonl"))
    for path in files:
        for line in path.read_text(encoding="utf-8").splitlines()[: 400 // len(files) + 1]:
            item = json.loads(line)
            out.append((item.get("title", ""), item.get("content", "")))
    return out


def test_compiled_equals_python_with_the_shipped_model() -> None:
    rules = load_rules(ROOT / "rules")
    model = rules.learned
    assert model is not None, "the shipped rules have a learned check"
    texts = _texts()
    assert len(texts) > 300
    scorer = model.scorer(compiled=True)
    for title, body in texts:
        _same(model, rules.analyse(article_from({"title": title, "content": body})).text, scorer)


def test_odd_model_files_are_refused_or_harmless() -> None:
    """A limit that is not a positive number is a ModelInvalid (the two scorers would read it differently);
    a feature of three words, which no text yields, is kept in the table and found by neither scorer."""
    from monitor.rules.learned import ModelInvalid

    data = {"format": 1, "tags": ["a"], "bias": [0.0], "veto": [0.5], "rescue": [0.5],
            "features": {"convoy": [1.0, 1.0], "convoy drill now": [1.0, 1.0]}, "options": {"limit": -5}}
    with pytest.raises(ModelInvalid, match="positive limit"):
        LearnedModel.from_json(data)
    data["options"] = {"limit": 100}
    model = LearnedModel.from_json(data)
    _same(model, "convoy drill now\nconvoy drill now")
    assert model.scorer(compiled=True).weigh("convoy drill now")[1].tolist() == [0]
