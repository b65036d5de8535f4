"""Properties over random streams of seeds and their near-copies (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.cluster import Clustering, EventPolicy, MemoryStore, Sighting
from tests.cluster.conftest import HOUR, SEEDS, T0, _fold
from tests.cluster.texts import NEAR_COPIES

TEXTS = {p.name[:3]: _fold(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt"))}
RAW = {p.name[:3]: p.read_text(encoding="utf-8") for p in sorted(SEEDS.glob("*.txt"))}
EDITS = ["orig", *sorted(NEAR_COPIES)]
BASES = ["ain-al-asad", "harir", "victory"]

step = st.tuples(
    st.sampled_from(sorted(TEXTS)),
    st.sampled_from(EDITS),
    st.floats(0, 3 * HOUR),  # gap to the previous article
    st.sampled_from(["s1", "s2", "s3"]),
    st.none() | st.sampled_from(BASES),
)


def play(c: Clustering, steps, start: int = 0, t: float = T0) -> list[tuple]:
    out = []
    for i, (seed, edit, gap, source, base) in enumerate(steps, start):
        t += gap
        text = TEXTS[seed] if edit == "orig" else _fold(NEAR_COPIES[edit](RAW[seed]))
        aid = f"{i}:{seed}:{edit}"
        copy = c.on_article(aid, text, t, source)
        row: tuple = (aid, copy.copy_group, copy.duplicate_of)
        if base is not None:
            d = c.on_match(Sighting("r", aid, t, source, copy.copy_group, entities={"bases": (base,)}),
                           EventPolicy(min_sources=2))
            row += (d.event_id, d.kind, d.source_count)
        out.append((*row, t))
    return out


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=1, max_size=25), st.integers(0, 25))
def test_replays_and_restores_agree_and_groups_are_named_by_earlier_articles(steps, cut):
    first = play(Clustering(MemoryStore()), steps)
    assert play(Clustering(MemoryStore()), steps) == first  # same order, same answers

    cut = min(cut, len(steps))
    c = Clustering(MemoryStore())
    head = play(c, steps[:cut])
    assert isinstance(c.store, MemoryStore)
    restored = Clustering(MemoryStore.restore(c.store.snapshot()))
    tail = play(restored, steps[cut:], cut, head[-1][-1] if head else T0)
    assert head + tail == first  # a snapshot taken anywhere continues exactly

    seen: set[str] = set()
    for row in first:
        aid, group, dup = row[:3]
        assert group == aid or group in seen  # a group is named by an earlier article
        assert dup is None or dup in seen
        seen.add(aid)
        if len(row) > 4:
            assert row[4] in ("new", "update", "suppress", "pending")
            assert 1 <= row[5] <= 3


@settings(max_examples=25, deadline=None)
@given(st.lists(step, min_size=2, max_size=20))
def test_a_seed_and_its_near_copies_within_the_window_always_share_a_group(steps):
    c = Clustering(MemoryStore(), copy_window_s=10_000 * HOUR)
    groups: dict[str, set[str]] = {}
    for row, (seed, *_rest) in zip(play(c, steps), steps, strict=True):
        groups.setdefault(seed, set()).add(row[1])
    assert all(len(g) == 1 for g in groups.values())
    assert len({next(iter(g)) for g in groups.values()}) == len(groups)
