"""HTML fragment in, clean text out, with a real HTML parser (lexbor via selectolax).

Block elements (p, div, li, headings, br, …) become line breaks, inline markup disappears without
inserting spaces inside words, ``script``/``style``/``template`` contents are dropped, entities are
decoded, runs of spaces collapse and blank lines collapse to one. Text without ``<`` or ``&`` skips the
parser (most titles). Pure and synchronous; no I/O.

``html_to_texts`` converts many fragments with one parser document (building a document costs about
0.1 ms whatever its size, which dominated a 50-entry feed): fragments are joined with a marker that
cannot occur in them and the text is split on it afterwards. Fragments whose markup can move text out
of source order or swallow what follows (tables: foster parenting; raw-text elements; templates) are
converted on their own, and if the marker count does not come back intact every fragment is redone
alone, so the batch never attributes text to the wrong fragment.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_BLOCK = frozenset(
    ["address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"]
)
_DROP = ["script", "style", "template", "noscript", "iframe", "object", "svg", "math"]
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_EDGES = re.compile(r" ?\n ?")
_BLANKS = re.compile(r"\n{3,}")
_ISOLATE = re.compile(
    r"<\s*/?\s*(?:table|template|textarea|plaintext|xmp|script|style|noscript|select|svg|math|iframe|"
    r"noembed|noframes|title)\b", re.I)
_MARK = "\ue000\u2063monitor-fragment\u2063\ue001"


def clean_space(text: str) -> str:
    """Collapse spaces per line and blank lines; strip the ends."""
    text = _SPACES.sub(" ", text)
    text = _EDGES.sub("\n", text)
    return _BLANKS.sub("\n\n", text).strip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment (see the module docstring)."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return clean_space(html)
    return clean_space(_raw_text(html))


def html_to_texts(fragments: list[str]) -> list[str]:
    """``html_to_text`` of each fragment, with one parser document for most of them."""
    out = [""] * len(fragments)
    batch: list[int] = []
    for i, frag in enumerate(fragments):
        if not frag:
            continue
        if "<" not in frag and "&" not in frag:
            out[i] = clean_space(frag)
        elif _MARK in frag or _ISOLATE.search(frag):
            out[i] = html_to_text(frag)
        else:
            batch.append(i)
    if len(batch) == 1:
        out[batch[0]] = html_to_text(fragments[batch[0]])
    elif batch:
        parts = _raw_text(_MARK.join(fragments[i] for i in batch)).split(_MARK)
        if len(parts) == len(batch):
            for i, part in zip(batch, parts, strict=True):
                out[i] = clean_space(part)
        else:
            for i in batch:
                out[i] = html_to_text(fragments[i])
    return out


def _raw_text(html: str) -> str:
    tree = LexborHTMLParser(html)
    tree.strip_tags(_DROP)
    root = tree.body
    if root is None:
        return ""
    parts: list[str] = []
    for node in root.traverse(include_text=True):
        tag = node.tag
        if tag == "-text":
            parts.append(node.text_content or "")
        elif tag in _BLOCK:
            parts.append("\n")
    return "".join(parts)
