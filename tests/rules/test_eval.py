"""``monitor rules eval``: precision and recall of a rule set on labelled JSON Lines, per tag and
language; every wrong call with its evidence; file:line errors; the --min gate; the --json shape."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.rules import load_rules
from monitor.rules.evaluate import Counts, evaluate, read_labelled

RULES = {
    "attack.yaml": "id: attack\ntags: [attack-on-base]\nmatch: {all: [صاروخ, قاعدة]}\n",
    "talks.yaml": "id: talks\ntags: [negotiation-round]\nmatch: {near: [round, talks], within: 3}\n",
    "off.yaml": "id: truce\nenabled: false\ntags: [ceasefire]\nmatch: truce\n",
}

# ar: 1 TP, 1 FP (a rocket *from* a base), 1 FN (a drone, not a rocket); en: 1 TP, 1 FN, 1 TN
ITEMS = [
    {"id": "a1", "lang": "ar", "title": "صاروخ يضرب قاعدة", "text": "سقط صاروخ على القاعدة.",
     "labels": ["attack-on-base"], "split": "dev", "url": "https://example.invalid/1", "note": "x"},
    {"id": "a2", "lang": "ar", "title": "تجربة", "text": "أطلق صاروخ من القاعدة في تجربة.", "labels": [],
     "split": "dev"},
    {"id": "a3", "lang": "ar", "title": "مسيرة", "text": "استهدفت طائرة مسيرة القاعدة.",
     "labels": ["attack-on-base"], "split": "holdout"},
    {"id": "e1", "lang": "en", "title": "Second round of talks", "content": "They met.",
     "labels": ["negotiation-round"], "split": "dev"},
    {"id": "e2", "lang": "en", "title": "Negotiators meet again", "summary": "A new session opened.",
     "labels": ["negotiation-round"], "split": "dev"},
    {"id": "e3", "lang": "en", "title": "Round 10 of the league", "labels": [], "split": "dev"},
    {"id": "skip", "lang": "en", "title": "round of talks?", "labels": [], "ambiguous": True},
]


@pytest.fixture
def rules(tmp_path: Path, write) -> Path:
    return write(tmp_path / "rules", RULES)


def jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n"
                            for r in rows), encoding="utf-8")
    return path


def run(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, ["rules", "eval", *args])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    return r.exit_code, r.stdout, r.stderr


def test_scores_per_tag_and_language_as_json(rules: Path, tmp_path: Path) -> None:
    code, out, _ = run("--rules", str(rules), "--json", str(jsonl(tmp_path / "l.jsonl", ITEMS)))
    assert code == 0
    doc = json.loads(out)
    assert doc["articles"] == 6 and doc["skipped"] == 1 and doc["split"] is None
    assert doc["passed"] is True and doc["min"] is None and doc["below_min"] == []
    # the disabled rule's tag is a known label but not scored
    assert set(doc["scores"]) == {"attack-on-base", "negotiation-round"}
    attack = doc["scores"]["attack-on-base"]
    assert list(attack) == ["all", "ar", "en"]
    assert attack["ar"] == {"tp": 1, "fp": 1, "fn": 1, "tn": 0, "precision": 0.5, "recall": 0.5}
    assert attack["en"] == {"tp": 0, "fp": 0, "fn": 0, "tn": 3, "precision": None, "recall": None}
    talks = doc["scores"]["negotiation-round"]
    assert talks["all"] == {"tp": 1, "fp": 0, "fn": 1, "tn": 4, "precision": 1.0, "recall": 0.5}
    wrong = {(e["kind"], e["tag"], e["id"]) for e in doc["errors"]}
    assert wrong == {("fp", "attack-on-base", "a2"), ("fn", "attack-on-base", "a3"),
                     ("fn", "negotiation-round", "e2")}
    fp = next(e for e in doc["errors"] if e["kind"] == "fp")
    assert fp["line"] == 2 and fp["lang"] == "ar"
    assert [m["rule"] for m in fp["matches"]] == ["attack"]
    assert {ev["term"] for ev in fp["matches"][0]["evidence"]} == {"صاروخ", "قاعدة"}


def test_report_shows_each_wrong_call_with_its_evidence(rules: Path, tmp_path: Path) -> None:
    code, out, _ = run("--rules", str(rules), str(jsonl(tmp_path / "l.jsonl", ITEMS)))
    assert code == 0
    assert "6 articles scored, 1 ambiguous skipped" in out
    lines = out.splitlines()
    row = next(ln for ln in lines if ln.startswith("attack-on-base"))
    assert row.split() == ["attack-on-base", "all", "2", "1", "1", "1", "0.500", "0.500"]
    assert "FP attack-on-base  a2 (line 2, ar)" in out
    assert "MATCH attack [medium]" in out and "[[صاروخ]]" in out  # the evidence, highlighted
    assert "FN attack-on-base  a3 (line 3, ar)" in out
    assert "no rule tagged attack-on-base matched: استهدفت طائرة مسيرة القاعدة." in out
    assert "FN negotiation-round  e2" in out
    assert "a1" not in out and "e3" not in out  # right calls are not listed


def test_split_keeps_only_that_split(rules: Path, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "l.jsonl", ITEMS)
    _, out, _ = run("--rules", str(rules), "--json", "--split", "holdout", str(path))
    doc = json.loads(out)
    assert doc["articles"] == 1 and doc["scores"]["attack-on-base"]["all"]["fn"] == 1
    code, _, err = run("--rules", str(rules), "--split", "nope", str(path))
    assert code == 0 and "no article to score" in err


def test_byte_order_mark_and_crlf_are_accepted(rules: Path, tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(json.dumps(r, ensure_ascii=False) for r in ITEMS[:2]).encode() + b"\r\n")
    code, out, _ = run("--rules", str(rules), "--json", str(path))
    assert code == 0 and json.loads(out)["articles"] == 2


def test_tag_restricts_the_scored_tags(rules: Path, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "l.jsonl", ITEMS)
    _, out, _ = run("--rules", str(rules), "--json", "--tag", "negotiation-round", str(path))
    assert set(json.loads(out)["scores"]) == {"negotiation-round"}
    code, _, err = run("--rules", str(rules), "--tag", "nope", str(path))
    assert code == 1 and "--tag nope: no rule carries it" in err


def test_min_is_a_gate(rules: Path, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "l.jsonl", ITEMS)
    code, out, _ = run("--rules", str(rules), "--min", "0.5", str(path))
    assert code == 0 and "--min 0.5: passed" in out
    code, out, _ = run("--rules", str(rules), "--min", "0.6", str(path))
    assert code == 1
    assert "below --min 0.6: attack-on-base ar precision 0.500" in out and "FAILED" in out
    code, out, _ = run("--rules", str(rules), "--min", "0.6", "--json", str(path))
    doc = json.loads(out)
    assert code == 1 and doc["passed"] is False and doc["min"] == 0.6
    assert {"tag": "negotiation-round", "lang": "en", "measure": "recall", "value": 0.5} in doc["below_min"]
    # undefined figures (no positive, nothing predicted) never fail the gate
    perfect = jsonl(tmp_path / "p.jsonl", [ITEMS[0], ITEMS[5]])
    assert run("--rules", str(rules), "--min", "1", str(perfect))[0] == 0


def test_bad_lines_are_file_line_errors_and_nothing_is_scored(rules: Path, tmp_path: Path) -> None:
    path = jsonl(tmp_path / "bad.jsonl", [
        ITEMS[0],
        "{not json",
        {"id": "b3", "labels": ["attack"]},
        {"id": "b4", "title": "no labels"},
        {"id": "b5", "labels": "attack-on-base"},
        {"id": "a1", "labels": []},
        "[1, 2]",
        {"labels": []},
        {"id": "b9", "labels": [], "text": "a", "content": "b"},
        {"id": "b10", "labels": [], "title": 5},
        {"id": "b11", "labels": [], "ambiguous": "yes"},
    ])
    code, out, err = run("--rules", str(rules), str(path))
    assert code == 1 and out == ""
    assert "Traceback" not in err
    f = str(path)
    for expected in (f"{f}:2: not JSON", f"{f}:3: unknown tag `attack` in `labels`",
                     f"{f}:4: missing `labels`", f"{f}:5: `labels` must be a list of strings",
                     f"{f}:6: id `a1` repeats line 1", f"{f}:7: expected a JSON object",
                     f"{f}:8: missing `id`", f"{f}:9: both `text` and `content`",
                     f"{f}:10: `title`: ", f"{f}:11: `ambiguous` must be true or false",
                     "10 bad line(s)"):
        assert expected in err, expected
    # an ambiguous line needs no labels; a disabled rule's tag is a known label
    ok = jsonl(tmp_path / "ok.jsonl", [{"id": "x", "ambiguous": True}, {"id": "y", "labels": ["ceasefire"]}])
    assert run("--rules", str(rules), str(ok))[0] == 0


def test_missing_file_and_bad_rules(rules: Path, tmp_path: Path, write) -> None:
    code, _, err = run("--rules", str(rules), str(tmp_path / "none.jsonl"))
    assert code == 2 and "does not exist" in err
    broken = write(tmp_path / "broken", {"r.yaml": "id: r\nmatch: '@nope'\n"})
    code, _, err = run("--rules", str(broken), str(jsonl(tmp_path / "l.jsonl", ITEMS)))
    assert code == 1 and "r.yaml:2: unknown list `@nope`" in err


def test_pure_core(rules: Path, tmp_path: Path) -> None:
    rs = load_rules(rules)
    items, errors = read_labelled(jsonl(tmp_path / "l.jsonl", ITEMS), ["attack-on-base", "negotiation-round"])
    assert errors == [] and [i.line for i in items] == [1, 2, 3, 4, 5, 6, 7]
    assert items[0].article.content == "سقط صاروخ على القاعدة." and items[0].split == "dev"
    ev = evaluate(rs, items, ["attack-on-base"])
    assert ev.below(0.6) == [("attack-on-base", "all", "precision", 0.5), ("attack-on-base", "all", "recall", 0.5),
                             ("attack-on-base", "ar", "precision", 0.5), ("attack-on-base", "ar", "recall", 0.5)]
    c = Counts()
    for truth, pred in ((True, True), (True, False), (False, True), (False, False), (True, True)):
        c.add(truth, pred)
    assert (c.tp, c.fp, c.fn, c.tn) == (2, 1, 1, 1)
    assert c.precision == pytest.approx(2 / 3) and c.recall == pytest.approx(2 / 3)
    assert Counts().precision is None and Counts().recall is None
