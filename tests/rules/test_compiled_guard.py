"""The compiled rule evaluator (setup.py) and its guards: ``MONITOR_PURE_PYTHON=1`` and a stale build both
run the ``.py`` sources, with the same matches as the compiled modules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from monitor.rules.compiled import evaluator_compiled

ROOT = Path(__file__).resolve().parents[2]

MATCH_SEEDS = """
import json, sys
from pathlib import Path
import monitor.rules as r
from monitor.models import Article
rs = r.load_rules(Path("rules"))
out = {}
for p in sorted(Path("seeds").glob("*.txt")):
    text = p.read_text(encoding="utf-8")
    ms = rs.match(Article(id=p.stem, title=text.split(chr(10), 1)[0], content=text))
    out[p.stem] = [m.model_dump(mode="json") for m in ms]
import monitor.rules.expr as e, monitor.rules.engine as g
print(json.dumps({"core": r.matcher_core(), "stale": r.STALE, "files": [e.__file__, g.__file__], "out": out}))
"""

# every example of every shipped rule alone, and mixed with others and with seed paragraphs (seeded)
MATCH_MIXES = """
import json, random
from pathlib import Path
import monitor.rules as r
from monitor.models import Article
rs = r.load_rules(Path("rules"))
texts = []
for rule in rs.rules:
    for ex in (*rule.examples.positive, *rule.examples.negative) if rule.examples else ():
        texts.append(ex if isinstance(ex, str) else chr(10).join((ex.title, ex.summary, ex.content)))
paras = [p for f in sorted(Path("seeds").glob("*.txt")) for p in f.read_text(encoding="utf-8").split(chr(10)) if p]
rnd = random.Random(12)
arts = [Article(id=f"e{i}", content=t) for i, t in enumerate(texts)]
for i in range(300):
    parts = rnd.sample(texts, 3) + rnd.sample(paras, 4)
    rnd.shuffle(parts)
    arts.append(Article(id=f"m{i}", title=parts[0][:100], content=chr(10).join(parts[1:])))
out = {a.id: [m.model_dump(mode="json") for m in rs.match(a)] for a in arts}
print(json.dumps({"core": r.matcher_core(), "out": out}))
"""

# a rule for every node kind and evaluation path (term, list, any, all, none, field, source, language,
# near of two and of three items, sentence with an excluded item, quantity, regex with and without its
# prefilters, score), on seeded articles made of their words, with sources and tags: run compiled and
# as the pure-Python sources, the matches must be the same
KINDS = {
    "near2": {"near": ["@weapons", "@bases"], "within": 6},
    "near3": {"near": ["@weapons", "@attack_verbs", "@bases"], "within": 12},
    "sentence": {"sentence": ["@attack_verbs", "@bases", {"none": ["exercise", {"regex": "\\bdrill\\w*"}]}]},
    "quantity": {"all": [{"quantity": {"of": "@weapons", "min": 2, "max": 20}}, "@bases"]},
    "regex": {"regex": "\\b(?:rocket|missile)s? (?:hit|struck)\\b"},
    "regex-start": {"regex": "^breaking"},
    "regex-plain": {"regex": "[0-9]+ (?:rockets|drones)"},
    # no opening-word terms (a branch without \\b): tried at its literal openings' occurrences
    "regex-openings": {"regex": "(?:rocket|missile)s? (?:hit|struck)|\\bconvoy\\w*"},
    # a field scope and more than FEW_IDS terms: the compiled ``TermNode.holds`` walks the ids' bytes
    "field-many": {"all": [{"field": "title", "any": ["convoy", "patrol", "camp", "base", "near", "three",
                                                      "exercise", "yesterday", "attack", "two"]}, "@weapons"]},
    "source": {"all": [{"source": {"names": ["Wire A"], "tags": ["iraq"]}}, "@weapons"]},
    "language": {"all": [{"language": ["en"]}, {"none": ["@bases"]}, "@attack_verbs"]},
    "field": {"field": "title", "any": ["@weapons", "convoy"]},
    "nested": {"all": [{"any": [{"near": ["@weapons", "convoy"], "within": 4}, "@bases"]},
                       {"none": [{"sentence": ["exercise", "@weapons"]}, "Russian base"]}]},
    "terms": ["convoy", "patrol", "Ain al-Asad"],
}
WORDS = ["rocket", "rockets", "missile", "drone", "drones", "hit", "struck", "targeted", "Ain al-Asad",
         "Harir", "Victory base", "Russian base", "convoy", "patrol", "exercise", "drilling", "three", "4",
         "12", "the", "a", "near", "camp", "Breaking", "attack", "base", "two", "yesterday"]

MATCH_KINDS = """
import json, os, random
from pathlib import Path
import monitor.rules as r
from monitor.models import Article
words = json.loads(os.environ["KIND_WORDS"])
rs = r.load_rules(Path(os.environ["KIND_RULES"]))
rnd = random.Random(5)
out = {}
for i in range(400):
    sents = [" ".join(rnd.choice(words) for _ in range(rnd.randint(3, 12))) for _ in range(rnd.randint(1, 6))]
    art = Article(id=f"k{i}", title=sents[0], content=". ".join(sents[1:]) + ".",
                  source=rnd.choice(["Wire A", "wire a", "Other"]), tags=tuple(rnd.sample(["iraq", "syria"], rnd.randint(0, 2))))
    out[art.id] = [m.model_dump(mode="json") for m in rs.match(art)]
