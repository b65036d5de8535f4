"""Engine features on the fixture rules (tests/rules/fixtures/basic) and on small inline rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.models import Article
from monitor.rules import RuleSet, RulesInvalid, load_rules


def art(content: str = "", title: str = "", **kw: object) -> Article:
    return Article(id="x", title=title, content=content, **kw)  # type: ignore[arg-type]


def rules_of(ms: list) -> set[str]:  # type: ignore[type-arg]
    return {m.rule for m in ms}


def test_attack_in_arabic_reports_entity(basic: RuleSet) -> None:
    (m,) = [m for m in basic.match(art("سقطت ثلاثة صواريخ استهدفت قاعدة عين الأسد الجوية")) if m.rule == "attack-on-base"]
    assert m.entities["bases"] == ("ain-al-asad",)
    assert m.entities["weapons"] == ("rocket",)
    assert m.severity == "high" and m.rule_version == "3" and m.tags == ("attack-on-base",)
    assert any(e.list == "bases" and e.entity == "ain-al-asad" and e.matched == "عين الأسد" for e in m.evidence)


def test_same_entity_across_languages(basic: RuleSet) -> None:
    en = basic.match(art("Two rockets struck the Al Asad Airbase on Tuesday."))
    ar = basic.match(art("صاروخان استهدفا قاعدة عين الأسد"))
    pick = lambda ms: next(m for m in ms if m.rule == "attack-on-base")  # noqa: E731
    assert pick(en).entities["bases"] == pick(ar).entities["bases"] == ("ain-al-asad",)


def test_none_excludes(basic: RuleSet) -> None:
    assert "attack-on-base" not in rules_of(basic.match(art("Rockets struck a Russian base near Ain al-Asad.")))


def test_sentence_requires_same_sentence(basic: RuleSet) -> None:
    same = "وفي خبر آخر استهدفت صواريخ قاعدة عين الأسد. وصلت تعزيزات إلى المخازن"
    assert "attack-on-base" in rules_of(basic.match(art(same)))
    apart = "وصلت صواريخ جديدة إلى المخازن. وفي خبر آخر استهدف مسلحون قاعدة عين الأسد"
    assert "attack-on-base" not in rules_of(basic.match(art(apart)))


def test_language_filter(basic: RuleSet) -> None:
    persian = "سه موشک به پایگاه عین الاسد شلیک شد و این حمله را گروه‌ها انجام دادند که گفت"
    an = basic.analyse(art(persian))
    assert an.lang == "fa"
    assert "attack-on-base" not in an.evaluated  # languages: [ar, en]
    assert "farsi" in rules_of(an.matches)


def test_near_within(basic: RuleSet) -> None:
    assert "negotiation-round" in rules_of(basic.match(art("انطلقت اليوم الجولة الأولى من الحوار")))
    far = "انطلقت الجولة الأولى من بطولة كبيرة وبعد أسابيع طويلة جدا جدا بدأ الحوار"
    assert "negotiation-round" not in rules_of(basic.match(art(far)))
    assert "negotiation-round" not in rules_of(basic.match(art("الجولة الثانية من الدوري والحوار")))


def test_quantity_ar_en(basic: RuleSet) -> None:
    for text, value in [("أطلقت ثلاثة صواريخ", 3), ("five rockets", 5), ("أكثر من 150 صاروخ", 150),
                        ("أطلقوا 4 قذائف هاون", 4)]:
        (m,) = [m for m in basic.match(art(text)) if m.rule == "quantity-rockets"]
        assert m.numbers == (value,)
    for text in ["صاروخان", "two rockets", "عدة صواريخ", "rockets"]:
        assert "quantity-rockets" not in rules_of(basic.match(art(text)))


def test_weights_with_negative(basic: RuleSet) -> None:
    (m,) = [m for m in basic.match(art("استهدف صاروخ الموقع")) if m.rule == "weighted"]
    assert m.score == 3
    assert "weighted" not in rules_of(basic.match(art("استهدف صاروخ الموقع خلال مناورات")))  # 3 - 3
    assert "weighted" not in rules_of(basic.match(art("صاروخ")))  # 2 < 3
    assert "weighted" not in rules_of(basic.match(Article(id="x", summary="استهدف صاروخ")))  # fields


def test_field_scoping(basic: RuleSet) -> None:
    assert "title-only" in rules_of(basic.match(art("x", title="عاجل: انفجار")))
    assert "title-only" not in rules_of(basic.match(art("عاجل: انفجار")))


def test_source_condition(basic: RuleSet) -> None:
    hit = basic.match(art("x", source="Reuters", tags=("Iraq", "world")))
    assert "source-reuters" in rules_of(hit)
    assert "source-reuters" not in rules_of(basic.match(art("x", source="AP", tags=("iraq",))))
    assert "source-reuters" not in rules_of(basic.match(art("x", source="reuters", tags=("syria",))))


def test_regex_on_normalised_text(basic: RuleSet) -> None:
    (m,) = [m for m in basic.match(art("Two UAVs were downed")) if m.rule == "drones-regex"]
    assert m.evidence[0].matched == "UAVs"


def test_disabled_rules_are_kept_but_not_run(basic: RuleSet) -> None:
    assert any(r.id == "disabled-rule" and not r.enabled for r in basic.rules)
    assert "disabled-rule" not in rules_of(basic.match(art("صاروخ")))


def test_presearcher_skips_rules_whose_terms_did_not_occur(basic: RuleSet) -> None:
    an = basic.analyse(art("مقال عن الطقس والزراعة"))
    assert an.matches == [] or rules_of(an.matches) <= {"source-reuters", "farsi", "drones-regex"}
    assert "attack-on-base" not in an.evaluated and "negotiation-round" not in an.evaluated
    assert "source-reuters" in an.evaluated  # no terms: always evaluated
    # a regex opening with \b and literal words is triggered by those words (drone*, uav*)
    assert "drones-regex" not in an.evaluated
    an = basic.analyse(art("Two UAVs and a drone were seen"))
    assert "drones-regex" in an.evaluated and "drones-regex" in rules_of(an.matches)
    an = basic.analyse(art("عين الأسد"))  # bases occur, but no weapon nor verb: prefiltered
    assert "attack-on-base" not in an.evaluated


def test_boilerplate_is_not_matched(basic: RuleSet) -> None:
    text = "خبر عن الاقتصاد.\n\nمقالات مشابهة\n\nثلاثة صواريخ تستهدف قاعدة عين الأسد\n"
    an = basic.analyse(art(text))
    assert "attack-on-base" not in rules_of(an.matches)
    assert "صواريخ" not in an.text


def test_analysis_text_is_normalised(basic: RuleSet) -> None:
    an = basic.analyse(art("أطلقت الصواريخُ", title="عاجل"))
    assert an.text == "عاجل\nاطلقت الصواريخ"
    assert an.lang == "ar"


def test_unknown_language_does_not_fail(basic: RuleSet) -> None:
    an = basic.analyse(art("これは日本語の記事です", lang="ja"))
    assert an.lang == "ja" and an.matches == []


def test_local_lists_and_prefix(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "id: r\nlists:\n  people:\n    entities:\n      sudani:\n        terms: [السوداني, Sudani]\n"
        "match:\n  all: ['@people', 'negotiat*']\n", encoding="utf-8")
    rs = load_rules(tmp_path)
    (m,) = rs.match(art("Sudani said negotiations would start"))
    assert m.entities == {"people": ("sudani",)}


@pytest.mark.parametrize("seed", ["000", "001", "002", "003", "004"])
def test_seeds_do_not_crash_and_map_evidence(basic: RuleSet, seed: str) -> None:
    path = next((Path(__file__).resolve().parents[2] / "seeds").glob(f"{seed}_*.txt"))
    text = path.read_text(encoding="utf-8")
    an = basic.analyse(art(text))
    assert an.lang == "ar"
    for m in an.matches:
        assert m.rule != "attack-on-base"  # no seed reports an attack
        for e in m.evidence:
            assert text[e.start:e.end] == e.matched


def test_shared_quantity_nodes_report_numbers_for_each_rule(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "rules:\n"
        "  - id: a\n    match:\n      quantity: {of: [صواريخ, rockets], min: 2}\n"
        "  - id: b\n    match:\n      quantity: {of: [صواريخ, rockets], min: 2}\n", encoding="utf-8")
    ms = load_rules(tmp_path).match(art("أطلقت خمسة صواريخ"))
    assert [(m.rule, m.numbers) for m in ms] == [("a", (5.0,)), ("b", (5.0,))]


def test_traps_expressible(tmp_path: Path) -> None:
    """The traps of shared/docs/arabic.md, written in the rule language."""
    (tmp_path / "r.yaml").write_text(
        "id: attack\n"
        "match:\n"
        "  all:\n"
        "    - sentence: [{any: [صاروخ, صواريخ, rocket*]}, {any: [قاعدة, base]}]\n"
        "  none:\n"
        "    - near: [{any: [انطلق, أطلق من, launched from, lifted off from]}, {any: [قاعدة, base]}]\n"
        "      within: 4\n"
        "    - quantity: {of: [صاروخ, صواريخ, rocket*], min: 50}\n"  # running totals
        "    - sentence: [{any: [روسية, Russian, إسرائيلية, Israeli]}, {any: [قاعدة, base]}]\n"
        "    - sentence: [{any: [حفل, تسليم, زيارة, ceremony, handover, visit]}, {any: [قاعدة, base]}]\n",
        encoding="utf-8")
    rs = load_rules(tmp_path)
    fires = lambda t: bool(rs.match(art(t)))  # noqa: E731
    assert fires("سقطت ثلاثة صواريخ على قاعدة عين الأسد")
    assert fires("Two rockets hit the base on Tuesday.")
    assert not fires("A SpaceX rocket lifted off from Vandenberg base.")
    assert not fires("وأطلق المسلحون أكثر من 150 صاروخ على القواعد الأمريكية وقاعدة عين الأسد")
    assert not fires("Rockets hit a Russian base in Syria.")
    assert not fires("أقيم حفل تسليم قاعدة عسكرية بحضور صواريخ الدفاع الجوي")


def test_any_inside_near_takes_every_alternative_that_holds(tmp_path: Path) -> None:
    # `drone` occurs, but far from the base; `rocket` is the alternative next to it
    (tmp_path / "r.yaml").write_text(
        "id: near-any\ntitle: t\nmatch:\n  near: [{any: [drone, {regex: '\\brockets?\\b'}]}, base]\n"
        "  within: 3\n",
        encoding="utf-8")
    rs = load_rules(tmp_path)
    text = "A drone was seen over the city on Monday, officials said. Later a rocket hit the base."
    m = rs.match(Article(id="a", title="", content=text))
    assert rules_of(m) == {"near-any"}
    assert {e.matched for e in m[0].evidence} >= {"rocket", "base"}


def test_none_inside_sentence_rules_out_only_that_sentence(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "id: s\ntitle: t\nmatch:\n  sentence: [rocket, base, {none: [\"last week\", {language: fr}]}]\n",
        encoding="utf-8")
    rs = load_rules(tmp_path)
    background = "Talks opened on Monday. A rocket hit the base last week."
    assert rs.match(art(background)) == []  # the only rocket+base sentence is background
    both = "A rocket hit the base on Tuesday. A rocket had hit the base last week too."
    m = rs.match(art(both))
    assert rules_of(m) == {"s"}
    assert {(e.start, e.end) for e in m[0].evidence} == {(2, 8), (17, 21)}  # the first sentence only
    assert rules_of(rs.match(art("A rocket hit the base."))) == {"s"}


@pytest.mark.parametrize("item", [
    "{any: [rocket], none: [\"last week\"]}",  # a mapping with a `none` as an item
    "{all: [rocket, {none: [\"last week\"]}]}",  # an `all` holding a `none`
    "{any: [mortar, {any: [rocket], none: [\"last week\"]}]}",  # inside an `any` alternative
])
def test_a_none_nested_in_a_sentence_item_is_read_in_that_sentence(tmp_path: Path, item: str) -> None:
    (tmp_path / "r.yaml").write_text(f"id: s\ntitle: t\nmatch:\n  sentence: [{item}, base]\n", encoding="utf-8")
    rs = load_rules(tmp_path)
    # "last week" in another sentence does not rule out the fresh one (it did when read over the article)
    m = rs.match(art("A rocket hit the base on Tuesday. Another one had hit it last week."))
    assert rules_of(m) == {"s"}
    assert {e.matched for e in m[0].evidence} == {"rocket", "base"}
    assert rs.match(art("A rocket hit the base last week.")) == []  # in the same sentence it does


def test_a_none_nested_in_an_exclusion_is_read_in_that_sentence(tmp_path: Path) -> None:
    # rule out the sentences with "last week", unless that sentence also says "again"
    (tmp_path / "r.yaml").write_text(
        "id: s\ntitle: t\nmatch:\n  sentence: [rocket, base, {none: [{any: [\"last week\"], none: [again]}]}]\n",
        encoding="utf-8")
    rs = load_rules(tmp_path)
    assert rs.match(art("A rocket hit the base last week. It was hit again by a mortar.")) == []
    assert rules_of(rs.match(art("A rocket hit the base again last week."))) == {"s"}


def test_a_positionless_exclusion_rules_out_every_sentence(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "id: s\ntitle: t\nmatch:\n  sentence: [rocket, base, {none: {language: en}}]\n", encoding="utf-8")
    assert load_rules(tmp_path).match(art("A rocket hit the base.")) == []


@pytest.mark.parametrize(("match", "message"), [
    ("near: [rocket, {none: [base]}]", "`none` cannot be an item of `near`"),
    ("sentence: [{none: [base]}, {none: [rocket]}]", "needs an item besides"),
])
def test_misplaced_none_is_reported(tmp_path: Path, match: str, message: str) -> None:
    (tmp_path / "r.yaml").write_text(f"id: s\ntitle: t\nmatch:\n  {match}\n", encoding="utf-8")
    with pytest.raises(RulesInvalid) as exc:
        load_rules(tmp_path)
    assert any(message in e.message and e.line == 4 for e in exc.value.errors), exc.value.errors
