"""The learned check: features, the scorer against scikit-learn, veto and rescue, the loader's errors, the
engine's ``<tag>.learned`` matches and ``monitor rules learn``/``eval --learned`` from the command line.

The texts are written here (a small invented vocabulary), not taken from any article."""

from __future__ import annotations

import gzip
import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.models import Match
from monitor.rules import RulesInvalid, article_from, load_rules
from monitor.rules.learned import LearnedModel, ModelInvalid, Options, features, write_model

RULE = """\
id: drills.report
title: Drill reported
severity: high
tags: [drill]
match:
  any: ["drill"]
"""
SECOND = """\
id: parade.report
title: Parade reported
severity: low
tags: [parade]
match:
  any: ["parade"]
"""


def _model(tags: tuple[str, ...] = ("drill", "parade"), *, mode: str = "both", veto: float = 0.3,
           rescue: float = 0.8, table: dict[str, list[float]] | None = None,
           tag_modes: dict[str, str] | None = None) -> LearnedModel:
    data = {"format": 1, "tags": list(tags), "bias": [0.0] * len(tags), "veto": [veto] * len(tags),
            "rescue": [rescue] * len(tags),
            "features": table if table is not None else {"alpha": [1.0, 8.0, -8.0], "beta": [1.0, -8.0, 8.0]}}
    return LearnedModel.from_json(data, mode=mode, tag_modes=tag_modes)  # type: ignore[arg-type]


def _match(rule: str, *tags: str) -> Match:
    return Match(rule=rule, tags=tags)


def test_features_words_pairs_headline_and_arabic_stems() -> None:
    got = features("rocket hits base\nوالقاعده قصفت", Options())
    assert got[:5] == ["rocket", "hits", "base", "والقاعده", "قصفت"]
    assert "rocket hits" in got and "base والقاعده" in got
    assert {"h:rocket", "h:hits", "h:base"} <= set(got) and "h:قصفت" not in got
    assert "s:قاعده" in got  # wa + al read off; a short word keeps its letters
    assert not any(f.startswith("s:") and f[2:] == "rocket" for f in got)
    assert features("one two three", Options(pairs=False, headline=False, stems=False)) == ["one", "two", "three"]
    assert features("a b c d", Options(limit=3)) == ["a", "b", "a b", "h:a", "h:b"]  # both read to `limit`


def test_veto_rescue_and_off() -> None:
    def rescued(tag: str, p: float, words: list[str]) -> Match:
        return Match(rule=f"{tag}.learned", tags=(tag,), score=p, title=" ".join(words))

    drill, parade, other = _match("d", "drill"), _match("p", "parade"), _match("x", "bench")
    # "beta" speaks for parade, against drill: the drill match is withdrawn, parade is kept, the match of a
    # tag the model does not know is never touched, and no tag is added that a match already carries
    v = _model().apply("beta beta", [drill, parade, other], rescued)
    assert [m.rule for m in v.matches] == ["p", "x"] and [m.rule for m in v.vetoed] == ["d"]
    assert v.probabilities["parade"] > 0.99 > 0.01 > v.probabilities["drill"]
    # no match at all: "beta" rescues parade (mode both) with the word that weighed as its evidence
    v = _model().apply("beta", [], rescued)
    assert [(m.rule, m.title) for m in v.matches] == [("parade.learned", "beta")] and not v.vetoed
    # a vetoed tag is not rescued back; veto mode never adds; off touches nothing and scores nothing
    assert _model(mode="veto").apply("beta", [], rescued).matches == []
    off = _model(mode="off").apply("beta", [drill], rescued)
    assert off.matches == [drill] and off.probabilities == {}
    # a text longer than the model reads (its limit, 1,500 characters) is never vetoed: the model saw only
    # its start; it may still add a tag
    long = _model().apply("beta " * 400, [drill], rescued)
    assert long.vetoed == () and [m.rule for m in long.matches] == ["d", "parade.learned"]
    assert [m.rule for m in _model().apply("beta " * 299, [drill], rescued).vetoed] == ["d"]  # 1,495
    # a match with a known and an unknown tag is kept whatever the model says
    mixed = _match("m", "drill", "bench")
    assert _model().apply("beta", [mixed], rescued).vetoed == ()


