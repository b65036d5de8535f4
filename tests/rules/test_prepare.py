"""What a conjunction tests before it runs its children is computed once, when the rule set is built
(``compile.prepare``), as typed fields of the nodes: nothing is added to a node while articles are
matched, and a shared sub-expression is prepared the same for every rule that uses it."""

from __future__ import annotations

from pathlib import Path

from monitor.models import Article
from monitor.rules import load_rules
from monitor.rules.expr import AllNode, FieldNode, Node, NoneNode, needed_sets, none_guards
from monitor.rules.positional import NearNode, QuantityNode, SentenceNode

RULE_A = """
id: a
match:
  all:
    - sentence: [{regex: '\\bmilitias?\\b'}, {any: [strike, strikes]}, {none: [drill]}]
    - near: [us, {any: [strike, strikes]}]
      within: 3
  none:
    - language: [ar]
    - sentence: [strike, base]
"""
RULE_B = """
id: b
match:
  all:
    - near: [us, {any: [strike, strikes]}]
      within: 3
    - quantity: {of: rockets, min: 2}
"""


def _nodes(node: Node) -> list[Node]:
    out = [node]
    for child in getattr(node, "children", None) or []:
        out += _nodes(child)
    if isinstance(node, FieldNode):
        out += _nodes(node.child)
    if isinstance(node, QuantityNode):
        out += _nodes(node.of)
    return out


def _write(tmp_path: Path) -> Path:
    (tmp_path / "a.yaml").write_text(RULE_A, encoding="utf-8")
    (tmp_path / "b.yaml").write_text(RULE_B, encoding="utf-8")
    return tmp_path


def _load(tmp_path: Path) -> list[Node]:
    rs = load_rules(_write(tmp_path))
    return [n for r in rs.rules if r.expr is not None for n in _nodes(r.expr)]


def test_conjunctions_are_prepared_when_the_rules_load(tmp_path: Path) -> None:
    nodes = _load(tmp_path)
    alls = [n for n in nodes if type(n) is AllNode]
    nears = [n for n in nodes if type(n) is NearNode]
    sentences = [n for n in nodes if type(n) is SentenceNode]
    assert len(alls) == 2 and len(nears) == 2 and len(sentences) == 2
    assert nears[0] is nears[1]  # one shared node for both rules
    for n in alls + nears:
        assert isinstance(n, AllNode)
        assert n.needs == needed_sets(n.children)
    assert all(n.needs for n in nears)
    guarded, quantified = alls
    assert guarded.guards == none_guards(guarded) and guarded.guards  # the language guard of rule a
    assert quantified.needs == () and quantified.guards == ()  # a quantity: neither (it must record its number)
    first = next(s for s in sentences if any(type(c) is NoneNode for c in s.children))
    assert [type(i).__name__ for i in first.items] == ["RegexNode", "TermNode"] and len(first.excluded) == 1
    assert first.order == (1, 0)  # the term (a set test) before the regex
    assert first.needs == needed_sets([first.items[i] for i in first.order]) and first.needs


def test_matching_adds_nothing_to_the_nodes(tmp_path: Path) -> None:
    rs = load_rules(_write(tmp_path))
    nodes = [n for r in rs.rules if r.expr is not None for n in _nodes(r.expr)]
    before = [dict(vars(n)) if hasattr(n, "__dict__") else None for n in nodes]
    text = "The US strike hit militias. 3 rockets fell."
    assert {m.rule for m in rs.match(Article(id="x", content=text, lang="en"))} == {"a", "b"}
    after = [dict(vars(n)) if hasattr(n, "__dict__") else None for n in nodes]
    changed = [(type(n).__name__, sorted(set(a or {}) ^ set(b or {})))
               for n, a, b in zip(nodes, before, after, strict=True) if a != b]
    assert not [c for c in changed if any(k in ("_needs", "_guards", "_split", "_eval_order") for k in c[1])]
