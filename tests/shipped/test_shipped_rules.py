"""The shipped rule sets (``rules/``) against the seeds, their own examples and the labelled corpus.

- The seeds (``seeds/*.txt``, as the seed feed delivers them) give the outcomes of
  ``shared/seeds/EXPECTED.md``: ``negotiation-round`` for 001 and 003, none for 002, ``attack-on-base``
  for none; 000 and 004 are borderline for ``negotiation-round`` and may go either way.
- Precision and recall on the labelled corpus (``tests/data/labelled``) are at least 0.9 per tag,
  overall and on each split; the figures are printed (``pytest -s``, or ``python -m tests.shipped.corpus``).
- ``monitor rules check rules/`` is clean and every rule's own examples pass (``monitor rules test``).

The seeds and the main tags' labelled corpus are scored as shipped (the rules with their learned check);
the third blind set, written to hold the rules' phenomena, and the extra rule sets' own trap examples
(short written sentences, out of the learned check's reach: it was trained on real excerpts and, on
three of these traps — truce talks stalling, violations as background — adds a ceasefire; measured in
docs/rule-sets.md) with the rules alone.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from monitor.rules.evaluate import article_from
from tests.shipped.corpus import (
    BLIND3,
    EXTRA_TAGS,
    MAIN_TAGS,
    ROOT,
    RULES,
    SEEDS,
    load,
    predictions,
    score,
    seed_article,
    tags_of,
)

rules_mod = pytest.importorskip("monitor.rules")


@pytest.fixture(scope="module")
def ruleset():  # type: ignore[no-untyped-def]
    return rules_mod.load_rules(RULES)


@pytest.fixture(scope="module")
def rules_alone():  # type: ignore[no-untyped-def]
    return rules_mod.load_rules(RULES, learned="off")


SEED_EXPECTED = {  # file stem prefix -> (negotiation-round expected, or None when borderline)
    "000": None,
    "001": True,
    "002": False,
    "003": True,
    "004": None,
}


@pytest.mark.parametrize("stem", sorted(SEED_EXPECTED))
def test_seed_outcomes(ruleset, stem: str) -> None:  # type: ignore[no-untyped-def]
    (path,) = SEEDS.glob(f"{stem}_*.txt")
    found = tags_of(ruleset, seed_article(path))
    assert "attack-on-base" not in found, f"seed {stem} reports no attack on a base"
    expected = SEED_EXPECTED[stem]
    if expected is not None:
        assert ("negotiation-round" in found) is expected, f"seed {stem}: negotiation-round should be {expected}"


@pytest.mark.parametrize("tag", MAIN_TAGS)
def test_main_tags_precision_and_recall(ruleset, tag: str) -> None:  # type: ignore[no-untyped-def]
    pairs = list(predictions(ruleset, tag, load(tag)))
    assert len(pairs) >= 100
    for lang in ("ar", "en"):
        assert sum(1 for i, _ in pairs if i.lang == lang and i.label) >= 25, f"{tag}/{lang}: positives"
        assert sum(1 for i, _ in pairs if i.lang == lang and not i.label) >= 25, f"{tag}/{lang}: negatives"
    overall = score(pairs)
    print(f"\n{tag} all: {overall}")
    for split in ("tune", "holdout", "holdout2"):
        s = score((i, p) for i, p in pairs if i.split == split)
        print(f"{tag} {split}: {s}")
        assert s.precision >= 0.9 and s.recall >= 0.9, f"{tag} {split}: {s}"
    for lang in ("ar", "en"):
        print(f"{tag} {lang}: {score((i, p) for i, p in pairs if i.lang == lang)}")
    assert overall.precision >= 0.9 and overall.recall >= 0.9, f"{tag}: {overall}"


@pytest.mark.parametrize("tag", EXTRA_TAGS)
def test_extra_rule_sets_on_their_examples(rules_alone, ruleset, tag: str) -> None:  # type: ignore[no-untyped-def]
    pairs = list(predictions(rules_alone, tag, load(tag)))
    s = score(pairs)
    print(f"\n{tag}: {s}; as shipped: {score(predictions(ruleset, tag, load(tag)))}")
    assert s.precision >= 0.8 and s.recall >= 0.8, f"{tag}: {s}"


def test_every_shipped_tag_is_used_by_some_rule(ruleset) -> None:  # type: ignore[no-untyped-def]
    tags = {t for r in ruleset.rules for t in r.tags}
    assert {*MAIN_TAGS, *EXTRA_TAGS} <= tags


@pytest.mark.parametrize(("tag", "text", "holds"), [
    # attack-on-base: the definition's places (a listed base, or Iraq, Syria, Jordan, the Gulf states)
    ("attack-on-base", "Mortars fell on an airstrip used by American advisers in Somalia.", False),
    ("attack-on-base", "Mortars fell on an airstrip used by American advisers in western Iraq.", True),
    ("attack-on-base", "سقطت قذائف على مدرج يستخدمه مستشارون أمريكيون في الصومال.", False),
    ("attack-on-base", "سقطت قذائف على مدرج يستخدمه مستشارون أمريكيون بالعراق.", True),
    ("attack-on-base", "Two drones were downed near Harir before dawn.", True),
    # coalition-withdrawal: the same places (a pull-out from another country is another mission's)
    ("coalition-withdrawal", "The last of the contingent's soldiers left Mali this week.", False),
    ("coalition-withdrawal", "The last of the contingent's soldiers left Iraq this week.", True),
    ("coalition-withdrawal", "غادر آخر جنود الكتيبة أفغانستان هذا الأسبوع.", False),
    ("coalition-withdrawal", "غادر آخر جنود الكتيبة سوريا هذا الأسبوع.", True),
    ("coalition-withdrawal", "The battalion handed Camp Taji over before leaving.", True),
    # strike-on-armed-groups: a striker of the definition named
    ("strike-on-armed-groups", "Aircraft of unknown origin hit a militia depot near the border.", False),
    ("strike-on-armed-groups", "US aircraft hit a militia depot near the border.", True),
    # negotiation-round: talks, a meeting or parties meeting named ("a round of sanctions" names none)
    ("negotiation-round", "The ministers announced a fresh round of sanctions on Tuesday.", False),
    ("negotiation-round", "The two delegations meet again on Tuesday for a fresh round.", True),
    # (session 25) not a league's or an election's round, nor a parliament's session, named with it
    ("negotiation-round", "The league's third round opens on Friday while clubs hold talks on broadcast fees.", False),
    ("negotiation-round", "تبدأ الجولة الثانية من الدوري يوم الجمعة وسط مفاوضات بين الأندية على حقوق البث.", False),
    ("negotiation-round", "افتتح رئيس المجلس أعمال الدورة الجديدة للبرلمان بحضور الوزراء بعد اجتماع تشاوري.", False),
    ("negotiation-round", "The joint committee's session on the border opened in the capital after talks last week.", True),
])
def test_shipped_rescue_needs(ruleset, tag: str, text: str, holds: bool) -> None:  # type: ignore[no-untyped-def]
    """The shipped folder's conditions on what the learned check may add (rules/learned.yaml)."""
    assert tag in ruleset.rescue_needs
    got = ruleset.analyse(article_from({"id": "n", "title": "", "content": text}))
    assert (tag not in got.unmet) is holds, got.unmet


