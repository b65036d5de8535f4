"""The cheap gate before a costly ``none`` (``expr.none_guards``): an ``all`` fails before its positional
children run when a cheap alternative of its costly ``none`` holds, with the same matches as without it."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.models import Article
from monitor.rules import load_rules
from monitor.rules.expr import AllNode, FieldNode, LanguageNode, Node, TermNode, none_guards

RULE = """
id: strike
match:
  any:
    - all:
        - sentence: [{any: [strike, strikes]}, {any: [militia, militias]}]
        - near: [{regex: '\\bus\\b'}, {any: [strike, strikes]}]
          within: 3
      none:
        - language: [ar]
        - field: title
          any: [opinion]
        - sentence: [{any: [strike, strikes]}, {any: [base, bases]}]
    - "غارة أمريكية"
"""


def _guarded(node: Node) -> list[AllNode]:
    out = [node] if type(node) is AllNode and none_guards(node) else []  # type: ignore[arg-type]
    for child in getattr(node, "children", None) or ([node.child] if isinstance(node, FieldNode) else []):
        out += _guarded(child)
    return out


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    (tmp_path / "r.yaml").write_text(RULE, encoding="utf-8")
    return tmp_path


def test_the_cheap_alternatives_of_a_costly_none_are_its_guards(rules: Path) -> None:
    rule = load_rules(rules).get("strike")
    assert rule is not None and rule.expr is not None
    [node] = _guarded(rule.expr)
    guards = none_guards(node)
    assert [type(g) for g in guards] == [LanguageNode, FieldNode]  # not the positional sentence
    assert isinstance(guards[1], FieldNode) and type(guards[1].child) is TermNode


@pytest.mark.parametrize(("title", "content", "lang", "fires"), [
    ("", "US strikes hit militia depots overnight.", "en", True),
    ("Opinion", "US strikes hit militia depots overnight.", "en", False),  # the title guard
    ("", "US strikes hit militia depots near the bases.", "en", False),  # the costly part of the none
    ("", "قالت مصادر محلية في المدينة إن الضربات طالت مواقع عدة وأوقعت خسائر كبيرة في صفوف المقاتلين.\n"
         "US strikes hit militia depots overnight.", "", False),  # the language guard (detected: ar)
    ("", "قالت مصادر إن غارة أمريكية استهدفت موقعا.", "ar", True),  # the other branch
])
def test_same_calls_with_and_without_the_gate(rules: Path, monkeypatch: pytest.MonkeyPatch, title: str,
                                              content: str, lang: str, fires: bool) -> None:
    article = Article(id="a", title=title, content=content, lang=lang)
    with_gate = [m.model_dump() for m in load_rules(rules).match(article)]
    monkeypatch.setattr("monitor.rules.expr.none_guards", lambda node: ())
    without = [m.model_dump() for m in load_rules(rules).match(article)]
    assert with_gate == without
    assert bool(with_gate) is fires


def test_an_all_holding_a_quantity_gets_no_gate(tmp_path: Path) -> None:
    # the failed branch still reads its number, and the match of the other branch reports it
    (tmp_path / "r.yaml").write_text(
        "id: q\nmatch:\n  any:\n    - all: [{quantity: {of: rockets, min: 2}}]\n"
        "      none: [{language: [en]}, {near: [rockets, base], within: 2}]\n    - rockets\n", encoding="utf-8")
    rule = load_rules(tmp_path).get("q")
    assert rule is not None and rule.expr is not None
    assert _guarded(rule.expr) == []
    [m] = load_rules(tmp_path).match(Article(id="a", content="Militants fired 3 rockets at dawn.", lang="en"))
    assert m.numbers == (3.0,)