print(json.dumps({"core": r.matcher_core(), "out": out}))
"""


def _kinds_folder(tmp: Path) -> Path:
    import shutil

    import yaml

    folder = tmp / "kinds"
    shutil.copytree(ROOT / "tests/rules/fixtures/basic/lists", folder / "lists")
    for name, match in KINDS.items():
        rule = {"id": f"kind-{name}", "version": "1", "title": name, "description": "every node kind",
                "severity": "low", "tags": ["kinds"], "languages": ["ar", "en"], "match": match}
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(rule, allow_unicode=True), encoding="utf-8")
    scored = {"id": "kind-score", "version": "1", "title": "score", "description": "score terms",
              "severity": "low", "tags": ["kinds"], "languages": ["en"],
              "score": {"threshold": 3, "terms": [{"term": "@weapons", "weight": 2}, {"term": "@bases", "weight": 1},
                                                   {"term": "exercise", "weight": -2}]}}
    (folder / "score.yaml").write_text(yaml.safe_dump(scored), encoding="utf-8")
    return folder


needs_build = pytest.mark.skipif(
    not evaluator_compiled(),
    reason="the rule evaluator is not compiled here: install a C compiler (gcc) and `pip install -e .`",
)


def _run(code: str, **env: str) -> dict:
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                       env={**os.environ, **env})
    assert r.returncode == 0, r.stderr
    return {**json.loads(r.stdout.strip().splitlines()[-1]), "stderr": r.stderr}


@needs_build
def test_pure_python_runs_the_sources_with_the_same_matches() -> None:
    compiled = _run(MATCH_SEEDS)
    pure = _run(MATCH_SEEDS, MONITOR_PURE_PYTHON="1")
    assert compiled["core"] == "compiled" and pure["core"] == "python"
    assert all(f.endswith(".so") for f in compiled["files"])
    assert all(f.endswith(".py") for f in pure["files"])
    assert pure["out"] == compiled["out"]
    assert any(compiled["out"].values())  # the seeds do match something (001, 003)


@needs_build
def test_compiled_and_pure_python_agree_on_examples_and_mixed_articles() -> None:
    compiled = _run(MATCH_MIXES)
    pure = _run(MATCH_MIXES, MONITOR_PURE_PYTHON="1")
    assert compiled["core"] == "compiled" and pure["core"] == "python"
    assert pure["out"] == compiled["out"]
    assert sum(1 for ms in compiled["out"].values() if ms) > 100  # plenty of matches to compare


@needs_build
def test_a_stale_build_runs_the_sources_and_says_so() -> None:
    # a build record that no source matches: as after editing the sources without rebuilding
    fake = ("import sys, types; m = types.ModuleType('monitor.rules._built'); "
            "m.SOURCES = {'monitor.rules.expr': 'x', 'monitor.rules.positional': 'x', 'monitor.rules.engine': 'x'}; "
            "sys.modules['monitor.rules._built'] = m\n")
    got = _run(fake + MATCH_SEEDS)
    assert got["stale"] == ["expr", "positional", "engine"]
    assert got["core"] == "partial"
    assert all(f.endswith(".py") for f in got["files"])
    assert "does not match the source" in got["stderr"] and "pip install -e ." in got["stderr"]
    assert got["out"] == _run(MATCH_SEEDS)["out"]


@needs_build
def test_compiled_and_pure_python_agree_on_every_node_kind(tmp_path: Path) -> None:
    env = {"KIND_RULES": str(_kinds_folder(tmp_path)), "KIND_WORDS": json.dumps(WORDS)}
    compiled = _run(MATCH_KINDS, **env)
    pure = _run(MATCH_KINDS, MONITOR_PURE_PYTHON="1", **env)
    assert compiled["core"] == "compiled" and pure["core"] == "python"
    assert pure["out"] == compiled["out"]
    fired = {m["rule"] for ms in compiled["out"].values() for m in ms}
    assert fired == {f"kind-{k}" for k in (*KINDS, "score")}  # every kind holds somewhere, not just nowhere


@needs_build
def test_one_stale_module_sends_all_three_to_their_sources() -> None:
    # the compiled modules share extension types (expr.pxd, positional.pxd): a compiled engine or
    # positional on top of expr.py would not import, so one stale source means all run from source
    fake = ("import sys, types; from pathlib import Path; ns = {}; "
            "exec(Path('monitor/rules/_built.py').read_text(), ns); s = dict(ns['SOURCES']); "
            "s['monitor.rules.positional'] = 'x'; m = types.ModuleType('monitor.rules._built'); m.SOURCES = s; "
            "sys.modules['monitor.rules._built'] = m\n")
    got = _run(fake + MATCH_SEEDS)
    assert got["stale"] == ["positional"]
    assert got["core"] == "partial"
    assert all(f.endswith(".py") for f in got["files"])
    assert got["out"] == _run(MATCH_SEEDS)["out"]


@needs_build
def test_compiled_missing_reads_the_codes_as_the_sets_say() -> None:
    # ``missing`` with ``needs_codes`` (bytes walked in C) against the plain set test, on random sets and
    # hits: ids sharing a byte, ids past the article's highest hit, extra (regex prefilter) hits
    import random

    from monitor.models import Article
    from monitor.rules.expr import Ctx, missing, needs_codes

    rnd = random.Random(5)
    article = Article(id="x", title="t")
    for _ in range(3000):
        top = rnd.choice([8, 40, 3000, 600_000])
        hits = {rnd.randrange(top): [(0, 0, 1)] for _ in range(rnd.randrange(6))}
        extra = {rnd.randrange(top): [(0, 0, 1)] for _ in range(rnd.randrange(3))}
        ctx = Ctx(["t"], hits, article, "en", extra)
        sets = tuple(frozenset(rnd.randrange(top) for _ in range(rnd.randrange(1, 12)))
                     for _ in range(rnd.randrange(1, 4)))
        want = any(s.isdisjoint(hits) and s.isdisjoint(extra) for s in sets)
        codes = needs_codes(sets)
        assert codes == () or len(codes) == len(sets)
        assert codes != () or max(max(s) for s in sets) >> 3 > 0xFFFF  # only ids past two bytes of index
        assert missing(sets, ctx, codes) is want
        assert missing(sets, ctx) is want


# the boolean first pass (``Node.holds``, ``Node.where``: no evidence built) against the evidence pass
# (``Node.run``) on random rules of every node kind and random articles: in each process, every node's
# ``holds`` is ``run(...) is not None`` and its ``where`` the sentences of ``run``'s evidence; compiled and
# pure Python, the decisions and the matches are the same
MATCH_FIRST_PASS = """
import json, os, random
from pathlib import Path
import yaml
import monitor.rules as r
from monitor.models import Article
from monitor.rules.expr import AnyNode, Ctx, FieldNode
from bisect import bisect_right
from monitor.rules.positional import QuantityNode
from monitor.text.folding import normalize
from monitor.text.segment import sentence_starts

