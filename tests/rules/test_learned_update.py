"""``monitor rules update``: moving a learned model with new labelled articles, its vocabulary and thresholds kept.

The texts are written here (a small invented vocabulary), not taken from any article."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("sklearn", reason="updating needs scikit-learn and scipy: pip install -e '.[train]'")

from monitor.rules import load_rules
from monitor.rules.evaluate import read_labelled
from monitor.rules.learned import LearnedModel, write_model
from monitor.rules.update import _fit, _matrix, update

RULE = """\
id: drills.report
title: Drill reported
severity: high
tags: [drill]
match:
  any: ["drill"]
"""
WORDS = ["the", "city", "said", "today", "officials", "near", "exercise", "troops", "storm", "rain"]


def _folder(tmp_path: Path, table: dict[str, list[float]]) -> Path:
    root = tmp_path / "rules"
    (root / "learned").mkdir(parents=True)
    (root / "drill.yaml").write_text(RULE, encoding="utf-8")
    write_model(root / "learned" / "model.json.gz", tags=["drill"], bias=[-1.0], veto=[0.2], rescue=[0.7],
                table=table, options=LearnedModel.from_json(
                    {"format": 1, "tags": ["drill"], "bias": [0], "veto": [0], "rescue": [1],
                     "features": {}}).options, about={"trained": "by hand"})
    (root / "learned.yaml").write_text("learned:\n  model: learned/model.json.gz\n  mode: both\n", encoding="utf-8")
    return root


def _items(n: int, seed: int = 5) -> list[dict[str, object]]:
    """Articles where 'storm' (a word the model weighs at zero) marks the drill, and 'exercise' (which the model
    weighs up) often stands in ones that are not."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        drill = i % 3 == 0
        words = [rnd.choice(WORDS[:6]) for _ in range(10)] + (["storm", "troops"] if drill else [])
        words += ["exercise"] if i % 2 == 0 else []
        rnd.shuffle(words)
        out.append({"id": str(i), "title": "", "content": " ".join(words), "labels": ["drill"] if drill else []})
    return out


TABLE = {w: [1.0, 0.0] for w in WORDS} | {"exercise": [1.0, 3.0], "unseen": [2.0, 1.5]}


def test_at_zero_the_update_is_scikit_learns_regression() -> None:
    """With the model's numbers at zero, the pull is plain L2: the fit equals liblinear's (which also pulls
    the intercept) at C = 1 / anchor, balanced classes."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    model = LearnedModel.from_json({"format": 1, "tags": ["drill"], "bias": [0.0], "veto": [0.2], "rescue": [0.7],
                                    "features": {w: [1.0, 0.0] for w in WORDS}})
    items = _items(90)
    x = _matrix(model, [str(i["content"]) for i in items])
    y = [bool(i["labels"]) for i in items]
    w, b = _fit(x, y, np.zeros(len(model.table)), 0.0, anchor=0.5)
    ref = LogisticRegression(C=2.0, class_weight="balanced", solver="liblinear", tol=1e-10, max_iter=10000).fit(x, y)
    assert np.allclose(w, ref.coef_[0], atol=1e-3) and b == pytest.approx(ref.intercept_[0], abs=1e-3)


def test_update_moves_what_the_items_carry_and_keeps_the_rest(tmp_path: Path) -> None:
    root = _folder(tmp_path, TABLE)
    rs = load_rules(root, learned="off")
    assert rs.learned is not None
    model = rs.learned
    data = tmp_path / "fresh.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in _items(120)), encoding="utf-8")
    items, errors = read_labelled(data, ("drill",))
    assert errors == []
    up = update(model, rs, items, anchors=(1.0, 0.1), folds=4)
    assert up.items == 120 and set(up.means) == {float("inf"), 1.0, 0.1}
    assert up.anchor in (1.0, 0.1) and up.means[up.anchor] > up.means[float("inf")]
    # 'storm' marks the drill in every new item: it gains weight; 'unseen' is in no item: it stays as it was
    assert up.table["storm"][1] > 0.5 and up.table["unseen"] == (2.0, 1.5)
    assert all(up.table[f][0] == model.table[f][0] for f in model.table)  # the idf is the model's
    assert 0 < up.moved < len(model.table)
    # a pull too strong to move anything leaves the model as it is
    still = update(model, rs, items, anchors=(1e9,), folds=4)
    assert all(abs(still.table[f][1] - model.table[f][1][0]) < 1e-3 for f in model.table)


def test_cli_update(tmp_path: Path) -> None:
    from monitor.cli import main

    root = _folder(tmp_path, TABLE)
    data = tmp_path / "fresh.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in _items(120)), encoding="utf-8")
    out = tmp_path / "updated.json.gz"
    runner = CliRunner()
    got = runner.invoke(main, ["rules", "update", "--rules", str(root), "--out", str(out), "--anchor", "1",
                               "--anchor", "0.1", "--folds", "4", "--json", str(data)])
    assert got.exit_code == 0, got.output
    doc = json.loads(got.output.strip().splitlines()[-1])
    assert doc["articles"] == 120 and doc["anchor"] in (1.0, 0.1) and doc["moved"] > 0
    assert set(doc["cv_mean_f1"]) == {"inf", "1.0", "0.1"}
    new = LearnedModel.load(out)
    old = LearnedModel.load(root / "learned" / "model.json.gz")
    assert (new.tags, new.veto, new.rescue, set(new.table)) == (old.tags, old.veto, old.rescue, set(old.table))
    assert new.about["update_of"] == old.version and new.about["trained"] == "by hand"
    # a pull too strong to help: the model is written unchanged, and the JSON says so with a null anchor
    got = runner.invoke(main, ["rules", "update", "--rules", str(root), "--out", str(out), "--anchor", "1e9",
                               "--folds", "4", "--json", str(data)])
    assert got.exit_code == 0 and json.loads(got.output.strip().splitlines()[-1])["anchor"] is None, got.output
    text = runner.invoke(main, ["rules", "update", "--rules", str(root), "--out", str(out), "--folds", "4", str(data)])
    assert text.exit_code == 0 and "model" in text.output and "<- chosen" in text.output, text.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "1", "content": "x", "labels": ["nope"]}\n', encoding="utf-8")
    got = runner.invoke(main, ["rules", "update", "--rules", str(root), "--out", str(out), str(bad)])
    assert got.exit_code == 1 and "bad.jsonl:1" in got.output
    broken = tmp_path / "broken.json.gz"
    broken.write_bytes(b"not a model")
    got = runner.invoke(main, ["rules", "update", "--rules", str(root), "--model", str(broken), "--out", str(out), str(data)])
    assert got.exit_code == 1 and "broken.json.gz" in got.output and "Traceback" not in got.output
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(json.dumps(x) for x in _items(12)), encoding="utf-8")
    got = runner.invoke(main, ["rules", "update", "--rules", str(root), "--out", str(out), str(few)])
    assert got.exit_code == 1 and "too few labelled articles" in got.output
