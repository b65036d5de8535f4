"""The per-article memos of node answers (``Ctx.results``, ``known``, ``placed``): one per field scope, the last
scope asked found by identity; and conjunctions whose needed terms did not occur answering before any memo."""

from __future__ import annotations

from monitor.models import Article
from monitor.rules.compile import prepare
from monitor.rules.expr import AllNode, Ctx, TermNode, scope_of


def _ctx() -> Ctx:
    return Ctx(["a title", "", "some text"], {}, Article(id="x", title="a title", content="some text"), "en")


def test_each_scope_keeps_its_own_memo_when_scopes_alternate() -> None:
    ctx = _ctx()
    every, title = scope_of((0, 1, 2)), scope_of((0,))
    for ask in (ctx.results, ctx.known, ctx.placed):
        a = ask(every)
        b = ask(title)
        assert a is not b
        assert ask(every) is a  # after another scope: the same dict again
        assert ask(every) is a  # and as the last one asked
        assert ask(title) is b
        a["k"] = 1
        assert "k" not in ask(title)
    assert set(ctx.runs) == set(ctx.truths) == set(ctx.places) == {every, title}


def test_a_conjunction_missing_a_needed_term_fails_in_every_pass() -> None:
    # ``holds`` and ``where`` test ``needs`` before the memos; ``eval`` as before: the same answers
    def term(tid: int) -> TermNode:
        return TermNode(f"t{tid}", {tid: (f"t{tid}", None, None)})

    every = scope_of((0, 1, 2))
    for hits, holds in (({1: [(0, 0, 1)]}, False), ({1: [(0, 0, 1)], 2: [(2, 0, 4)]}, True)):
        node = AllNode([term(1), term(2)])
        prepare(node)
        assert node.needs == (frozenset({2}),)
        art = Article(id="x", title="a title", content="some text")
        first = Ctx(["a title", "", "some text"], hits, art, "en")
        assert node.holds(first, every) is holds
        assert (node.where(first, every) is not None) is holds
        assert (node.run(first, every) is not None) is holds
        fresh = Ctx(["a title", "", "some text"], hits, art, "en")
        assert (node.run(fresh, every) is not None) is holds
        assert node.holds(fresh, every) is holds  # from the memo of ``run`` when the needs have a hit