def test_a_mode_per_tag() -> None:
    def rescued(tag: str, p: float, words: list[str]) -> Match:
        return Match(rule=f"{tag}.learned", tags=(tag,))

    drill = _match("d", "drill")
    # off everywhere but parade: "beta" rescues parade; the drill match (its tag off) is not withdrawn
    m = _model(mode="off", tag_modes={"parade": "both"})
    assert m.active and m.mode_of("drill") == "off" and m.describe() == "off (parade: both)"
    v = m.apply("beta", [drill], rescued)
    assert [x.rule for x in v.matches] == ["d", "parade.learned"] and v.vetoed == ()
    # both everywhere but parade off: drill is withdrawn, parade is not added
    v = _model(tag_modes={"parade": "off"}).apply("beta", [drill], rescued)
    assert v.matches == [] and [x.rule for x in v.vetoed] == ["d"]
    # a match carrying both tags is withdrawn only when every tag's mode lets it: parade off keeps it
    both = _match("b", "drill", "parade")
    low = {"alpha": [1.0, 8.0, -8.0], "beta": [1.0, -8.0, 8.0], "gamma": [1.0, -8.0, -8.0]}  # gamma: neither
    assert [x.rule for x in _model(table=low).apply("gamma", [both], rescued).vetoed] == ["b"]
    assert _model(table=low, tag_modes={"parade": "off"}).apply("gamma", [both], rescued).vetoed == ()
    # every tag off is the check off: nothing scored
    quiet = _model(mode="both", tag_modes={"drill": "off", "parade": "off"})
    assert not quiet.active and quiet.apply("beta", [drill], rescued).probabilities == {}
    with pytest.raises(ModelInvalid, match="knows no tag bench"):
        _model(tag_modes={"bench": "both"})


def test_scorer_equals_scikit_learn(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="the scorer is checked against scikit-learn: pip install -e '.[train]'")
    from monitor.rules.learn import exported, fit

    rnd = random.Random(7)
    common = ["the", "of", "a", "in", "on", "and", "said", "officials", "today", "near", "city", "forces", "group", "report"]
    cue = {"drill": "drill exercise troops rehearsal", "parade": "parade march flags crowd"}
    texts, ys = [], [[], []]
    for _ in range(240):
        tags = [t for t in cue if rnd.random() < 0.4]
        words = [rnd.choice(common) for _ in range(rnd.randint(5, 40))]
        for t in tags:
            words += rnd.sample(cue[t].split(), 2)
        rnd.shuffle(words)
        head = " ".join(words[:4])
        texts.append(head + "\n" + " ".join(words[4:]) + " وبالقاعده")
        for k, t in enumerate(cue):
            ys[k].append(t in tags)
    options = Options()
    vec, models = fit(texts, ys, options, 4.0, 2)
    table, bias = exported(vec, models)
    path = tmp_path / "m.json.gz"
    write_model(path, tags=list(cue), bias=bias, veto=[0.3, 0.3], rescue=[0.8, 0.8], table=table,
                options=options, about={}, digits=17)
    model = LearnedModel.load(path)
    x = vec.transform(texts)
    for k, tag in enumerate(cue):
        want = models[k].predict_proba(x)[:, 1]
        got = [model.probabilities(t)[tag] for t in texts]
        assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-9
    # 8 significant digits (what `monitor rules learn` writes) moves no probability by more than 1e-6
    write_model(path, tags=list(cue), bias=bias, veto=[0.3, 0.3], rescue=[0.8, 0.8], table=table,
                options=options, about={})
    short = LearnedModel.load(path)
    assert max(abs(short.probabilities(t)["drill"] - model.probabilities(t)["drill"]) for t in texts) < 1e-6