words = json.loads(os.environ["KIND_WORDS"])
folder = Path(os.environ["KIND_RULES"])
rnd = random.Random(11)
many = ["convoy", "patrol", "camp", "base", "near", "three", "exercise", "yesterday", "attack", "two"]
regexes = ["\\\\b(?:rocket|missile)s? (?:hit|struck)\\\\b", "\\\\bdrill\\\\w*", "^breaking", "[0-9]+ (?:rockets|drones)",
           "\\\\b(?:three|two) \\\\w+", "(?:rocket|missile)s? (?:hit|struck)|\\\\bconvoy\\\\w*"]


def leaf():
    k = rnd.random()
    if k < 0.45:
        return rnd.choice(["@weapons", "@bases", "@attack_verbs", *words])
    if k < 0.6:
        return rnd.sample(many, rnd.randint(2, len(many)))  # sibling terms: one node, many ids
    if k < 0.75:
        return {"regex": rnd.choice(regexes)}
    if k < 0.82:
        return {"quantity": {"of": rnd.choice(["@weapons", "rockets", "drones"]), "min": 2}}
    if k < 0.9:
        return {"language": [rnd.choice(["en", "ar"])]}
    return {"source": {"names": ["Wire A"]}}


def node(depth):
    if depth <= 0 or rnd.random() < 0.3:
        return leaf()
    k = rnd.randrange(6)
    items = [node(depth - 1) for _ in range(rnd.randint(2, 3))]
    if k == 0:
        return {"any": items}
    if k == 1:
        return {"all": [*items, {"none": [node(depth - 1)]}] if rnd.random() < 0.5 else items}
    if k == 2:
        return {"sentence": [*items, {"none": [node(depth - 1), node(depth - 1)]}] if rnd.random() < 0.6 else items}
    if k == 3:
        return {"near": items, "within": rnd.randint(1, 8)}
    if k == 4:
        return {"field": rnd.choice(["title", "content"]), "any": items}
    return {"all": [items[0], {"none": items[1:]}]}


