"""The pure search functions: index terms, query parsing, safe expressions, snippets."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.archive.model import QueryInvalid
from monitor.archive.query import (
    fts5_expression,
    hit_pattern,
    index_terms,
    parse,
    snippet,
    token_matches,
    tsquery,
    variants,
)
from monitor.text import fold


def test_index_terms_fold_and_strip_proclitics():
    terms = index_terms("والقاعدة بالقاعدة", "قاعدتين", "The BASES إيران")
    assert {"والقاعده", "القاعده", "قاعده", "بالقاعده", "قاعدتين", "the", "bases", "ايران"} <= set(terms)
    assert len(terms) == len(set(terms))


def test_variants_keep_short_and_latin_words_whole():
    assert variants("base") == ("base",)
    assert variants("في") == ("في",)
    assert "القاعده" in variants("للقاعده") or "قاعده" in variants("للقاعده")


def test_parse_alternatives():
    (g,) = parse("قاعدة")
    assert {(a.term, a.prefix) for a in g} == {("قاعده", True), ("قاعدت", True)}
    (g,) = parse("Base")
    assert {(a.term, a.prefix) for a in g} == {("base", False), ("bases", False)}
    (g,) = parse("box")
    assert {a.term for a in g} == {"box", "boxs", "boxes"}
    (g,) = parse("negotiat*")
    assert [(a.term, a.prefix) for a in g] == [("negotiat", True)]
    assert parse("") == [] and parse('"*()-') == []
    assert len(parse("a a a b")) == 2
    with pytest.raises(QueryInvalid):
        parse(" ".join(f"w{i}" for i in range(33)))


SAFE_FTS = re.compile(r'^(\((\"[^\W_]+\"\*?)( OR \"[^\W_]+\"\*?)*\))( AND \((\"[^\W_]+\"\*?)( OR \"[^\W_]+\"\*?)*\))*$')
SAFE_TSQ = re.compile(r"^(\(('[^\W_]+'(:\*)?)( \| '[^\W_]+'(:\*)?)*\))( & \(('[^\W_]+'(:\*)?)( \| '[^\W_]+'(:\*)?)*\))*$")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_query_becomes_a_safe_expression(q):
    try:
        groups = parse(q)
    except QueryInvalid:
        return
    if not groups:
        return
    assert SAFE_FTS.match(fts5_expression(groups)), fts5_expression(groups)
    assert SAFE_TSQ.match(tsquery(groups)), tsquery(groups)


WORDS = ["قاعدة", "والقاعدة", "بالقاعدة", "للقاعدة", "قاعدتين", "القواعد", "base", "bases", "baseline", "عين",
         "الأسد", "وزير", "ووزير", "الوزيرة", "هجوم", "هجمات", "talks", "talk"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(WORDS), min_size=1, max_size=3), st.lists(st.sampled_from(WORDS), max_size=12))
def test_snippet_regex_agrees_with_the_token_rule(query, doc):
    """The C-speed snippet scan finds exactly the tokens the index rule accepts."""
    groups = parse(" ".join(query))
    text = fold(" ".join(doc))
    by_rule = [m.group() for m in re.finditer(r"[^\W_]+", text) if token_matches(m.group(), groups)]
    by_regex = [m.group() for m in hit_pattern(tuple(groups)).finditer(text)]
    assert by_regex == by_rule


def test_snippet_maps_back_to_the_original():
    text = "قال مسؤول إن «بالقاعدةِ» تعرضت لهجوم، وأضاف أن القاعدة محصنة. " * 3
    s, spans = snippet(text, parse("قاعدة"))
    assert [s[a:b] for a, b in spans][:2] == ["بالقاعدةِ", "القاعدة"]
    s, spans = snippet("Nothing here", parse("base"))
    assert s == "Nothing here" and spans == []
    long = "x " * 500 + "the BASE was hit " + "y " * 500
    s, spans = snippet(long, parse("base"))
    assert len(s) <= 240 and [s[a:b] for a, b in spans] == ["BASE"]