def _monitor(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)


def test_rules_check_is_clean() -> None:
    res = _monitor("rules", "check", str(RULES))
    assert res.returncode == 0, res.stdout + res.stderr


def test_rule_examples_pass() -> None:
    res = _monitor("rules", "test", str(RULES))
    assert res.returncode == 0, res.stdout + res.stderr


def test_corpus_files_are_well_formed() -> None:
    for tag in (*MAIN_TAGS, *EXTRA_TAGS):
        items = load(tag)
        assert len({i.id for i in items}) == len(items), f"{tag}: duplicate ids"
        assert {i.lang for i in items} == {"ar", "en"}
        assert {i.split for i in items} <= {"tune", "holdout", "holdout2"}
        assert "tune" in {i.split for i in items} and "holdout" in {i.split for i in items}
        assert all(i.title and i.content and i.note for i in items)
        holdout = sum(1 for i in items if i.split != "tune") / len(items)
        low = 0.2 if tag in MAIN_TAGS else 0.15
        assert low <= holdout <= 0.5, f"{tag}: holdout share {holdout:.2f}"


def test_seeds_present() -> None:
    assert len(list(Path(SEEDS).glob("*.txt"))) == 5


def test_attack_or_weapon_is_the_union_of_attack_acts_and_weapons() -> None:
    """A list cannot include another, so ``attack_or_weapon`` is a hand-kept union; keep it in sync."""
    import yaml

    def terms(name: str) -> set[str]:
        return set(yaml.safe_load((RULES / "lists" / f"{name}.yaml").read_text(encoding="utf-8"))["terms"])

    assert terms("attack_or_weapon") == terms("attack_acts") | terms("weapons")


@pytest.mark.parametrize("tag", MAIN_TAGS)
def test_blind3_precision_and_recall(rules_alone, tag: str) -> None:  # type: ignore[no-untyped-def]
    """The third blind set (``blind3-<tag>.jsonl``), kept apart from the tuned corpus: >= 0.9 per tag and
    per language. First-look figures (before any rule change) are in docs/rule-sets.md."""
    items = load(tag, BLIND3)
    assert len({i.id for i in items}) == len(items), f"{tag}: duplicate ids"
    assert {i.split for i in items} == {"blind3"}
    assert all(i.title and i.content and i.note for i in items)
    pairs = list(predictions(rules_alone, tag, items))
    for lang in ("ar", "en"):
        assert sum(1 for i, _ in pairs if i.lang == lang and i.label) >= 15, f"{tag}/{lang}: positives"
        assert sum(1 for i, _ in pairs if i.lang == lang and not i.label) >= 15, f"{tag}/{lang}: negatives"
        s = score((i, p) for i, p in pairs if i.lang == lang)
        print(f"\n{tag} blind3 {lang}: {s}")
        assert s.precision >= 0.9 and s.recall >= 0.9, f"{tag} blind3 {lang}: {s}"
    overall = score(pairs)
    print(f"{tag} blind3: {overall}")
    assert overall.precision >= 0.9 and overall.recall >= 0.9, f"{tag} blind3: {overall}"
