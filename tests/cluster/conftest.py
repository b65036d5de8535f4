"""Fixtures for clustering tests: the real seed articles, realistic near-copies of them, a normaliser.

The near-copy helpers are in ``texts.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

SEEDS = Path(__file__).resolve().parents[2] / "seeds"
T0 = datetime(2024, 1, 20, 18, 30, tzinfo=UTC).timestamp()
HOUR = 3600.0

try:  # the project's normaliser when it is there; else the minimum these tests rely on
    from monitor.text.folding import fold as _fold
except ImportError:  # pragma: no cover - only before monitor.text exists
    import unicodedata

    def _fold(text: str) -> str:
        t = unicodedata.normalize("NFKC", text).lower()
        for a, b in (("أ", "ا"), ("إ", "ا"), ("آ", "ا"), ("ة", "ه"), ("ى", "ي"), ("ی", "ي"), ("ک", "ك")):
            t = t.replace(a, b)
        return t


@pytest.fixture(scope="session")
def norm() -> Callable[[str], str]:
    return _fold


@pytest.fixture(scope="session")
def seeds() -> dict[str, str]:
    """The five real seed pages by name (e.g. ``000``), as scraped."""
    return {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
