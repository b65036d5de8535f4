"""Batched Redis state (``RedisStore.batch`` + ``EventAlerts.prepare``) equals one operation at a time.

Random streams of articles (attack reports in two languages on random days, bases and sources; exact and
near copies; redeliveries; unrelated seed texts; a volume rule) go through the real engine and alert
policy twice on the real Redis: record by record (``Processor.process``), and in random batches
(``Processor.process_batch``). Every result and the whole Redis state afterwards must be the same.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry

from monitor.cluster import Clustering
from monitor.cluster.redis_store import RedisStore
from monitor.metrics import Metrics
from monitor.models import Article
from monitor.process.core import Processed, Processor, Record
from monitor.process.policy import EventAlerts
from monitor.rules import load_rules
from tests.helpers import ROOT

pytestmark = pytest.mark.integration

VOLUME = """\
id: drone-surge
title: Drone reports surge
severity: high
tags: [drones]
match: [drone]
volume:
  min_articles: 2
  min_sources: 2
  within: 1h
"""
BASES = {"Ain al-Asad": "عين الأسد", "Harir": "حرير"}
SEEDS = sorted((ROOT / "seeds").glob("[0-9]*.txt"))


@pytest.fixture(scope="module")
def rules(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(ROOT / "rules", folder)
    (folder / "drone-surge.yaml").write_text(VOLUME, encoding="utf-8")
    return load_rules(folder)


@pytest.fixture(scope="module")
def shipped():  # type: ignore[no-untyped-def]
    return load_rules(ROOT / "rules")


def attack(aid: str, lang: str, hour: int, base: str, source: str) -> Article:
    when = datetime(2024, 1, 2, tzinfo=UTC) + timedelta(hours=hour)
    if lang == "ar":
        title = f"استهداف قاعدة {BASES[base]} بطائرة مسيرة"
        text = (f"استهدف هجوم بطائرة مسيرة قاعدة {BASES[base]} الجوية التي تستضيف قوات أمريكية في العراق، "
                "فجر اليوم، بحسب مصدر أمني.")
    else:
        title = f"Drone attack targets {base} air base"
        text = f"A drone attack targeted {base} air base, which hosts US troops in Iraq, early today, a security source said."
    return Article(id=aid, title=title, content=text, source=source, published=when, fetched_at=when)


def seed(aid: str, k: int, hour: int, source: str, cut: int) -> Article:
    text = SEEDS[k % len(SEEDS)].read_text(encoding="utf-8")
    when = datetime(2024, 1, 2, tzinfo=UTC) + timedelta(hours=hour)
    body = text[: len(text) - cut]  # a shorter near copy of the same story
    return Article(id=aid, title=text.splitlines()[1][:100], content=body, source=source, published=when,
                   fetched_at=when)


steps = st.lists(
    st.one_of(
        st.tuples(st.just("attack"), st.sampled_from(["ar", "en"]), st.integers(0, 30),
                  st.sampled_from(sorted(BASES)), st.sampled_from(["wire", "shafaq", "reuters", "ap"])),
        st.tuples(st.just("seed"), st.integers(0, 4), st.integers(0, 30),
                  st.sampled_from(["wire", "shafaq", "reuters"]), st.sampled_from([0, 0, 40, 400])),
        st.tuples(st.just("again"), st.integers(0, 1000)),
        st.tuples(st.just("bad"),),
    ),
    min_size=1, max_size=30,
)


def records(plan: list[tuple]) -> list[Record]:  # type: ignore[type-arg]
    out: list[Record] = []
    for i, step in enumerate(plan):
        if step[0] == "attack":
            value = attack(f"a{i}", *step[1:]).to_json()
        elif step[0] == "seed":
            value = seed(f"s{i}", *step[1:]).to_json()
        elif step[0] == "again" and out:
            value = out[step[1] % len(out)].value or b""  # a redelivery, or another copy with the same id
        else:
            value = b'{"schema": 1, "id": 5}'  # a bad record: dead-lettered in both runs
        out.append(Record("articles", 0, i, None, value))
    return out


def state(client: redis.Redis, prefix: str) -> dict[str, object]:
    out: dict[str, object] = {}
    for key in client.scan_iter(match=f"{prefix}:*", count=1000):
        name = key.decode()[len(prefix):]
        kind = client.type(key)
        if kind == b"string":
            out[name] = client.get(key)
        elif kind == b"set":
            out[name] = sorted(client.smembers(key))
        elif kind == b"hash":
            out[name] = sorted(client.hgetall(key).items())
        ttl = client.ttl(key)
        out[name + " ttl>0"] = ttl > 0
    return out


def processor(rules, client: redis.Redis, prefix: str) -> Processor:  # type: ignore[no-untyped-def]
    metrics = Metrics(CollectorRegistry())
    # a long grace: the streams span 30 h of article time, so with the default hour an entry past its
    # window gets a 1 s TTL and may vanish mid-test on a slow machine (one run but not the other)
    clustering = Clustering(RedisStore(client, prefix=prefix, grace_s=10**8), track_volume=False)
    return Processor(rules, metrics=metrics, policy=EventAlerts(clustering, metrics=metrics))


def test_a_batch_reads_ahead_in_few_round_trips(shipped, redis_db_url: str) -> None:
    """Without volume rules (their counters are read and written directly, after the pending writes)."""
    client = redis.Redis.from_url(redis_db_url)
    plan = [("attack", "en", 1, "Harir", "wire"), ("attack", "ar", 2, "Harir", "shafaq"),
            ("seed", 1, 3, "wire", 0), ("seed", 1, 3, "ap", 40)]
    p = processor(shipped, client, "count")
    calls = []
    store = p.policy.clustering.store  # type: ignore[attr-defined]
    for name in ("_fetch", "_apply", "_copy_lookup", "_events_lookup"):
        script = getattr(store, name)
        setattr(store, name, lambda *a, _s=script, _n=name, **k: calls.append(_n) or _s(*a, **k))
    out = p.process_batch(records(plan))
    assert all(o.dead is None for o in out) and sum(len(o.alerts) for o in out) >= 2
    assert calls.count("_apply") == 1  # every write of the batch in one call
    assert "_copy_lookup" not in calls and "_events_lookup" not in calls
    assert calls.count("_fetch") <= 3  # copies, events, and at most one key the prediction missed


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps, sizes=st.lists(st.integers(1, 12), min_size=1, max_size=8))
def test_batched_equals_one_at_a_time(rules, redis_db_url: str, plan, sizes) -> None:  # type: ignore[no-untyped-def]
    client = redis.Redis.from_url(redis_db_url)
    client.flushdb()
    recs = records(plan)
    single = processor(rules, client, "one")
    expected = [single.process(r) for r in recs]
    batched = processor(rules, client, "many")
    got = []
    i = 0
    while i < len(recs):
        size = sizes[len(got) % len(sizes)]
        got += batched.process_batch(recs[i : i + size])
        i += size
    def results(out: list[Processed]) -> list[tuple[object, ...]]:
        dead = [(o.dead.offset, o.dead.reason) if o.dead is not None else None for o in out]
        return [(o.lang, d, [a.model_dump(exclude={"created_at"}) for a in o.alerts]) for o, d in zip(out, dead, strict=True)]

    assert results(got) == results(expected)
    assert state(client, "many") == state(client, "one")
    assert any(o.alerts for o in expected) or not any(s[0] == "attack" for s in plan)


def test_the_batch_scope_drops_its_writes_on_an_error(redis_db_url: str) -> None:
    client = redis.Redis.from_url(redis_db_url)
    store = RedisStore(client, prefix="drop")
    from monitor.cluster.records import CopyEntry

    with pytest.raises(RuntimeError), store.batch():
        store.copy_lookup("x", b"d" * 16, [1, 2])
        store.copy_add(CopyEntry("x", 1.0, "x", b"\0" * 8), b"d" * 16, [1, 2], 100.0)
        raise RuntimeError("boom")
    assert not list(client.scan_iter(match="drop:*"))
    with store.batch():
        store.copy_add(CopyEntry("x", 1.0, "x", b"\0" * 8), b"d" * 16, [1, 2], 100.0)
        assert store.copy_lookup("x", b"d" * 16, [1])[0] is not None  # its own write, before it is sent
        assert not list(client.scan_iter(match="drop:*"))
    assert store.copy_lookup("x", b"d" * 16, [1])[0] is not None


def test_the_batch_read_of_band_keys_checks_them_in_groups(redis_db_url: str) -> None:
    """Band keys are read in groups of 16 (one EXISTS, then SMEMBERS only when one of them exists): a
    member anywhere in a group, or in none, gives the answer of the one-at-a-time lookup."""
    from monitor.cluster.records import CopyEntry

    client = redis.Redis.from_url(redis_db_url)
    store = RedisStore(client, prefix="groups")
    held = [1000 + i for i in range(3)]
    store.copy_add(CopyEntry("x", 1.0, "x", b"\0" * 8), b"x" * 16, held, 100.0)
    for at in (0, 15, 16, 17, 31, 33):  # first, last of a group, first of the next, ...
        bands = [2000 + at * 100 + i for i in range(40)]
        bands[at] = held[at % 3]
        alone = store.copy_lookup("y", b"y" * 16, bands)
        with store.batch():
            store.prefetch_copies([("z", b"z" * 16, [3000 + i for i in range(9)]), ("y", b"y" * 16, bands)])
            assert store.copy_lookup("y", b"y" * 16, bands) == alone
        assert [e.article_id for e in alone[2]] == ["x"]
    none = [5000 + i for i in range(40)]
    with store.batch():
        store.prefetch_copies([("y", b"y" * 16, none)])
        assert store.copy_lookup("y", b"y" * 16, none) == (None, None, [])
