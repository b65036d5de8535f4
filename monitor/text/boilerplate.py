"""Boilerplate trimming: cut what a page appends after its own report.

``trim_boilerplate(text)`` takes an article field as scraped and returns a string of the *same length*
with the boilerplate blanked by spaces, so a position in the result is the same position in the input
(evidence offsets stay valid without a map); normalisation then folds the blank runs away.

- Scraper markers such as ``[ad_1]`` are blanked.
- A line that starts with a related-content marker cuts the text there when the marker stands alone on
  its line (``إقرأ أيضاً:`` then an appended article, ``مقالات مشابهة`` then a list of headlines,
  ``Related articles``) or when it is a tags line (``كلمات دلالية: …``, ``Tags: …``), which closes a page.
- An inline teaser (``اقرأ أيضا: <headline>`` / ``Read also: <headline>`` on one line, in the middle of
  the body) is blanked, and the text after it is kept.
- A marker on the very first line never cuts (nothing before it would remain).

Markers are matched tolerantly (hamza forms, tanween, tatweel, case), on line starts only.
"""

from __future__ import annotations

import re
from functools import lru_cache

from monitor.text.folding import _table

#: Markers after which the rest of the page is someone else's: cut when alone on their line.
CUT_MARKERS = (
    "اقرا ايضا", "اقرا كذلك", "اقرا المزيد", "اقرا اكثر", "مقالات مشابهه", "مقالات ذات صله",
    "اخبار ذات صله", "مواضيع ذات صله", "مواضيع مشابهه", "اخبار مشابهه", "اخبار متعلقه", "قد يهمك ايضا",
    "قد يعجبك ايضا", "المزيد من الاخبار", "اقرا ايضا في", "شاهد ايضا", "اخترنا لك",
    "read more", "read also", "also read", "related", "related articles", "related stories",
    "related news", "related posts", "related content", "more stories", "more on this story",
    "you may also like", "recommended", "see also", "more from", "most read",
)
#: Markers that close a page even with text after them on the same line.
TAG_MARKERS = ("كلمات دلاليه", "كلمات مفتاحيه", "الكلمات الدلاليه", "الوسوم", "وسوم", "tags", "keywords")

_IGNORABLE = "\u0640\u064b-\u065f\u0670\u06d6-\u06ed\u200b-\u200f\u0300-\u036f"
_Trie = dict[str, "_Trie"]  # a phrase trie: next char -> subtree; "" marks a phrase end
_AD = re.compile(r"\[\s*ads?(?:[_ -]?\d+)?\s*\]", re.IGNORECASE)


def _inverse() -> dict[str, set[str]]:
    """For each folded char, the chars that fold to it (below the CJK blocks)."""
    inverse: dict[str, set[str]] = {}
    for cp, img in _table().items():
        if len(img) == 1 and cp < 0x3000:
            inverse.setdefault(img, set()).add(chr(cp))
    return inverse


def _char(ch: str, inverse: dict[str, set[str]]) -> str:
    """A regex matching every spelling of one char of a marker (and what may follow it unseen)."""
    if ch == " ":
        return r"[\s\-_]+"
    chars = {ch, ch.upper(), *inverse.get(ch, ())}
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + f"][{_IGNORABLE}]*"


def _tolerant(phrases: tuple[str, ...]) -> str:
    """A regex matching every spelling of each of ``phrases`` that normalises to it, the longest phrase
    when several match. Written as a trie (``اقرا (ايضا|كذلك|…)``): the regex engine skips an alternative
    on its first char, so a line that starts no marker costs a few char tests, not one per marker."""
    inverse = _inverse()
    trie: _Trie = {}
    for phrase in phrases:
        node = trie
        for ch in phrase:
            node = node.setdefault(ch, {})
        node[""] = {}  # the phrase ends here

    def emit(node: _Trie) -> str:
        # the end of a phrase last: a longer phrase wins, as in an alternation sorted longest first
        alts = [_char(ch, inverse) + emit(child) for ch, child in node.items() if ch]
        if "" in node:
            alts.append("")
        return alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"

    return emit(trie)


def _first_chars(phrases: tuple[str, ...]) -> str:
    """A char class of every spelling of the phrases' first chars."""
    inverse = _inverse()
    chars = {c for p in phrases for c in (p[0], p[0].upper(), *inverse.get(p[0], ()))}
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


@lru_cache(maxsize=1)
def _marker_re() -> re.Pattern[str]:
    """Markers at a line start. The pattern opens with a literal line break so the regex engine
    scans for it at C speed instead of trying every position (the first line never cuts anyway), and a
    lookahead on the markers' first chars drops other lines (blank ones, most text) in one test."""
    lead = r"\n[ \t\u00a0>*#•·\-–—|\[(]*"
    first = _first_chars(CUT_MARKERS + TAG_MARKERS)
    return re.compile(
        rf"{lead}(?={first})(?:(?P<cut>{_tolerant(CUT_MARKERS)})|(?P<tags>{_tolerant(TAG_MARKERS)}))(?P<rest>[^\n]*)")


_TAIL = re.compile(r"^[\s:：.…»>\-–—|)\]]*$")
_COLON = re.compile(r"^\s*[:：\-–—|]")


def _cut(text: str, start: int) -> str:
    return text[:start] + " " * (len(text) - start)


def trim_boilerplate(text: str) -> str:
    """The field without appended related content; offsets unchanged (see the module docstring)."""
    if not text:
        return text
    if "[" in text:
        text = _AD.sub(lambda m: " " * len(m.group()), text)
    for m in _marker_re().finditer(text):
        start = m.start() + 1  # after the line break
        if not text[:start].strip():
            continue  # nothing of the article before it: keep
        rest = m.group("rest")
        if _TAIL.match(rest):
            return _cut(text, start)
        if not _COLON.match(rest):  # "Related to the attack, …", "Tagsfoo": ordinary text
            continue
        if m.group("tags") is not None:
            return _cut(text, start)
        # an inline teaser ("Read also: <headline>"): blank this line only
        text = text[:start] + " " * (m.end() - start) + text[m.end():]
    return text
