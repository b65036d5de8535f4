"""Hypothesis strategies for hostile article text, feed documents and rule YAML.

Text mixes Arabic (letters, harakat, tatweel, Arabic-Indic digits, presentation forms), Persian letters,
English, emoji, C0/C1 controls, bidi and zero-width controls, lone surrogates excluded (not valid in a
``str`` that came from UTF-8), line and paragraph separators, and occasionally huge runs.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from hypothesis import strategies as st

ARABIC = "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإؤئىة" + "پچژکگی"
HARAKAT = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670"
ARABIC_EXTRA = "\u0640" + "٠١٢٣٤٥٦٧٨٩۰۱۲۳" + "،؛؟«»٫٬" + "\ufefb\ufe8d\ufdf2"
BIDI = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c"
ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad\u034f"
CONTROLS = "".join(chr(c) for c in range(0, 32)) + "\x7f" + "".join(chr(c) for c in range(0x80, 0xA0))
SEPARATORS = "\u2028\u2029\u0085\u00a0\u3000\u2009"
LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?'\"-()[]&<>/éüñçß"

arabic_text = st.text(alphabet=ARABIC + HARAKAT + ARABIC_EXTRA + " ", max_size=300)
english_text = st.text(alphabet=LATIN, max_size=300)
hostile_chars = st.text(alphabet=BIDI + ZERO_WIDTH + CONTROLS + SEPARATORS, max_size=50)
any_text = st.text(max_size=200)  # every code point hypothesis likes, surrogates excluded by default


@st.composite
def mixed_text(draw: st.DrawFn) -> str:
    parts = draw(st.lists(st.one_of(arabic_text, english_text, hostile_chars, any_text), max_size=8))
    return "".join(parts)


@st.composite
def huge_text(draw: st.DrawFn) -> str:
    unit = draw(st.one_of(arabic_text, english_text, mixed_text()).filter(bool))
    n = draw(st.integers(min_value=1_000, max_value=60_000)) // max(1, len(unit)) + 1
    return (unit * n)[:200_000]


article_text = st.one_of(arabic_text, english_text, mixed_text(), hostile_chars, any_text, huge_text())


# --- feeds --------------------------------------------------------------------------------------------
def _maybe_escape(draw: st.DrawFn, s: str) -> str:
    mode = draw(st.sampled_from(["escape", "cdata", "raw"]))
    if mode == "escape":
        return escape(s)
    if mode == "cdata":
        return "<![CDATA[" + s.replace("]]>", "]] >") + "]]>"
    return s  # raw: may be malformed XML on purpose


DATES = st.one_of(
    st.just("Sun, 22 Nov 2026 21:00:00 +0000"),
    st.just("2026-11-22T21:00:00Z"),
    st.just("not a date"),
    st.just("Mon, 31 Feb 99999 25:61:61 +9999"),
    st.text(max_size=30),
)


@st.composite
def rss_item(draw: st.DrawFn) -> str:
    parts = []
    if draw(st.booleans()):
        parts.append(f"<guid>{_maybe_escape(draw, draw(st.text(max_size=80)))}</guid>")
    if draw(st.booleans()):
        parts.append(f"<title>{_maybe_escape(draw, draw(mixed_text()))}</title>")
    if draw(st.booleans()):
        link = draw(st.one_of(st.just("http://example.com/a?utm_source=x#frag"), st.text(max_size=60)))
        parts.append(f"<link>{_maybe_escape(draw, link)}</link>")
    if draw(st.booleans()):
        parts.append(f"<description>{_maybe_escape(draw, draw(mixed_text()))}</description>")
    if draw(st.booleans()):
        parts.append(f"<pubDate>{_maybe_escape(draw, draw(DATES))}</pubDate>")
    return "<item>" + "".join(parts) + "</item>"


@st.composite
def atom_entry(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["text", "html", "xhtml", "bogus"]))
    body = _maybe_escape(draw, draw(mixed_text()))
    return (f"<entry><id>{escape(draw(st.text(max_size=60)))}</id><title type=\"{kind}\">{body}</title>"
            f"<updated>{escape(draw(DATES))}</updated>"
            f"<content type=\"{kind}\">{_maybe_escape(draw, draw(mixed_text()))}</content></entry>")


DOCTYPES = st.sampled_from([
    "",
    '<!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
    '<!DOCTYPE rss SYSTEM "file:///etc/passwd">',
    '<!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    "<!DOCTYPE rss [<!-- ] > --> <!ENTITY q '>'>]>",
    "<!DOCTYPE",
])


@st.composite
def feed_document(draw: st.DrawFn) -> bytes:
    atom = draw(st.booleans())
    doctype = draw(DOCTYPES)
    entity_use = draw(st.sampled_from(["", "&c;", "&xxe;", "&amp;", "&#0;", "&#x110000;", "&unknown;"]))
    if atom:
        entries = "".join(draw(st.lists(atom_entry(), max_size=5)))
        doc = (f"{doctype}<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>t{entity_use}</title>"
               f"{entries}</feed>")
    else:
        items = "".join(draw(st.lists(rss_item(), max_size=5)))
        doc = f"{doctype}<rss version=\"2.0\"><channel><title>t{entity_use}</title>{items}</channel></rss>"
    decl_enc = draw(st.sampled_from(["utf-8", "utf-16", "iso-8859-1", "windows-1256", "bogus-enc", None]))
    if decl_enc is not None and draw(st.booleans()):
        doc = f'<?xml version="1.0" encoding="{decl_enc}"?>' + doc
    codec = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32",
                                  "cp1256", "latin-1"]))
    data = doc.encode(codec, errors="replace")
    cut = draw(st.one_of(st.none(), st.integers(min_value=0, max_value=len(data))))
    if cut is not None:
        data = data[:cut]  # truncated documents
    return data


feed_bytes = st.one_of(feed_document(), st.binary(max_size=2000))


# --- rules --------------------------------------------------------------------------------------------
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=30))
TERMS = st.one_of(
    st.text(max_size=20),
    st.sampled_from(["zephyrquake", "جولة", "@missing_list", "/(unclosed/", "/a{1,99999999}/", "re:(?P<x>",
                     "*", "", " ", "ا", "\u200f", "a" * 300]),
)
MATCH = st.recursive(
    st.one_of(TERMS, st.lists(TERMS, max_size=4)),
    lambda inner: st.one_of(
        st.dictionaries(st.sampled_from(["any", "all", "none", "near", "sentence", "within", "field", "not",
                                         "bogus"]), st.one_of(inner, SCALARS), max_size=3),
        st.lists(inner, max_size=3),
    ),
    max_leaves=12,
)


@st.composite
def rule_document(draw: st.DrawFn) -> dict[str, object]:
    doc: dict[str, object] = {}
    if draw(st.booleans()) or True:
        doc["id"] = draw(st.one_of(st.sampled_from(["fuzz-rule", "fuzz.rule", "Bad Id", ""]), SCALARS))
    for key, strat in (
        ("title", SCALARS), ("severity", st.one_of(st.sampled_from(["low", "high", "urgent"]), SCALARS)),
        ("tags", st.one_of(st.lists(st.text(max_size=10), max_size=3), SCALARS)),
        ("languages", st.one_of(st.lists(st.sampled_from(["ar", "en", "xx", ""]), max_size=3), SCALARS)),
        ("match", MATCH), ("fields", st.one_of(st.lists(st.sampled_from(["title", "body"])), SCALARS)),
        ("enabled", SCALARS), ("min_sources", SCALARS), ("version", SCALARS),
        ("score", st.one_of(SCALARS, st.fixed_dictionaries(
            {"threshold": SCALARS, "terms": st.lists(st.fixed_dictionaries({"term": TERMS, "weight": SCALARS}),
                                                     max_size=2)}))),
        ("event", st.one_of(SCALARS, st.fixed_dictionaries({"window": st.one_of(SCALARS, st.just("6h"))}))),
        ("unknown_key", SCALARS),
    ):
        if draw(st.booleans()):
            doc[key] = draw(strat)
    return doc


RAW_YAML = st.one_of(
    st.text(max_size=300),
    st.sampled_from([
        "id: [unclosed", "{{{{", "- - - -", "id: a\nid: b\n", "&a [*a]", "a: &x [*x]", "!!python/object:os.system x",
        "id: x\nmatch: !!binary aGVsbG8=", "\t\tid: tabbed", "id: " + "[" * 200, "? complex\n: key",
        "id: x\nmatch:\n  any: [a]\nlists:\n  l: {terms: []}\n", "%YAML 9.9\n---\nid: x",
        "id: lone-surrogate-escape\ntitle: \"\\ud800\"", "list: l\nterms: [a, a]\n",
    ]),
)