def _folder(tmp_path: Path, learned: str | None, model: LearnedModel | None = None) -> Path:
    root = tmp_path / "rules"
    root.mkdir()
    (root / "drill.yaml").write_text(RULE, encoding="utf-8")
    (root / "parade.yaml").write_text(SECOND, encoding="utf-8")
    if model is not None:
        write_model(root / "model.json.gz", tags=model.tags, bias=model.bias, veto=model.veto,
                    rescue=model.rescue, table={f: (idf, *w) for f, (idf, w) in model.table.items()},
                    options=model.options, about={})
    if learned is not None:
        (root / "learned.yaml").write_text(learned, encoding="utf-8")
    return root


def test_engine_vetoes_and_rescues_with_evidence(tmp_path: Path) -> None:
    root = _folder(tmp_path, "learned:\n  model: model.json.gz\n  mode: both\n", _model())
    rs = load_rules(root)
    assert rs.learned is not None and rs.learned.mode == "both"
    # the rule matches "drill", the model (beta) says parade: the drill match is withdrawn, parade added
    a = rs.analyse(article_from({"id": "1", "title": "Drill and BETA", "content": "Crowd saw beta."}))
    assert [m.rule for m in a.vetoed] == ["drills.report"]
    (m,) = a.matches
    assert m.rule == "parade.learned" and m.tags == ("parade",) and m.severity == "low"
    assert m.score > 0.99 and m.rule_version == rs.learned.version
    (ev,) = m.evidence
    assert (ev.term, ev.matched, ev.field, ev.start, ev.end) == ("beta", "BETA", "title", 10, 14)
    # the same folder, the mode overridden (MONITOR_LEARNED): off is the rules alone, and another rule set
    assert load_rules(root, learned="off").source_hash != rs.source_hash
    off = load_rules(root, learned="off").analyse(article_from({"id": "1", "title": "Drill and BETA"}))
    assert [m.rule for m in off.matches] == ["drills.report"] and off.vetoed == () and off.probabilities == {}
    # a mode for one tag (the file's `tags`): parade off, so the drill match is withdrawn and nothing added
    (root / "learned.yaml").write_text("learned:\n  model: model.json.gz\n  mode: both\n  tags: {parade: off}\n")
    one = load_rules(root)
    assert one.learned is not None and one.learned.describe() == "both (parade: off)"
    a = one.analyse(article_from({"id": "1", "title": "Drill and BETA"}))
    assert a.matches == [] and [m.rule for m in a.vetoed] == ["drills.report"]
    # MONITOR_LEARNED overrides the tags' modes too
    assert load_rules(root, learned="both").learned.tag_modes == {}  # type: ignore[union-attr]
    (root / "learned.yaml").write_text("learned:\n  model: model.json.gz\n  mode: both\n")
    # examples (``only``) run the rules alone
    only = rs.analyse(article_from({"id": "1", "title": "Drill and beta"}), only=frozenset({"drills.report"}))
    assert [m.rule for m in only.matches] == ["drills.report"]


