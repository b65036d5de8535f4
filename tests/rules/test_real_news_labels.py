"""The committed real-news labels (tests/data/real-news/labels-<lang>.jsonl): facts only, readable by
``monitor rules eval``.

The excerpts themselves are third-party text and stay outside the repository; what is committed per
article is its address, language, the tags it carries by the issue-12 definitions, its split (``dev`` or
the blind ``holdout``; ``blind``, ``blind2``, ... in labels-blind.jsonl, labels-blind2.jsonl, ..., the independent
checks; ``siblings5`` in labels-siblings5.jsonl, the fifth round's fresh batches) and, when the labeller
could not decide, ``ambiguous``. These tests keep the files in that shape: no text field slips in, every tag is one the shipped rules carry, ids and addresses are
unique, and the files load with the scorer's own reader.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from monitor.rules import RuleSet, load_rules
from monitor.rules.evaluate import evaluate, read_labelled, rule_tags

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted((ROOT / "tests" / "data" / "real-news").glob("labels-*.jsonl"))
FIELDS = {"id", "url", "lang", "labels", "split"}


@pytest.fixture(scope="module")
def tags() -> tuple[str, ...]:
    return rule_tags(load_rules(ROOT / "rules"))


def test_there_are_label_files() -> None:
    assert FILES, "tests/data/real-news/labels-*.jsonl missing"


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_facts_only_and_well_formed(path: Path, tags: tuple[str, ...]) -> None:
    lang = path.stem.removeprefix("labels-")
    # labels-blind*.jsonl (blind, blind2, blind3, ...): the independent blind checks, and
    # labels-siblings*.jsonl: the fresh batches a tuning round scored once before fixing what they showed;
    # labels-learn*.jsonl: the fresh batches the shipped learned check was trained on (docs/rule-sets.md);
    # labels-audit*.jsonl: a second reading of training excerpts whose labels the model doubted (docs/rules.md);
    # all four kinds: both languages, split = file suffix
    blind = lang.startswith(("blind", "siblings", "learn", "audit"))
    ids, urls = set(), set()
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        row = json.loads(line)
        assert FIELDS <= set(row) <= FIELDS | {"ambiguous"}, f"{path.name}:{n}: fields {sorted(row)}"
        if blind:
            assert row["lang"] in ("ar", "en") and row["split"] == lang, f"{path.name}:{n}"
        else:
            assert row["lang"] == lang and row["split"] in ("dev", "holdout"), f"{path.name}:{n}"
        assert row["url"].startswith(("http://", "https://")), f"{path.name}:{n}"
        assert set(row["labels"]) <= set(tags), f"{path.name}:{n}: {row['labels']}"
        assert row["id"] not in ids and row["url"] not in urls, f"{path.name}:{n}: repeated"
        ids.add(row["id"])
        urls.add(row["url"])
    items, errors = read_labelled(path, tags)
    assert errors == [] and len(items) == len(ids)


BATTERIES = sorted((ROOT / "tests" / "data" / "labelled").glob("real-news-classes-*.jsonl"))


@pytest.fixture(scope="module")
def shipped() -> RuleSet:
    """The shipped rules alone: the batteries hold the phenomena the rules were written for, so they test
    the rules, with the learned check off (its figures are measured on fresh real news: docs/rule-sets.md)."""
    return load_rules(ROOT / "rules", learned="off")


@pytest.mark.parametrize("path", BATTERIES, ids=lambda p: p.stem.removeprefix("real-news-classes-"))
def test_error_classes_in_our_words_hold(path: Path, shipped: RuleSet) -> None:
    """tests/data/labelled/real-news-classes-*.jsonl: each error class found on real news, written anew in
    our own words; every item called right (the rules loaded once for all the files: the CLI gate is run
    on one of them below)."""
    tags = rule_tags(shipped)
    items, errors = read_labelled(path, tags)
    assert errors == [] and items, f"{path.name}: {errors[:3]}"
    ev = evaluate(shipped, items, tags)
    wrong = [f"{o.kind} {o.tag} {o.item.article.id} (line {o.item.line})" for o in ev.errors]
    assert ev.articles > 0 and wrong == [], f"{path.name}: {wrong}"


def test_the_cli_gate_passes_on_a_battery() -> None:
    """`monitor rules eval --min 1` is the gate a rule author runs on a battery (here the first one)."""
    from click.testing import CliRunner

    from monitor.cli import main

    r = CliRunner().invoke(main, ["rules", "eval", "--rules", str(ROOT / "rules"), "--learned", "off", "--min", "1",
                                  str(BATTERIES[0])])
    assert r.exit_code == 0, r.stdout + r.stderr
    assert "--min 1.0: passed" in r.stdout
