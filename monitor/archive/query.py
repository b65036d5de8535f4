"""Arabic-aware full-text search, as pure functions shared by both archive backends.

Indexing: a field is folded with the rules' own normalisation (``monitor.text.fold``: hamza and alef
forms, ة → ه, diacritics, tatweel, digits, case) and split into ``monitor.text.tokens``. Each token is
indexed as it is and, for Arabic, also without each proclitic it may carry (``monitor.text.affixes``:
«والقاعدة» also indexes «القاعده» and «قاعده»; after a proclitic that holds the article, «بالقاعدة»,
the stem with ال too). Terms are deduplicated per article: search needs no positions (snippets are
found again in Python), which keeps the index small.

Querying: the query is folded and tokenised the same way; every token must occur (AND). An Arabic token
matches as a prefix (suffixes: «قاعدة» finds «قاعدتها» through «قاعده*» or «قاعدت*»); an English token
matches itself or its plural (-s, -es), and a token written with a trailing ``*`` is a prefix. Tokens
are letters and digits only (``[^\\W_]+``), so the expressions built for FTS5 and for PostgreSQL's
``tsquery`` cannot carry syntax from the user: any query string is safe. Limits: ``MAX_QUERY_CHARS``,
``MAX_QUERY_TERMS``; a prefix needs at least two letters.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from monitor.archive.model import MAX_QUERY_TERMS, QueryInvalid
from monitor.text import fold, normalize
from monitor.text.affixes import ARTICLE_PROCLITICS, MAX_PREFIX, PROCLITICS, is_arabic

MIN_STEM = 2
_STAR = re.compile(r"([^\W_]+)\*")


@lru_cache(maxsize=200_000)
def variants(token: str) -> tuple[str, ...]:
    """The index terms of one folded token: itself, and for Arabic its proclitic-stripped stems."""
    if len(token) <= MIN_STEM or not is_arabic(token):
        return (token,)
    out = [token]
    for k in range(1, min(MAX_PREFIX, len(token) - MIN_STEM) + 1):
        p = token[:k]
        if p in PROCLITICS:
            rest = token[k:]
            out.append(rest)
            if p in ARTICLE_PROCLITICS:
                out.append("ال" + rest)
            if rest.startswith("ال") and len(rest) - 2 >= MIN_STEM:
                # فل + المفاوضات: the rules accept a proclitic before a term with ال (even one that
                # holds the article itself: كال + الطرفان)
                out.append(rest[2:])
    return tuple(dict.fromkeys(out))


_TOKEN = re.compile(r"[^\W_]+")  # the same tokens as ``monitor.text.tokens``


def index_terms(*fields: str) -> list[str]:
    """Deduplicated index terms of an article's fields (title, summary, content)."""
    words = dict.fromkeys(_TOKEN.findall(fold("\n".join(f for f in fields if f))))
    out: dict[str, None] = {}
    for w in words:
        if len(w) > MIN_STEM:
            for v in variants(w):
                out[v] = None
        else:
            out[w] = None
    return list(out)


@dataclass(frozen=True)
class Alt:
    """One way a query token may appear in the index: ``term`` exactly, or as a prefix."""

    term: str
    prefix: bool


Group = tuple[Alt, ...]  # a query token: any of its alternatives


def parse(q: str) -> list[Group]:
    """The query's token groups (all must match); ``[]`` for a query with no word in it."""
    starred = {fold(m.group(1)) for m in _STAR.finditer(q)}
    groups: list[Group] = []
    seen: set[str] = set()
    for t in _TOKEN.findall(fold(q)):
        if t in seen:
            continue
        seen.add(t)
        groups.append(_alternatives(t, t in starred))
    if len(groups) > MAX_QUERY_TERMS:
        raise QueryInvalid(f"the query has {len(groups)} words; at most {MAX_QUERY_TERMS} are searched")
    return groups


