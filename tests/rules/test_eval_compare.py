"""``monitor rules eval --baseline DIR``: the F1 gain of a rule set over another on the same labelled
articles, with a paired bootstrap interval, per tag, the calls that changed, and the --min-gain gate;
``monitor.rules.compare`` itself on calls given by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.rules.compare import compare
from monitor.rules.evaluate import read_labelled

TAG = "negotiation-round"
OTHER = "ceasefire"


def jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def labelled(tmp_path: Path, labels: dict[str, list[str]]) -> list:
    rows = [{"id": i, "lang": "en", "title": f"item {i}", "labels": tags} for i, tags in labels.items()]
    items, errors = read_labelled(jsonl(tmp_path / "l.jsonl", rows), [TAG, OTHER])
    assert not errors
    return items


def test_the_gain_is_the_difference_of_the_two_micro_f1(tmp_path: Path) -> None:
    items = labelled(tmp_path, {"a": [TAG], "b": [], "c": [TAG], "d": [OTHER]})
    base = {"a": frozenset({TAG}), "b": frozenset({TAG}), "d": frozenset({OTHER})}  # tp 2, fp 1, fn 1
    now = {"a": frozenset({TAG}), "c": frozenset({TAG}), "d": frozenset({OTHER})}   # tp 3
    cmp = compare(items, [TAG, OTHER], now, base)
    assert cmp.articles == 4 and cmp.resamples == 2000
    assert cmp.overall.baseline == pytest.approx(4 / 6) and cmp.overall.current == 1.0
    assert cmp.overall.gain == pytest.approx(1 / 3)
    assert cmp.overall.low <= cmp.overall.gain <= cmp.overall.high
    assert cmp.tags[TAG].baseline == pytest.approx(0.5) and cmp.tags[TAG].gain == pytest.approx(0.5)
    assert cmp.tags[OTHER].gain == 0 and cmp.tags[OTHER].low == cmp.tags[OTHER].high == 0
    assert [(c.item.article.id, c.tag, c.current, c.now_right) for c in cmp.changes] == [
        ("b", TAG, False, True), ("c", TAG, True, True)]
    # a fixed seed: the same input gives the same interval
    again = compare(items, [TAG, OTHER], now, base)
    assert (again.overall.low, again.overall.high) == (cmp.overall.low, cmp.overall.high)


def test_the_interval_straddles_zero_when_a_change_is_one_right_and_one_wrong(tmp_path: Path) -> None:
    labels = {f"p{i}": [TAG] for i in range(20)} | {f"n{i}": [] for i in range(20)}
    items = labelled(tmp_path, labels)
    base = {f"p{i}": frozenset({TAG}) for i in range(19)}           # misses p19
    now = base | {"p19": frozenset({TAG}), "n0": frozenset({TAG})}  # finds p19, adds a false alarm
    cmp = compare(items, [TAG], now, base)
    assert len(cmp.changes) == 2
    assert cmp.overall.low < 0 < cmp.overall.high


def test_each_language_is_scored_on_its_own_articles(tmp_path: Path) -> None:
    rows = [{"id": "a", "lang": "ar", "title": "أ", "labels": [TAG]}, {"id": "b", "lang": "ar", "title": "ب", "labels": []},
            {"id": "e", "lang": "en", "title": "e", "labels": [TAG]}]
    items, _ = read_labelled(jsonl(tmp_path / "l.jsonl", rows), [TAG])
    base = {"a": frozenset({TAG}), "b": frozenset({TAG})}
    now = {"a": frozenset({TAG}), "e": frozenset({TAG})}  # drops the Arabic false alarm, finds the English one
    cmp = compare(items, [TAG], now, base)
    assert list(cmp.gains) == ["all", "ar", "en"]
    assert cmp.gains["ar"][TAG].baseline == pytest.approx(2 / 3) and cmp.gains["ar"][TAG].current == 1.0
    assert cmp.gains["en"]["all"].baseline == 0.0 and cmp.gains["en"]["all"].current == 1.0
    assert cmp.overall.baseline == pytest.approx(0.5) and cmp.overall.current == 1.0
    for by_tag in cmp.gains.values():
        for g in by_tag.values():
            assert g.low <= g.gain <= g.high


def test_a_tag_neither_set_gives_nor_any_label_has_no_figure(tmp_path: Path) -> None:
    items = labelled(tmp_path, {"a": [TAG]})
    cmp = compare(items, [TAG, OTHER], {"a": frozenset({TAG})}, {})
    assert cmp.tags[OTHER].baseline is None and cmp.tags[OTHER].current is None
    assert cmp.tags[TAG].baseline == 0.0 and cmp.tags[TAG].current == 1.0


def test_no_articles_no_resamples(tmp_path: Path) -> None:
    cmp = compare([], [TAG], {}, {})
    assert cmp.articles == 0 and cmp.resamples == 0 and cmp.changes == ()


# the CLI: the current folder tags every rocket near a base; the baseline one only where it "fell"
CURRENT = {"attack.yaml": "id: attack\ntags: [attack-on-base]\nmatch: {all: [rocket, base]}\n"}
BASELINE = {"attack.yaml": "id: attack\ntags: [attack-on-base]\nmatch: {all: [rocket, base, fell]}\n"}
ITEMS = [
    {"id": "hit", "lang": "en", "title": "A rocket fell on the base", "labels": ["attack-on-base"]},
    {"id": "test", "lang": "en", "title": "A rocket was fired from the base in a test", "labels": []},
    {"id": "dawn", "lang": "en", "title": "A rocket struck the base at dawn", "labels": ["attack-on-base"]},
    {"id": "calm", "lang": "en", "title": "Calm at the border", "labels": []},
]


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["rules", "eval", *args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def folders(tmp_path: Path, write) -> tuple[Path, Path, Path]:
    return (write(tmp_path / "now", CURRENT), write(tmp_path / "before", BASELINE),
            jsonl(tmp_path / "labelled.jsonl", ITEMS))


def test_report_ends_with_the_gain_and_every_changed_call(folders: tuple[Path, Path, Path]) -> None:
    now, before, data = folders
    code, out, _ = run("--rules", str(now), "--baseline", str(before), str(data))
    assert code == 0
    tail = out[out.index("Against the baseline"):]
    assert f"Against the baseline {before} (the same 4 articles, 2,000 paired resamples)" in tail
    # before: tp 1 fn 1 (F1 0.667); now: tp 2 fp 1 (F1 0.8)
    assert "all tags                   all  0.667 -> 0.800  +0.133" in tail
    assert "                           en   0.667 -> 0.800  +0.133" in tail  # the one language's own row
    assert "2 call(s) changed: 1 now right, 1 now wrong" in tail
    assert "right attack-on-base           now tagged       dawn (line 3, en)" in tail
    assert "WRONG attack-on-base           now tagged       test (line 2, en)" in tail


def test_min_gain_gates_on_the_gain_and_json_carries_the_comparison(folders: tuple[Path, Path, Path]) -> None:
    now, before, data = folders
    code, out, _ = run("--rules", str(before), "--baseline", str(now), "--min-gain", "0", "--json", str(data))
    assert code == 1  # the stricter folder is worse than the one it is compared with
    doc = json.loads(out)["baseline"]
    assert doc["rules"] == str(now) and doc["articles"] == 4 and doc["resamples"] == 2000
    assert doc["f1"]["gain"] == pytest.approx(-2 / 15) and doc["passed"] is False and doc["min_gain"] == 0
    assert doc["langs"]["en"]["all"]["gain"] == pytest.approx(-2 / 15)
    assert doc["langs"]["en"]["attack-on-base"] == doc["tags"]["attack-on-base"]
    low, high = doc["f1"]["interval"]
    assert low <= doc["f1"]["gain"] <= high
    assert {(c["id"], c["current"], c["label"], c["now_right"]) for c in doc["changes"]} == {
        ("test", False, False, True), ("dawn", False, True, False)}
    code, out, _ = run("--rules", str(before), "--baseline", str(now), "--min-gain", "-0.2", str(data))
    assert code == 0 and "--min-gain -0.200: passed (gain -0.133)" in out


def test_min_gain_without_a_baseline_is_an_error(folders: tuple[Path, Path, Path]) -> None:
    now, _, data = folders
    code, _, err = run("--rules", str(now), "--min-gain", "0", str(data))
    assert code == 1 and "--min-gain needs --baseline DIR" in err
