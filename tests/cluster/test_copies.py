"""Copies on real text: the seeds and their near-copies group; distinct stories never do."""

from __future__ import annotations

import pytest

from monitor.cluster import CopyDetector, MemoryStore
from tests.cluster.conftest import HOUR, T0
from tests.cluster.texts import ATTACK_AR, ATTACK_EN, NEAR_COPIES


def detector(**kw) -> CopyDetector:
    return CopyDetector(MemoryStore(), **kw)


@pytest.mark.parametrize("edit", sorted(NEAR_COPIES))
def test_each_seed_and_its_near_copy_share_a_group(seeds, norm, edit):
    d = detector()
    for i, (name, text) in enumerate(seeds.items()):
        first = d.check(f"{name}-orig", norm(text), T0 + i * 60)
        copy = d.check(f"{name}-{edit}", norm(NEAR_COPIES[edit](text)), T0 + i * 60 + 900)
        assert first.copy_group == f"{name}-orig" and not first.is_copy
        assert copy.copy_group == f"{name}-orig", (name, edit, copy)
        assert copy.duplicate_of == f"{name}-orig"
        assert copy.similarity >= 0.8


def test_all_copies_of_all_seeds_form_exactly_one_group_per_seed(seeds, norm):
    d = detector()
    groups: dict[str, set[str]] = {}
    t = T0
    for edit in ["orig", *sorted(NEAR_COPIES)]:
        for name, text in seeds.items():
            body = text if edit == "orig" else NEAR_COPIES[edit](text)
            t += 60
            dec = d.check(f"{name}/{edit}", norm(body), t)
            groups.setdefault(dec.copy_group, set()).add(name)
    assert sorted(groups) == [f"{n}/orig" for n in sorted(seeds)]
    assert all(len(members) == 1 for members in groups.values())


def test_distinct_seeds_are_not_copies(seeds, norm):
    d = detector()
    decisions = [d.check(name, norm(text), T0 + i) for i, (name, text) in enumerate(seeds.items())]
    assert [x.copy_group for x in decisions] == list(seeds)
    assert not any(x.is_copy for x in decisions)


def test_independent_reports_of_one_event_are_not_copies(norm):
    d = detector()
    assert not d.check("ar", norm(ATTACK_AR), T0).is_copy
    assert not d.check("en", norm(ATTACK_EN), T0 + 60).is_copy


def test_exact_duplicate_even_with_other_spacing_and_punctuation(seeds, norm):
    d = detector()
    text = norm(seeds["002"])
    d.check("a", text, T0)
    dup = d.check("b", text.replace(" ", "  ").replace("\n", "\n\n") + " .", T0 + 10)
    assert dup.exact and dup.copy_group == "a" and dup.similarity == 1.0


def test_group_is_named_by_its_first_article_through_chains(seeds, norm):
    d = detector()
    base = norm(seeds["000"])
    d.check("first", base, T0)
    d.check("second", norm(NEAR_COPIES["added-boilerplate"](seeds["000"])), T0 + HOUR)
    third = d.check("third", norm(NEAR_COPIES["all-three"](seeds["000"])), T0 + 2 * HOUR)
    assert third.copy_group == "first"


def test_same_articles_in_same_order_give_same_groups(seeds, norm):
    stream = []
    for k, edit in enumerate(["orig", *sorted(NEAR_COPIES)]):
        for name, text in seeds.items():
            stream.append((f"{name}/{edit}", norm(text if edit == "orig" else NEAR_COPIES[edit](text)), T0 + k))

    def run() -> list[tuple[str, str, str | None, float]]:
        d = detector()
        return [
            (x.article_id, x.copy_group, x.duplicate_of, x.similarity)
            for x in (d.check(a, txt, t) for a, txt, t in stream)
        ]

    assert run() == run()


def test_window_expires_by_article_time(seeds, norm):
    d = detector(window_s=48 * HOUR)
    text = norm(seeds["003"])
    d.check("old", text, T0)
    late = d.check("late", norm(NEAR_COPIES["another-headline"](seeds["003"])), T0 + 49 * HOUR)
    assert late.copy_group == "late" and not late.is_copy
    assert d.store.sizes()["copies"] == 1  # "old" was dropped from memory, not just ignored
    within = d.check("within", text, T0 + 50 * HOUR)
    assert within.copy_group == "late"


def test_redelivered_article_gets_its_first_answer(seeds, norm):
    d = detector()
    text = norm(seeds["001"])
    d.check("a", text, T0)
    b1 = d.check("b", norm(NEAR_COPIES["reordered-paragraphs"](seeds["001"])), T0 + 5)
    again = d.check("b", norm(NEAR_COPIES["reordered-paragraphs"](seeds["001"])), T0 + 5)
    assert again == b1
    first_again = d.check("a", text, T0)
    assert first_again.copy_group == "a" and not first_again.is_copy


def test_threshold_is_configurable(seeds, norm):
    half = "\n".join(seeds["000"].split("\n")[: len(seeds["000"].split("\n")) // 2])
    loose, strict = detector(threshold=0.3), detector(threshold=0.8)
    for d in (loose, strict):
        d.check("full", norm(seeds["000"]), T0)
    assert loose.check("half", norm(half), T0 + 1).copy_group == "full"
    assert strict.check("half", norm(half), T0 + 1).copy_group == "half"


def test_text_without_words_is_nobodys_copy():
    d = detector()
    assert d.check("a", "", T0).copy_group == "a"
    assert d.check("b", "", T0).copy_group == "b"
