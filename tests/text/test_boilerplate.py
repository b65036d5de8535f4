"""Boilerplate trimming on the real seeds and on English pages; offsets never move."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.text import trim_boilerplate

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


def seed(prefix: str) -> str:
    return next(SEEDS.glob(f"{prefix}_*.txt")).read_text(encoding="utf-8")


def test_seed_000_related_list_is_cut() -> None:
    raw = seed("000")
    out = trim_boilerplate(raw)
    assert "ثلاثة صواريخ تستهدف" in raw
    assert "ثلاثة صواريخ تستهدف" not in out  # the attack headline sits in the related list
    assert "مقالات مشابهة" not in out and "إقرأ أيضاً" not in out
    assert "ستولتنبرغ" in out  # the report itself stays


def test_seed_003_appended_article_is_cut() -> None:
    raw = seed("003")
    out = trim_boilerplate(raw)
    assert "غوتيريش" in raw and "غوتيريش" not in out  # the Lebanese article after «إقرأ أيضاً»
    assert "أول جولة من الحوار الثنائي" in out


def test_seed_004_appended_bases_article_is_cut() -> None:
    out = trim_boilerplate(seed("004"))
    assert "خراب الجير" not in out
    assert "التحالف" in out


def test_seed_001_ad_marker_blanked() -> None:
    raw = seed("001")
    out = trim_boilerplate(raw)
    assert raw.startswith("[ad_1]") and "[ad_1]" not in out
    assert "الجولة الأولى" in out


@pytest.mark.parametrize("name", ["000", "001", "002", "003", "004"])
def test_offsets_unchanged(name: str) -> None:
    raw = seed(name)
    out = trim_boilerplate(raw)
    assert len(out) == len(raw)
    for i, ch in enumerate(out):
        assert ch == raw[i] or ch == " "


def test_english_markers() -> None:
    page = "Rockets hit the base.\n\nRelated articles\nDrone downed near Erbil\nOther news"
    assert trim_boilerplate(page).strip() == "Rockets hit the base."
    page = "Body text.\nRead more: https://example.com/x\n"
    assert trim_boilerplate(page).strip() == "Body text."


def test_inline_teaser_blanked_rest_kept() -> None:
    page = "أول الخبر.\nاقرأ أيضا: عنوان خبر آخر عن صواريخ\nبقية الخبر هنا."
    out = trim_boilerplate(page)
    assert "صواريخ" not in out and "بقية الخبر هنا." in out


def test_ordinary_sentences_kept() -> None:
    page = "Intro.\nRelated to the attack, officials said more.\nTagsoup is a word."
    assert trim_boilerplate(page) == page


def test_marker_on_first_line_does_not_cut() -> None:
    page = "Related\nThe whole article."
    assert trim_boilerplate(page) == page
