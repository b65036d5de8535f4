"""Language identification, numbers next to terms, sentences and tokens."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.text import detect_language, fold, sentences, tokens
from monitor.text.numbers import number_after, number_before

SEEDS = Path(__file__).resolve().parents[2] / "seeds"


@pytest.mark.parametrize("path", sorted(SEEDS.glob("*.txt")), ids=lambda p: p.name[:3])
def test_seeds_are_arabic_despite_persian_letters(path: Path) -> None:
    assert detect_language(path.read_text(encoding="utf-8")) == "ar"


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("این یک متن فارسی است که برای آزمایش نوشته شده و پس از آن گفتگو ادامه یافت", "fa"),
        ("Three rockets hit the Ain al-Asad base on Tuesday, officials said.", "en"),
        ("Rockets hit Ain al-Asad", "en"),
        ("Le président de la République a dit que la base est dans le nord", "fr"),
        ("Президент заявил, что база находится на севере", "ru"),
        ("", ""),
        ("12345 678", ""),
    ],
)
def test_languages(text: str, lang: str) -> None:
    assert detect_language(text) == lang


@pytest.mark.parametrize(
    ("text", "noun", "value"),
    [
        ("ثلاثة صواريخ", "صواريخ", 3),
        ("أربع قذائف", "قذائف", 4),
        ("أكثر من 150 صاروخ", "صاروخ", 150),
        ("خمسة عشر صاروخا", "صاروخا", 15),
        ("three rockets", "rockets", 3),
        ("twenty-five drones", "drones", 25),
        ("1,500 troops", "troops", 1500),
        ("بـ٣ صواريخ", "صواريخ", 3),
    ],
)
def test_number_before(text: str, noun: str, value: float) -> None:
    f = fold(text)
    assert number_before(f, f.index(fold(noun))) == value


def test_vague_quantities_give_no_number() -> None:
    f = fold("عدة صواريخ")
    assert number_before(f, f.index("صواريخ")) is None
    assert number_before("several rockets", 8) is None


def test_number_after() -> None:
    f = fold("صواريخ ثلاثة")
    assert number_after(f, len("صواريخ")) == 3
    assert number_after("rockets: 3 more", 7) == 3


def test_sentences_and_tokens() -> None:
    text = fold("الجملة الأولى. الثانية؟ الثالثة\nالرابعة 2.5 مليون")
    got = [s.text for s in sentences(text)]
    assert got == ["الجمله الاولي.", "الثانيه?", "الثالثه", "الرابعه 2.5 مليون"]
    toks = [t.text for t in tokens(fold("بـ4 صواريخ"))]
    assert toks == ["ب", "4", "صواريخ"]
    for t in tokens(text):
        assert text[t.start:t.end] == t.text


def test_abbreviations_do_not_end_sentences() -> None:
    got = [s.text for s in sentences(fold("A drone targeted U.S. forces at al-Tanf. Then Gen. Smith spoke."))]
    assert got == ["a drone targeted u.s. forces at al-tanf.", "then gen. smith spoke."]


@pytest.mark.parametrize(("raw", "want"), [
    ("وصل الوفد مساء أمس.وأعلن المتحدث انطلاق الجولة", ["وصل الوفد مساء امس.", "واعلن المتحدث انطلاق الجوله"]),
    ("The talks ended in Cairo.Officials said a second round is due", ["the talks ended in cairo.",
                                                                      "officials said a second round is due"]),
    ("هل انتهت الهدنة؟قال المصدر لا", ["هل انتهت الهدنه?", "قال المصدر لا"]),
    ("the US.Sunday's raid", ["the us.", "sunday's raid"]),
    ("انتهت الجولة أمس .وسادت أجواء إيجابية", ["انتهت الجوله امس .", "وسادت اجواء ايجابيه"]),
])
def test_a_stop_glued_to_the_next_word_ends_a_sentence(raw: str, want: list[str]) -> None:
    assert [s.text for s in sentences(fold(raw))] == want


@pytest.mark.parametrize("raw", [
    "U.S.A forces and U.N.OG staff",  # single letters
    "a statement by حزب (بي.كيه.كيه) today",  # a chain of three dotted parts: an acronym
    "see pic.example.com/abc now",  # a web address
    "the site Daily.az reported, and العربية.نت added",  # a domain after the dot
    "write to first.last@example.org today",  # an e-mail
    "prices rose 2.5 percent as v2.0 is out",  # digits
    "Gen.Smith and Mr.Jones met",  # abbreviations
    "a 3.five mix and x.y",  # a digit or a single letter on one side
])
def test_dotted_names_are_not_split(raw: str) -> None:
    text = fold(raw)
    assert [s.text for s in sentences(text)] == [text.strip()]


def test_arabic_typed_with_persian_ya_and_kaf_is_still_arabic():
    from monitor.text import detect_language

    ar = ("استهدف هجوم بطائرة مسيرة قاعدة عين الأسد الجوية التي تستضيف قوات أمريكية في العراق، وقال مصدر "
          "أمني إن الهجوم لم يسفر عن إصابات")
    persian_keyboard = ar.replace("ي", "ی").replace("ك", "ک")
    persian = ("حمله پهپادی به پایگاه عین الاسد که میزبان نیروهای آمریکایی است انجام شد و یک منبع امنیتی "
               "گفت این حمله تلفاتی نداشت")
    assert detect_language(persian_keyboard) == "ar"
    assert detect_language(persian) == "fa"
