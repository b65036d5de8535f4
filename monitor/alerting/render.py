"""Rendering a delivery as text and HTML for people (email, chat). Pure functions.

Every feed string is attacker-controlled. In HTML it is escaped (``html.escape``); Arabic (any right-to-
left text) is laid out with ``dir="rtl"`` and each feed string is wrapped in ``<bdi>`` so mixed-direction
text cannot reorder its surroundings. In plain text each feed string is wrapped in FIRST STRONG ISOLATE
(U+2068) … POP DIRECTIONAL ISOLATE (U+2069), and stray bidi controls inside it are removed so it cannot
leave its isolate. ``clean_header`` makes a string safe for a mail header (see ``channels.email``).
Digests and groups list alerts grouped by rule.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections import defaultdict
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from monitor.alerting.model import Delivery
    from monitor.models import Alert

FSI, PDI = "\u2068", "\u2069"
_BIDI_CONTROLS = re.compile("[\u200e\u200f\u202a-\u202e\u2066-\u2069\u061c]")
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufeff]")
_LTR = re.compile("[A-Za-z\u00c0-\u024f]")
_HEADER_BAD = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_ENCODED_WORD = re.compile(r"=\?|\?=")


def is_rtl(text: str) -> bool:
    return len(_RTL.findall(text)) > len(_LTR.findall(text))


def clean_text(s: str, limit: int = 2000) -> str:
    """A feed string for the body: controls other than newline/tab removed, bidi controls removed."""
    s = "".join(c for c in s if c in "\n\t" or unicodedata.category(c) != "Cc")
    return _BIDI_CONTROLS.sub("", s)[:limit]


def clean_header(s: str, limit: int = 200) -> str:
    """Safe for a header value: no controls, no line/paragraph separators, no encoded-word openers."""
    s = _HEADER_BAD.sub(" ", s)
    while _ENCODED_WORD.search(s):
        s = _ENCODED_WORD.sub(" ", s)
    s = " ".join(s.split())
    return s[:limit].strip()


def isolate(s: str) -> str:
    return FSI + clean_text(s) + PDI


def _title(a: Alert) -> str:
    return a.article.title or a.article.url or a.article.id


def subject(d: Delivery, limit: int = 180) -> str:
    if d.kind == "test":
        return "[monitor] test delivery"
    if len(d.alerts) == 1:
        a = d.alerts[0]
        text = f"[{a.severity}] {a.rule_title or a.rule}: {_title(a)}"
    else:
        rules = sorted({a.rule_title or a.rule for a in d.alerts})
        label = "digest" if d.kind == "digest" else "alerts"
        text = f"[monitor] {len(d.alerts)} {label}: {', '.join(rules)}"
    return clean_header(text, limit)


def by_rule(alerts: tuple[Alert, ...]) -> list[tuple[str, list[Alert]]]:
    groups: dict[str, list[Alert]] = defaultdict(list)
    for a in alerts:
        groups[a.rule_title or a.rule].append(a)
    return sorted(groups.items())


def text_summary(d: Delivery) -> str:
    """Plain text: one block per rule, one line per alert, feed strings isolated."""
    lines: list[str] = []
    if d.kind == "test":
        lines.append("This is a test delivery from monitor.")
    for rule, alerts in by_rule(d.alerts):
        lines.append(f"== {isolate(rule)} ({len(alerts)})")
        for a in alerts:
            lines.append(f"- [{a.severity}] {isolate(_title(a))}")
            src = a.article.source or ""
            lines.append(f"  {isolate(src)} {a.article.published:%Y-%m-%d %H:%M} UTC")
            if a.article.url:
                lines.append(f"  {isolate(a.article.url)}")
            for ev in a.evidence[:3]:
                lines.append(f"  > {isolate(ev.snippet or ev.matched)}")
        lines.append("")
    lines.append(f"delivery {d.id}")
    return "\n".join(lines)


def _h(s: str) -> str:
    """Escaped, isolated, direction from its own first strong character."""
    s = clean_text(s)
    attr = ' dir="rtl"' if is_rtl(s) else ""
    return f"<bdi{attr}>{html.escape(s, quote=True)}</bdi>"


def html_body(d: Delivery) -> str:
    all_text = " ".join(_title(a) for a in d.alerts)
    direction = "rtl" if is_rtl(all_text) else "ltr"
    out = [
        f'<!doctype html><html dir="{direction}"><head><meta charset="utf-8"></head><body dir="{direction}">'
    ]
    if d.kind == "test":
        out.append("<p>This is a test delivery from monitor.</p>")
    for rule, alerts in by_rule(d.alerts):
        out.append(f"<h2>{_h(rule)} ({len(alerts)})</h2><ul>")
        for a in alerts:
            lang = html.escape(clean_text(a.article.lang, 16), quote=True)
            item_dir = "rtl" if is_rtl(_title(a)) else "ltr"
            url = a.article.url if a.article.url.lower().startswith(("http://", "https://")) else ""
            title = _h(_title(a))
            link = f'<a href="{html.escape(clean_text(url), quote=True)}">{title}</a>' if url else title
            out.append(
                f'<li lang="{lang}" dir="{item_dir}"><b>[{html.escape(a.severity)}]</b> {link}'
                f"<br><small>{_h(a.article.source)} · {a.article.published:%Y-%m-%d %H:%M} UTC</small>"
            )
            for ev in a.evidence[:3]:
                out.append(f"<blockquote>{_h(ev.snippet or ev.matched)}</blockquote>")
            out.append("</li>")
        out.append("</ul>")
    out.append(f"<p><small>delivery {html.escape(d.id)}</small></p></body></html>")
    return "".join(out)