def test_a_rescue_needs_its_expression(tmp_path: Path) -> None:
    # parade is added only where a word of the needed list (or the plain term) occurs; drill has no needs
    lists = tmp_path / "rules" / "lists"
    root = _folder(tmp_path, "learned:\n  model: model.json.gz\n  rescue_needs:\n"
                             "    parade: {any: ['@crowds', 'marchers']}\n", _model())
    lists.mkdir()
    (lists / "crowds.yaml").write_text("list: crowds\nterms: [crowd, spectators]\n", encoding="utf-8")
    rs = load_rules(root)
    held = rs.analyse(article_from({"id": "1", "title": "beta beta", "content": "Nothing else here."}))
    assert held.matches == [] and held.unmet == frozenset({"parade"}) and held.probabilities["parade"] > 0.99
    for text in ("A crowd saw beta.", "Marchers and beta."):
        a = rs.analyse(article_from({"id": "2", "title": "beta", "content": text}))
        assert [m.rule for m in a.matches] == ["parade.learned"] and a.unmet == frozenset()
    # a rule's own match is never held back, nor vetoed for the needs
    own = rs.analyse(article_from({"id": "3", "title": "Parade and beta"}))
    assert [m.rule for m in own.matches] == ["parade.report"] and own.unmet == frozenset({"parade"})
    # the command line says so: `rules check` names the tags with needs, `match --explain` a held-back tag
    from monitor.cli import main

    runner = CliRunner()
    assert "rescue_needs for parade" in runner.invoke(main, ["rules", "check", str(root)]).output
    article = tmp_path / "a.jsonl"
    article.write_text(json.dumps({"id": "9", "title": "beta beta", "content": "Nothing else."}) + "\n")
    got = runner.invoke(main, ["match", "--rules", str(root), "--explain", str(article)])
    assert got.exit_code == 0 and "held back parade here" in got.output, got.output
    # ... only where the check would have added it: not under its threshold, not where a rule carries it
    for title in ("Nothing at all", "Parade and beta"):
        article.write_text(json.dumps({"id": "9", "title": title, "content": "Nothing else."}) + "\n")
        got = runner.invoke(main, ["match", "--rules", str(root), "--explain", str(article)])
        assert got.exit_code == 0 and "learned check (" in got.output and "held back" not in got.output, got.output
    # and `rules eval` marks the miss it caused (text and JSON)
    labelled = tmp_path / "l.jsonl"
    labelled.write_text(json.dumps({"id": "9", "title": "beta beta", "content": "Nothing else.",
                                    "labels": ["parade"]}) + "\n")
    got = runner.invoke(main, ["rules", "eval", "--rules", str(root), str(labelled)])
    assert "would have added parade, but its rescue_needs did not hold" in got.output, got.output
    doc = json.loads(runner.invoke(main, ["rules", "eval", "--rules", str(root), "--json", str(labelled)]).output)
    assert [(e["kind"], e["tag"], e["held_back"]) for e in doc["errors"]] == [("fn", "parade", True)]
    # the needs are part of the rule set's identity
    (root / "learned.yaml").write_text("learned:\n  model: model.json.gz\n", encoding="utf-8")
    assert load_rules(root).source_hash != rs.source_hash


@pytest.mark.parametrize(("needs", "message", "line"), [
    ("    bench: [crowd]\n", "rescue_needs names `bench`, a tag the model does not know", 4),
    ("    parade: ['@nowhere']\n", "unknown list `@nowhere`", 4),
    ("    parade: {near: [crowd]}\n", "near", 4),
])
def test_rescue_needs_errors(tmp_path: Path, needs: str, message: str, line: int) -> None:
    root = _folder(tmp_path, "learned:\n  model: model.json.gz\n  rescue_needs:\n" + needs, _model())
    with pytest.raises(RulesInvalid) as exc:
        load_rules(root)
    (err,) = exc.value.errors
    assert err.file.endswith("learned.yaml") and err.line == line and message in err.message, err


def test_training_counts_a_rescue_only_where_its_needs_hold() -> None:
    from monitor.rules.learn import NEVER, choose, figures

    truth = [True, True, False, False]
    rules = [False, False, False, False]
    probs = [0.9, 0.9, 0.9, 0.1]
    # without needs the third item's rescue is a false alarm; held back where the needs fail, it is not
    assert figures(truth, rules, probs, 0.0, 0.8).as_dict()["fp"] == 1
    assert figures(truth, rules, probs, 0.0, 0.8, [True, True, False, True]).as_dict()["fp"] == 0
    assert figures(truth, rules, probs, 0.0, NEVER).as_dict()["tp"] == 0
    # and the thresholds are chosen on the calls the check would make
    assert choose(truth, rules, probs, [True, True, False, True])[1] < NEVER


