"""Terminal-safe text for CLI tables and the console: control characters shown, never obeyed.

``cell(text)`` escapes every C0/C1 control (ESC, CR, LF, BEL, backspace, DEL …) and every format
character (bidi overrides such as U+202E, zero-width joiners …) as a visible ``\\xNN``/``\\uNNNN``,
so a subscription name, a silence comment, an error text or a feed URL cannot move the cursor,
clear the screen, start a new row or reorder what the terminal shows. Ordinary text — Arabic
included — is unchanged.
"""

from __future__ import annotations

import unicodedata


def _escape(ch: str) -> str:
    n = ord(ch)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}"


def cell(text: object) -> str:
    s = str(text)
    if s.isprintable():
        return s
    return "".join(
        _escape(ch) if ch != " " and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in s
    )
