"""HTML fragment in, clean text out, with a real HTML parser (lexbor via selectolax).

Block elements (p, div, li, headings, br, …) become line breaks, inline markup disappears without
inserting spaces inside words, ``script``/``style``/``template`` contents are dropped, entities are
decoded, runs of spaces collapse and blank lines collapse to one. Text without ``<`` or ``&`` skips the
parser (most titles). Pure and synchronous; no I/O.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

_BLOCK = frozenset(
    ["address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"]
)
_DROP = ["script", "style", "template", "noscript", "iframe", "object", "svg", "math"]
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n+")


def clean_space(text: str) -> str:
    """Collapse spaces per line and blank lines; strip the ends."""
    lines = (_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment (see the module docstring)."""
    if not html:
        return ""
    if "<" not in html and "&" not in html:
        return clean_space(html)
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
    return clean_space("".join(parts))