@pytest.mark.parametrize(("text", "model", "message"), [
    ("learned:\n  model: nowhere.json.gz\n", False, "cannot read the model"),
    ("learned:\n  model: model.json.gz\n  mode: always\n", True, "learned.mode"),
    ("learned:\n  model: model.json.gz\n  mode: on\n", True, "learned.mode"),
    ("learned:\n  mode: both\n", True, "missing required key `learned.model`"),
    ("learned:\n  model: model.json.gz\n  typo: 1\n", True, "unknown key `typo`"),
    ("learned:\n  model: model.json.gz\n  tags:\n    drill: sometimes\n", True, "learned.tags.drill"),
    ("learned:\n  model: model.json.gz\n  tags:\n    bench: both\n", True, "the model knows no tag bench"),
])
def test_learned_file_errors(tmp_path: Path, text: str, model: bool, message: str) -> None:
    root = _folder(tmp_path, text, _model() if model else None)
    with pytest.raises(RulesInvalid) as exc:
        load_rules(root)
    (err,) = exc.value.errors
    assert err.file.endswith("learned.yaml") and err.line is not None and message in err.message


def test_a_broken_or_second_model_is_an_error(tmp_path: Path) -> None:
    root = _folder(tmp_path, "learned:\n  model: model.json.gz\n", _model())
    (root / "again.yaml").write_text("learned:\n  model: model.json.gz\n", encoding="utf-8")
    with pytest.raises(RulesInvalid, match="a second learned check"):
        load_rules(root)
    (root / "again.yaml").unlink()
    (root / "model.json.gz").write_bytes(gzip.compress(b'{"format": 1, "tags": ["drill"]}'))
    with pytest.raises(RulesInvalid, match="not a model file"):
        load_rules(root)
    (root / "model.json.gz").write_bytes(b"not gzip")
    with pytest.raises(RulesInvalid, match="cannot read the model"):
        load_rules(root)
    with pytest.raises(ModelInvalid, match="format"):
        LearnedModel.from_json({"format": 9})


