"""State: snapshots and Redis give the same answers as one uninterrupted in-memory run; memory is pruned."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from monitor.cluster import Clustering, EventPolicy, FrequencySpec, MemoryStore, Sighting
from monitor.cluster.memory_store import ClusterStore
from tests.cluster.conftest import HOUR, T0
from tests.cluster.texts import ATTACK_AR, ATTACK_EN, ATTACK_HARIR_EN, NEAR_COPIES

POLICY = EventPolicy(keys=("bases",), min_sources=2)
FREQUENCY = FrequencySpec(count=3, sources=2, window_s=HOUR)
Step = tuple[str, str, float, str, str | None]  # article id, text, time, source, base (None: no match)


def stream(seeds: dict[str, str], norm: Callable[[str], str]) -> list[Step]:
    """A day and a half of seeds, their near-copies and attack reports, in a fixed order."""
    steps: list[Step] = []
    t = T0
    for k, edit in enumerate(["orig", *sorted(NEAR_COPIES)]):
        for name, text in seeds.items():
            body = text if edit == "orig" else NEAR_COPIES[edit](text)
            steps.append((f"{name}/{edit}", norm(body), t, f"site{k}", "kharab-al-jir" if name == "002" else None))
            t += 20 * 60
    for day in range(2):
        for aid, text, base, src in [
            ("ar", ATTACK_AR, "ain-al-asad", "alsumaria"),
            ("en", ATTACK_EN, "ain-al-asad", "reuters"),
            ("harir", ATTACK_HARIR_EN, "harir", "ap"),
            ("ar-copy", NEAR_COPIES["added-boilerplate"](ATTACK_AR), "ain-al-asad", "shafaq"),
        ]:
            steps.append((f"{aid}-{day}", norm(text), t + day * 20 * HOUR, src, base))
            t += 600
    return steps


def run(c: Clustering, steps: list[Step]) -> Iterator[tuple]:
    for aid, text, at, source, base in steps:
        copy = c.on_article(aid, text, at, source)
        yield ("copy", aid, copy.copy_group, copy.duplicate_of, copy.exact)
        if base is not None:
            s = Sighting("attack-on-base", aid, at, source, copy.copy_group, "high", {"bases": (base,)})
            d = c.on_match(s, POLICY, tags=("attack",))
            yield ("event", aid, d.event_id, d.kind, d.sources, d.severity)
            yield ("volume", c.volume.frequency("tag:attack", FREQUENCY, at), c.volume.silence(source, at))


def uninterrupted(seeds, norm) -> list[tuple]:
    return list(run(Clustering(MemoryStore()), stream(seeds, norm)))


def test_the_stream_exercises_copies_and_events(seeds, norm):
    out = uninterrupted(seeds, norm)
    kinds = [o[3] for o in out if o[0] == "event"]
    assert {"new", "update", "suppress", "pending"} <= set(kinds)
    assert sum(1 for o in out if o[0] == "copy" and o[3] is not None) >= 20


def test_snapshot_and_restore_continue_exactly(seeds, norm):
    steps = stream(seeds, norm)
    half = len(steps) // 2
    c = Clustering(MemoryStore())
    first = list(run(c, steps[:half]))
    assert isinstance(c.store, MemoryStore)
    snap = c.store.snapshot()
    restored = MemoryStore.restore(snap)
    assert restored.snapshot() == snap
    rest = list(run(Clustering(restored), steps[half:]))
    assert first + rest == uninterrupted(seeds, norm)


def test_memory_store_forgets_what_left_every_window(seeds, norm):
    c = Clustering(MemoryStore(), copy_window_s=48 * HOUR, event_window_s=6 * HOUR, retention_s=26 * HOUR)
    list(run(c, stream(seeds, norm)))
    store = c.store
    assert isinstance(store, MemoryStore)
    assert store.sizes()["copies"] > 0 and store.sizes()["events"] > 0
    c.on_article("much-later", "a short unrelated note about the weather", T0 + 32 * 24 * HOUR, "")
    assert store.sizes() == {"copies": 1, "bands": c.copies.bands, "events": 0, "counters": 0, "blobs": 0}


@pytest.mark.integration
def test_redis_store_gives_the_same_answers_and_survives_a_restart(seeds, norm, redis_db_url):
    from monitor.cluster.redis_store import RedisStore

    steps = stream(seeds, norm)
    expected = uninterrupted(seeds, norm)

    def store() -> ClusterStore:
        return RedisStore.from_url(redis_db_url, prefix="test:cluster")

    assert list(run(Clustering(store()), steps)) == expected

    import redis

    redis.Redis.from_url(redis_db_url).flushdb()
    third = len(steps) // 3
    got = list(run(Clustering(store()), steps[:third]))  # a worker dies here ...
    got += list(run(Clustering(store()), steps[third:]))  # ... and a new one takes over
    assert got == expected


@pytest.mark.integration
def test_redis_keys_expire_with_their_window(redis_db_url):
    import redis

    from monitor.cluster.redis_store import RedisStore

    r = redis.Redis.from_url(redis_db_url)
    c = Clustering(RedisStore(r, prefix="ttl", grace_s=0), copy_window_s=48 * HOUR, event_window_s=6 * HOUR)
    c.on_article("a", "rockets hit the base on saturday evening officials said", T0, "s")
    c.on_match(Sighting("r", "a", T0, "s", "a", entities={"bases": ("harir",)}), EventPolicy())
    ttls = {k.decode().split(":")[1]: r.ttl(k) for k in r.keys("ttl:*")}
    assert 47 * HOUR < ttls["c"] <= 48 * HOUR
    assert 5 * HOUR < ttls["e"] <= 6 * HOUR
    assert all(t > 0 for t in ttls.values())