for i in range(60):
    rule = {"id": f"rnd-{i}", "version": "1", "title": "random", "description": "random rule", "severity": "low",
            "tags": ["rnd"], "match": node(3)}
    (folder / f"rnd{i}.yaml").write_text(yaml.safe_dump(rule, allow_unicode=True), encoding="utf-8")
rs = r.load_rules(folder)


def walk(n, seen):
    if id(n) in seen:
        return
    seen[id(n)] = n
    for c in (n.children if isinstance(n, AnyNode) else [n.child] if isinstance(n, FieldNode)
              else [n.of] if isinstance(n, QuantityNode) else []):
        walk(c, seen)


nodes = {}
for rule in rs.rules:
    if rule.expr is not None:
        walk(rule.expr, nodes)
decisions = []
checked = 0
for i in range(250):
    sents = [" ".join(rnd.choice(words + many) for _ in range(rnd.randint(3, 12))) for _ in range(rnd.randint(1, 8))]
    art = Article(id=f"k{i}", title=sents[0], content=". ".join(sents[1:]) + ".", source=rnd.choice(["Wire A", "Other"]))
    texts = [normalize(t).text for t in (art.title, art.summary, art.content)]
    hits = {}
    for f, t in enumerate(texts):
        if t:
            n = normalize((art.title, art.summary, art.content)[f])
            rs._table.scan_field(n.text, n.mask, f, hits)
    late = rs._table.late
    extra = {tid: hits.pop(tid) for tid in late.intersection(hits)} if late else {}
    first = Ctx(texts, hits, art, "en", extra)   # the boolean pass only
    full = Ctx(texts, hits, art, "en", extra)    # the evidence pass only
    for rule in rs.rules:
        if rule.expr is None:
            continue
        held = rule.expr.holds(first, rule.scope)
        assert held == (rule.expr.run(full, rule.scope) is not None), (rule.id, art.id)
        decisions.append(held)
    for n in nodes.values():
        for scope in (frozenset((0, 1, 2)), frozenset((2,))):
            w = n.where(first, scope)
            got = n.run(full, scope)
            assert (w is None) == (got is None), (n, art.id)
            if got is not None:
                keys = {(f << 32) + bisect_right(sentence_starts(texts[f]), a) - 1 for f, a, *_ in got}
                assert first.sentence_keys(w) == sorted(keys), (n, art.id)
            checked += 1
out = {a: [m.model_dump(mode="json") for m in rs.match(Article(id=a, title=t, content=c))]
       for a, t, c in [(f"m{j}", "Breaking: two rockets hit Harir", "drones struck the convoy. 3 rockets hit Ain al-Asad.")
                       for j in range(3)]}
print(json.dumps({"core": r.matcher_core(), "decisions": decisions, "checked": checked, "held": sum(decisions),
                  "out": out}))
"""


@needs_build
def test_the_first_pass_decides_as_the_evidence_pass_compiled_and_pure(tmp_path: Path) -> None:
    folder = _kinds_folder(tmp_path)
    env = {"KIND_RULES": str(folder), "KIND_WORDS": json.dumps(WORDS)}
    compiled = _run(MATCH_FIRST_PASS, **env)
    pure = _run(MATCH_FIRST_PASS, MONITOR_PURE_PYTHON="1", **env)
    assert compiled["core"] == "compiled" and pure["core"] == "python"
    assert pure["decisions"] == compiled["decisions"]
    assert pure["out"] == compiled["out"]
    assert compiled["checked"] > 10_000
    assert 0 < compiled["held"] < len(compiled["decisions"])  # rules that hold and rules that do not