def test_cli_learn_then_eval(tmp_path: Path) -> None:
    pytest.importorskip("sklearn", reason="training needs scikit-learn: pip install -e '.[train]'")
    from monitor.cli import main

    root = _folder(tmp_path, None)
    rnd = random.Random(3)
    lines = []
    for n in range(120):
        drill, parade = n % 3 == 0, n % 4 == 0
        words = [rnd.choice(["the", "city", "said", "today", "officials", "near"]) for _ in range(12)]
        words += ["exercise", "troops"] if drill else []
        words += ["march", "flags"] if parade else []
        words += ["drill"] if n % 5 == 0 else []  # the rule's own word, often on the wrong articles
        rnd.shuffle(words)
        lines.append({"id": str(n), "title": " ".join(words[:5]), "content": " ".join(words[5:]),
                      "labels": [t for t, on in (("drill", drill), ("parade", parade)) if on]})
    data = tmp_path / "fresh.jsonl"
    data.write_text("\n".join(json.dumps(x) for x in lines), encoding="utf-8")
    runner = CliRunner()
    out = root / "learned" / "model.json.gz"
    got = runner.invoke(main, ["rules", "learn", "--rules", str(root), "--out", str(out), "--json", str(data)])
    assert got.exit_code == 0, got.output
    doc = json.loads(got.output.strip().splitlines()[-1])
    assert doc["tags"] == ["drill", "parade"] and doc["articles"] == 120 and out.exists()
    assert doc["cv"]["parade"]["rules"]["recall"] == 0.0 < doc["cv"]["parade"]["both"]["recall"]
    # one number per kind to compare runs: the mean over tags of the figures' F1
    for kind in ("rules", "veto", "both"):
        f1s = [2 * c["tp"] / (2 * c["tp"] + c["fp"] + c["fn"]) for c in (doc["cv"][t][kind] for t in doc["tags"])]
        assert doc["cv_mean_f1"][kind] == pytest.approx(sum(f1s) / len(f1s), abs=1e-4)
    assert doc["cv_mean_f1"]["both"] > doc["cv_mean_f1"]["rules"]
    text = runner.invoke(main, ["rules", "learn", "--rules", str(root), "--out", str(out), str(data)])
    assert text.exit_code == 0 and f"both {doc['cv_mean_f1']['both']:.4f}" in text.output, text.output
    (root / "learned.yaml").write_text("learned:\n  model: learned/model.json.gz\n", encoding="utf-8")
    scores = {}
    for mode in ("off", "both"):
        got = runner.invoke(main, ["rules", "eval", "--rules", str(root), "--learned", mode, "--json", str(data)])
        assert got.exit_code == 0, got.output
        doc = json.loads(got.output)
        assert doc["learned"] == mode
        scores[mode] = doc["scores"]
    assert scores["off"]["parade"]["all"]["tp"] == 0 < scores["both"]["parade"]["all"]["tp"]
    got = runner.invoke(main, ["rules", "check", str(root)])
    assert got.exit_code == 0 and "learned check: mode both" in got.output
    # a tag's own mode: the file's `tags`, shown by `rules check` and in eval's JSON
    (root / "learned.yaml").write_text("learned:\n  model: learned/model.json.gz\n  mode: off\n"
                                       "  tags: {parade: both}\n", encoding="utf-8")
    got = runner.invoke(main, ["rules", "check", str(root)])
    assert got.exit_code == 0 and "learned check: mode off (parade: both)" in got.output
    doc = json.loads(runner.invoke(main, ["rules", "eval", "--rules", str(root), "--json", str(data)]).output)
    assert doc["learned"] == "off" and doc["learned_tags"] == {"parade": "both"}
    assert doc["scores"]["parade"]["all"]["tp"] == scores["both"]["parade"]["all"]["tp"]
    got = runner.invoke(main, ["rules", "learn", "--rules", str(root), "--out", str(out), str(tmp_path / "x")])
    assert got.exit_code != 0
    few = tmp_path / "few.jsonl"
    few.write_text("\n".join(json.dumps(x) for x in lines[:20]), encoding="utf-8")
    got = runner.invoke(main, ["rules", "learn", "--rules", str(root), "--out", str(out), str(few)])
    assert got.exit_code == 1 and "too few labelled articles" in got.output


def test_a_bare_off_in_yaml_is_off(tmp_path: Path) -> None:
    """YAML 1.1 reads `off` as false: the learned file takes it as the mode it looks like."""
    rs = load_rules(_folder(tmp_path, "learned:\n  model: model.json.gz\n  mode: off\n", _model()))
    assert rs.learned is not None and rs.learned.mode == "off"
    a = rs.analyse(article_from({"id": "1", "title": "Drill and beta"}))
    assert [m.rule for m in a.matches] == ["drills.report"] and a.probabilities == {}


def test_the_watcher_reloads_a_new_model(tmp_path: Path) -> None:
    from monitor.rules import RuleWatcher

    root = _folder(tmp_path, "learned:\n  model: model.json.gz\n", _model())
    first = load_rules(root)
    watcher = RuleWatcher(root, loaded=first)
    assert watcher.poll() is None
    newer = _model(veto=0.1)
    write_model(root / "model.json.gz", tags=newer.tags, bias=newer.bias, veto=newer.veto, rescue=newer.rescue,
                table={f: (idf, *w) for f, (idf, w) in newer.table.items()}, options=newer.options,
                about={"trained": "later"})
    got = watcher.poll()
    assert got is not None and got.learned is not None and first.learned is not None
    assert got.learned.veto == (0.1, 0.1) and got.learned.version != first.learned.version
    assert got.source_hash != first.source_hash
