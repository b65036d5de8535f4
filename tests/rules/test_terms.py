"""Term matching: every morphology trap of shared/docs/arabic.md, through the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.models import Article
from monitor.rules import load_rules


def rule_for(tmp_path: Path, *terms: str) -> object:
    quoted = ", ".join(f'"{t}"' for t in terms)
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "r.yaml").write_text(f"id: t\nmatch:\n  any: [{quoted}]\n", encoding="utf-8")
    return load_rules(tmp_path)


def matched(rs: object, text: str) -> list[str]:
    ms = rs.match(Article(id="x", content=text))  # type: ignore[attr-defined]
    return [e.matched for m in ms for e in m.evidence]


@pytest.mark.parametrize(
    "text",
    ["قاعدة", "والقاعدة", "بالقاعدة", "فالقاعدة", "للقاعدة", "وللقاعدة", "وبالقاعدة", "كالقاعدة",
     "لقاعدة", "بقاعدة", "قاعدته", "قاعدتها", "قاعدتهم", "قاعدتين", "قاعدتان", "القاعدتين", "قاعدتنا",
     "قاعدةً", "قاعده"],
)
def test_arabic_proclitics_and_suffixes(tmp_path: Path, text: str) -> None:
    assert matched(rule_for(tmp_path, "قاعدة"), f"سقط صاروخ على {text} أمس") != []


@pytest.mark.parametrize("text", ["قواعد", "قاعدي", "مقاعدة", "قاعدت", "القاعديات"])
def test_arabic_non_matches(tmp_path: Path, text: str) -> None:
    assert matched(rule_for(tmp_path, "قاعدة"), f"كلام عن {text} فقط") == []


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("جولة", "جولات"),  # sound plural of a ة noun
        ("جولة", "جولتها"),  # ة shown as ت before a suffix
        ("صاروخ", "صاروخا"),  # tanween alef
        ("صاروخ", "صاروخين"),  # dual
        ("صاروخ", "صاروخية"),  # nisba
        ("مسؤول", "مسئولون"),  # Egyptian hamza seat, plural
        ("شمالي", "شمالى"),  # Egyptian final ya
        ("المشتركة", "المشترکة"),  # Persian kaf
        ("الولايات المتحدة", "الولایات المتحدة"),  # Persian ya
        ("اللجنة", "للجنة"),  # ل + ال + ل written with two lams
        ("اللجنة", "واللجنة"),
        ("استهدف", "واستهدفت"),  # proclitic + suffix on a verb
        ("عين الأسد", "بعين الأسد"),  # phrase with a proclitic
        ("قصف إسرائيلي", "قصفا إسرائيليا"),  # an indefinite phrase in the accusative: alef on each word
        ("هجوم صاروخي كبير", "وهجوما صاروخيا كبيرا"),
        ("قصف إسرائيلي", "القصف الإسرائيلي"),  # and its definite form
    ],
)
def test_arabic_variants(tmp_path: Path, term: str, text: str) -> None:
    assert matched(rule_for(tmp_path, term), f"قال {text} اليوم") != []


@pytest.mark.parametrize(
    ("term", "text"),
    [
        ("قصف إسرائيلي", "قصفا مواقع"),  # the first word alone (here a dual verb) is not the phrase
        ("قصف إسرائيلي", "قصفا الإسرائيلي"),  # the accusative is indefinite: no article after a tanween
        ("ضربة جوية", "ضربةا جويةا"),  # a word in ة takes no tanween alef
    ],
)
def test_arabic_phrase_non_matches(tmp_path: Path, term: str, text: str) -> None:
    assert matched(rule_for(tmp_path, term), f"قال {text} اليوم") == []


def test_broken_plurals_need_the_list(tmp_path: Path) -> None:
    assert matched(rule_for(tmp_path, "صاروخ"), "أطلقت صواريخ") == []
    assert matched(rule_for(tmp_path / "b", "صاروخ", "صواريخ"), "أطلقت الصواريخ") == ["الصواريخ"]


def test_article_term_needs_article(tmp_path: Path) -> None:
    rs = rule_for(tmp_path, "اللجنة")
    assert matched(rs, "تشكيل لجنة جديدة") == []  # indefinite: not the committee
    assert matched(rs, "بالجنة") == []  # a different word


@pytest.mark.parametrize(
    ("term", "text", "hit"),
    [
        ("base", "two bases were hit", "bases"),
        ("base", "the base's gate", "base"),
        ("church", "churches", "churches"),
        ("base", "baseball game", None),
        ("attack*", "attackers were seen", "attackers"),
        ("attack*", "the attack", "attack"),
        ("military base", "a Military  Base near", "Military  Base"),
        ("Ain al-Asad", "AIN AL-ASAD air base", "AIN AL-ASAD"),
        ("F-16", "two F-16s crashed", "F-16"),  # letters split from digits: F-16 s
    ],
)
def test_english(tmp_path: Path, term: str, text: str, hit: str | None) -> None:
    got = matched(rule_for(tmp_path, term), text)
    assert got == ([hit] if hit else [])


def test_digits_in_terms_and_text(tmp_path: Path) -> None:
    rs = rule_for(tmp_path, "يونيون 3")
    assert matched(rs, "مقر يونيون ٣ في بغداد") == ["يونيون ٣"]
    rs = rule_for(tmp_path / "b", "2023")
    assert matched(rs, "في أغسطس٢٠٢٣ وقع") == ["٢٠٢٣"]


def test_evidence_offsets_point_into_original(tmp_path: Path) -> None:
    rs = rule_for(tmp_path, "قاعدة عسكرية")
    text = "هاجمت مسيّرةٌ «القاعدةَ العسكريّة» فجراً"
    (m,) = rs.match(Article(id="x", content=text))  # type: ignore[attr-defined]
    (ev,) = m.evidence
    assert ev.field == "content"
    assert text[ev.start:ev.end] == ev.matched == "القاعدةَ العسكريّة"  # the whole words



def test_short_terms_collide_with_affixed_words(tmp_path: Path) -> None:
    """Known limit: affix tolerance lets a short stem meet another word (و+زار+ة = وزارة, the ministry).
    It is kept because the same shape is a real report for verbs (و+قصف+ت); rule authors avoid such
    short terms or add the longer word to ``none``."""
    rs = rule_for(tmp_path, "زار")
    assert matched(rs, "وزار الوزير القاعدة") == ["وزار"]
    assert matched(rs, "قالت وزارة الدفاع") == ["وزارة"]
    assert matched(rule_for(tmp_path / "b", "قصف"), "وقصفت الطائرات") == ["وقصفت"]