def _alternatives(t: str, star: bool) -> Group:
    if star and len(t) >= MIN_STEM:
        return (Alt(t, True),)
    if is_arabic(t):
        if len(t) < MIN_STEM:
            return (Alt(t, False),)
        if t.endswith("ه") and len(t) > MIN_STEM + 1:
            return (Alt(t, True), Alt(t[:-1] + "ت", True))
        return (Alt(t, True),)
    if t.isdigit():
        return (Alt(t, False),)
    plurals = [t + "s"] + ([t + "es"] if t.endswith(("s", "x", "z", "ch", "sh")) else [])
    return (Alt(t, False), *(Alt(p, False) for p in plurals))


def fts5_expression(groups: list[Group]) -> str:
    """An SQLite FTS5 MATCH expression (terms quoted; they hold letters and digits only)."""
    return " AND ".join(
        "(" + " OR ".join(f'"{a.term}"' + ("*" if a.prefix else "") for a in g) + ")" for g in groups
    )


def tsquery(groups: list[Group]) -> str:
    """A PostgreSQL ``tsquery`` literal (cast with ``::tsquery``: no parser or dictionary runs)."""
    return " & ".join(
        "(" + " | ".join(f"'{a.term}'" + (":*" if a.prefix else "") for a in g) + ")" for g in groups
    )


def token_matches(token: str, groups: Iterable[Group]) -> bool:
    """Whether a folded token of an article satisfies one of the query's groups (the index's rule)."""
    vs = variants(token)
    for g in groups:
        for a in g:
            for v in vs:
                if v == a.term or (a.prefix and v.startswith(a.term)):
                    return True
    return False


_PROCLITIC_RE = "(?:" + "|".join(re.escape(p) for p in sorted(PROCLITICS, key=len, reverse=True)) + ")?"


@lru_cache(maxsize=256)
def hit_pattern(groups: tuple[Group, ...]) -> re.Pattern[str]:
    """One regex finding, in folded text, the whole tokens ``token_matches`` accepts (for snippets:
    a C-speed scan instead of a Python loop over every token of a long article)."""
    alts = []
    for g in groups:
        for a in g:
            end = r"[^\W_]*" if a.prefix else r"(?![^\W_])"
            if is_arabic(a.term):
                alts.append(_PROCLITIC_RE + re.escape(a.term) + end)
                if a.term.startswith("ال") and len(a.term) > MIN_STEM + 2:  # ل + ال written لل: للقاعدة
                    alts.append("[وف]?لل" + re.escape(a.term[2:]) + end)
            else:
                alts.append(re.escape(a.term) + end)
    return re.compile(r"(?<![^\W_])(?:" + "|".join(alts) + ")")


SNIPPET_CHARS = 240


def snippet(text: str, groups: list[Group], width: int = SNIPPET_CHARS) -> tuple[str, list[tuple[int, int]]]:
    """A window of ``text`` around its first query hit, and the hit spans inside the window.

    Hits are found on the folded text and mapped back to the original, so the snippet shows the article
    as written (hamza, diacritics and all). Without a hit: the start of the text and no spans.
    """
    if not text:
        return "", []
    hits: list[tuple[int, int]] = []
    if groups:
        norm = normalize(text)
        for m in hit_pattern(tuple(groups)).finditer(norm.text):
            a, b = norm.span(m.start(), m.end())
            while b < len(text) and (text[b] == "\u0640" or unicodedata.category(text[b]).startswith("M")):
                b += 1  # the word's trailing harakat and tatweel belong to it
            hits.append((a, b))
            if hits[-1][0] - hits[0][0] > width:
                break
    if not hits:
        return _clip(text, 0, width), []
    start = max(0, hits[0][0] - width // 4)
    while start > 0 and not text[start - 1].isspace() and hits[0][0] - start < width // 2:
        start -= 1  # do not cut the word before the hit in half
    window = _clip(text, start, width)
    inside = [(a - start, b - start) for a, b in hits if a >= start and b - start <= len(window)]
    return window, inside


def _clip(text: str, start: int, width: int) -> str:
    return text[start:start + width]
