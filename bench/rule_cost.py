"""Where the matcher's time goes, rule by rule and node by node: the costliest rules and nodes of a rules folder.

Usage: ``.venv/bin/python bench/rule_cost.py [--rules DIR] [--articles FILE.jsonl] [--top 15] [--json]``

The articles are the corpus of ``bench/rules.py`` (made from the folder's own examples among news paragraphs)
or, with ``--articles``, a JSON Lines file (the ``monitor match`` input fields, or ``title`` and ``text``).
Two passes over them:

1. **Rules** (the matcher as installed, compiled when built): each evaluated rule's time, split into the
   boolean first pass (``Node.holds`` of its ``match``) and the evidence pass of the rules that hold (the
   rest of ``RuleSet._evaluate``), as a share of the whole ``analyse`` time (text pipeline and scan
   included), with how often the presearcher let it through and how often it matched.
2. **Nodes** (a child process on the pure-Python reference, ``MONITOR_PURE_PYTHON=1``, where each node
   method is a Python frame): a ``sys.setprofile`` hook charges the time of every ``eval``/``run``/
   ``holds``/``where`` call (and the helpers they call) to the node it runs on, *self* time (its children's
   own calls excluded) and *inclusive* time, as shares of the profiled ``analyse`` time. A node shared by
   several rules (equal sub-expressions are evaluated once per article) is listed once with the rules
   holding it and the path of its first occurrence. The profiler adds a fixed cost per call, so nodes
   called very often read somewhat costlier than compiled; the order is what to read.

What to do with the answer is in ``docs/rules.md`` ("Performance").
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.models import Article  # noqa: E402
from monitor.rules import load_rules, matcher_core  # noqa: E402
from monitor.rules.engine import RuleSet, article_from  # noqa: E402

_METHODS = frozenset({"eval", "run", "holds", "where", "_holds", "_where", "_sentences", "_pair", "spans",
                      "_at_hits", "_needed"})


def articles_from(path: Path | None, rules: Path) -> list[Article]:
    """The articles of ``path`` (JSON Lines), or the corpus of ``bench/rules.py`` for ``rules``."""
    if path is None:
        spec = importlib.util.spec_from_file_location("bench_rules", ROOT / "bench" / "rules.py")
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod.corpus(rules=rules)  # type: ignore[no-any-return]
    out = []
    for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        row = row.get("article", row)
        if "text" in row and "content" not in row:
            row = {**row, "content": row["text"]}
        out.append(article_from({"url": "https://example.org/a", "source": "file", **row}, default_id=f"a{i}"))
    return out


def describe(node: Any) -> str:
    """A short label for a node: its kind and what tells it apart."""
    kind = type(node).__name__.removesuffix("Node").lower()
    if kind == "term":
        return f"term {node.label!r} ({len(node.ids)} ids)"
    if kind == "regex":
        return f"regex /{node.pattern[:70]}/"
    if kind == "near":
        return f"near within {node.within}, {len(node.children)} items"
    if kind == "sentence":
        return f"sentence, {len(node.items)} items, {len(node.excluded)} exclusions"
    if kind == "field":
        return "field " + ",".join(("title", "summary", "content")[f] for f in sorted(node.fields))
    if kind == "quantity":
        return f"quantity {node.min}..{node.max}"
    if kind in ("all", "any", "none"):
        return f"{kind} of {len(node.children)}"
    return kind


def children(node: Any) -> list[Any]:
    if hasattr(node, "children"):
        return list(node.children)
    if hasattr(node, "child"):
        return [node.child]
    if hasattr(node, "of"):
        return [node.of]
    return []


def node_index(rs: RuleSet) -> tuple[dict[int, list[str]], dict[int, str], dict[int, Any]]:
    """For every node (by ``id``): the rules holding it, the path of its first occurrence, the node."""
    owners: dict[int, list[str]] = defaultdict(list)
    paths: dict[int, str] = {}
    nodes: dict[int, Any] = {}

    def walk(node: Any, rule: str, path: str) -> None:
        if rule not in owners[id(node)]:
            owners[id(node)].append(rule)
        paths.setdefault(id(node), path)
        nodes[id(node)] = node
        for i, c in enumerate(children(node)):
            walk(c, rule, f"{path}.{type(c).__name__.removesuffix('Node').lower()}[{i}]")

    for rule in rs.rules:
        if rule.expr is not None:
            walk(rule.expr, rule.id, f"{rule.id}:{type(rule.expr).__name__.removesuffix('Node').lower()}")
        for k, (term, _) in enumerate(rule.score_terms):
            walk(term, rule.id, f"{rule.id}:score[{k}]")
    return owners, paths, nodes


def rule_costs(rs: RuleSet, articles: list[Article], rounds: int) -> dict[str, Any]:
    """Pass 1: per rule, first pass and evidence pass time (fastest round per article and rule)."""
    first: dict[str, float] = defaultdict(float)
    evidence: dict[str, float] = defaultdict(float)
    seen: dict[str, int] = defaultdict(int)
    matched: dict[str, int] = defaultdict(int)
    clock = time.perf_counter
    orig = rs._evaluate
    cur: dict[str, float] = {}

    def timed(rule: Any, ctx: Any, norms: Any, raw: Any) -> Any:
        t0 = clock()
        # the first pass, memoised on ``ctx``: ``_evaluate`` asks it again below at the cost of a look-up
        if rule.expr is not None:
            rule.expr.holds(ctx, rule.scope)
        t1 = clock()
        got = orig(rule, ctx, norms, raw)
        t2 = clock()
        cur[rule.id + "\0f"] = cur.get(rule.id + "\0f", 0.0) + t1 - t0
        cur[rule.id + "\0e"] = cur.get(rule.id + "\0e", 0.0) + t2 - t1
        cur[rule.id + "\0m"] = 1.0 if got is not None else 0.0
        return got

    rs._evaluate = timed  # type: ignore[method-assign]
    total = 0.0
    try:
        for art in articles:
            best: dict[str, float] | None = None
            best_t = float("inf")
            for _ in range(rounds):
                cur.clear()
                t0 = clock()
                rs.analyse(art)
                dt = clock() - t0
                if dt < best_t:
                    best_t, best = dt, dict(cur)
            total += best_t
            assert best is not None
            for key, v in best.items():
                rid, what = key.split("\0")
                if what == "f":
                    first[rid] += v
                    seen[rid] += 1
                elif what == "e":
                    evidence[rid] += v
                else:
                    matched[rid] += int(v)
    finally:
        del rs._evaluate
    rows: list[dict[str, Any]] = [{"rule": r, "evaluated": seen[r], "matched": matched[r], "first_pass_share": first[r] / total,
             "evidence_share": evidence[r] / total, "share": (first[r] + evidence[r]) / total} for r in seen]
    rows.sort(key=lambda x: -x["share"])
    return {"articles": len(articles), "analyse_s": total, "us_per_article": total / len(articles) * 1e6,
            "rules_share": sum(x["share"] for x in rows), "rules": rows}


def node_costs(rs: RuleSet, articles: list[Article]) -> dict[str, Any]:
    """Pass 2 (pure Python): self and inclusive time per node, by a profile hook on the node methods."""
    from monitor.rules.expr import Node

    owners, paths, nodes = node_index(rs)
    incl: dict[int, float] = defaultdict(float)
    excl: dict[int, float] = defaultdict(float)
    calls: dict[int, int] = defaultdict(int)
    stack: list[list[Any]] = []  # [frame, node id, start, children's time]
    clock = time.perf_counter

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event == "call":
            if frame.f_code.co_name in _METHODS:
                node = frame.f_locals.get("self")
                if isinstance(node, Node):
                    stack.append([frame, id(node), clock(), 0.0])
        elif event == "return" and stack and stack[-1][0] is frame:
            _, nid, t0, child = stack.pop()
            dt = clock() - t0
            parent = stack[-1] if stack else None
            if parent is not None and parent[1] == nid:  # the same node (run -> eval): the outer call counts it
                parent[3] += child
                return
            incl[nid] += dt
            excl[nid] += dt - child
            calls[nid] += 1
            if parent is not None:
                parent[3] += dt

    total = 0.0
    for art in articles:
        sys.setprofile(hook)
        t0 = clock()
        try:
            rs.analyse(art)
        finally:
            sys.setprofile(None)
        total += clock() - t0
        stack.clear()
    rows: list[dict[str, Any]] = [{"node": describe(nodes[n]), "kind": type(nodes[n]).__name__, "path": paths.get(n, "?"),
             "rules": owners.get(n, []), "calls": calls[n], "self_share": excl[n] / total,
             "inclusive_share": incl[n] / total} for n in calls if n in nodes]
    rows.sort(key=lambda x: -x["self_share"])
    kinds: dict[str, float] = defaultdict(float)
    for row in rows:
        kinds[row["kind"]] += row["self_share"]
    return {"profiled_s": total, "nodes_share": sum(x["self_share"] for x in rows),
            "kinds": dict(sorted(kinds.items(), key=lambda kv: -kv[1])), "nodes": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rules", type=Path, default=ROOT / "rules")
    ap.add_argument("--articles", type=Path, help="JSON Lines of articles (default: the bench/rules.py corpus)")
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=3, help="rounds per article of the rules pass (fastest kept)")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--nodes-child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    rs = load_rules(args.rules)
    articles = articles_from(args.articles, args.rules)
    if args.nodes_child:
        print(json.dumps(node_costs(rs, articles)))
        return
    for art in articles[:20]:  # warm caches (regex compilation, first-use tables)
        rs.analyse(art)
    rules = rule_costs(rs, articles, args.rounds)
    cmd = [sys.executable, __file__, "--rules", str(args.rules), "--nodes-child"]
    if args.articles:
        cmd += ["--articles", str(args.articles)]
    child = subprocess.run(cmd, env={**os.environ, "MONITOR_PURE_PYTHON": "1"}, capture_output=True, text=True,
                           check=True)
    nodes = json.loads(child.stdout)
    out = {"core": matcher_core(), "rules_pass": rules, "nodes_pass": nodes}
    if args.json:
        print(json.dumps(out))
        return
    top = args.top
    print(f"{rules['articles']} articles, {rules['us_per_article']:.0f} µs per article ({out['core']}); "
          f"rule evaluation {rules['rules_share']:.0%} of it")
    print("\ncostliest rules (share of the article time: all / first pass / evidence; evaluated, matched):")
    for r in rules["rules"][:top]:
        print(f"  {r['share']:6.1%} {r['first_pass_share']:6.1%} {r['evidence_share']:6.1%}  "
              f"{r['evaluated']:5d} {r['matched']:5d}  {r['rule']}")
    print(f"\nnode kinds (self time, pure-Python profile; nodes {nodes['nodes_share']:.0%} of the article time):")
    for k, v in nodes["kinds"].items():
        print(f"  {v:6.1%}  {k}")
    print("\ncostliest nodes (self / inclusive share, calls, node, first path, rules holding it):")
    for n in nodes["nodes"][:top]:
        more = f" +{len(n['rules']) - 1}" if len(n["rules"]) > 1 else ""
        print(f"  {n['self_share']:6.1%} {n['inclusive_share']:6.1%} {n['calls']:7d}  {n['node']}\n"
              f"{'':33}{n['path']}  [{n['rules'][0] if n['rules'] else '?'}{more}]")


if __name__ == "__main__":
    main()
