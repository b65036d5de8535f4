from __future__ import annotations

from pathlib import Path

import pytest

from monitor.rules import RuleSet, load_rules

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="session")
def basic() -> RuleSet:
    return load_rules(FIXTURES / "basic")


def write_files(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        p = folder / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def write() -> object:
    """``write(folder, {relative path: text})`` -> folder."""
    return write_files
