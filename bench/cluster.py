"""Benchmark: clustering cost per article with 100,000 articles in the copy window.

What it runs, on one core (the process is pinned to one CPU when the OS allows):
- a stream of synthetic ~5 KB articles, 70 % Arabic and 30 % English, built from the real seed pages
  (paragraphs with a share of their words replaced, shuffled, with a unique headline), 15 % of them
  near-copies of a recent article (another headline, reordered paragraphs or added boilerplate) and
  10 % carrying a rule match for event grouping. Texts are generated on the fly and not kept, so the
  memory measured is clustering state, not the corpus;
- ``clustering``: ``Clustering(MemoryStore())`` (``on_article`` for every article, ``on_match`` for
  matches); the window is filled with ``--articles`` articles over 47 h, then ``--measure`` more are
  timed with the window full (expiry included);
- baselines in the same run: ``exact-hash`` (a dict of blake2b digests: dedup of identical texts only)
  and ``all-pairs-jaccard`` (exact shingle-set Jaccard of each new article against every article in the
  window, timed on a sample and extrapolated to the full window).

Prints one JSON line per case: articles_per_s and us_per_article (from the CPU time of the benchmark
thread, so other load on a shared machine does not count), articles_per_s_wall, loadavg_1m, rss_mb
(process resident memory after the case) and case-specific figures. Targets: >= 2,000 articles/s, < 1 GB for 100,000 articles.

    .venv/bin/python bench/cluster.py                 # the full run (about 2-4 minutes)
    .venv/bin/python bench/cluster.py --articles 5000 --measure 1000   # quick
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.cluster import Clustering, EventPolicy, MemoryStore, Sighting  # noqa: E402
from monitor.cluster.signature import shingle_hashes  # noqa: E402

try:
    from monitor.text.folding import fold
except ImportError:  # pragma: no cover

    def fold(text: str) -> str:
        return text.lower()


ENGLISH = """Several ballistic missiles and rockets struck at Ain al-Asad Air Base in Iraq's west late on Saturday, according to a statement from U.S. Central Command, which said the base's air defences brought down most of them while some landed inside.
A number of U.S. personnel are being checked for traumatic brain injuries, according to the statement. One Iraqi soldier was hurt as well. Damage is still being assessed.
The Islamic Resistance in Iraq, an umbrella for militias backed by Iran, claimed responsibility for the attack in a statement posted on its Telegram channel, saying it was a response to the war in Gaza.
The attack was the latest of more than 140 against U.S. forces in Iraq and Syria since mid-October, according to the Pentagon, which has responded with a series of strikes on militia facilities.
Prime Minister Mohammed Shia al-Sudani has said his government wants to begin talks on ending the mission of the U.S.-led coalition, which has about 2,500 troops in Iraq on an advise and assist mission.
Officials in Washington and Baghdad said a higher military commission would hold its first meeting in the coming days to set a timetable for the gradual reduction of advisers across the country.
Analysts said the escalation risked drawing Iraq further into the regional conflict as the government tries to balance its ties with both the United States and Iran.
Security sources in Anbar province said air defences were activated over the base shortly after nightfall and that sirens were heard in nearby towns for more than an hour.
A spokesman for the coalition declined to comment on the number of casualties, saying a full assessment would be released once medical evaluations were complete.
The Iraqi military condemned the attack as an act of aggression against a facility that hosts Iraqi forces, and said it had opened an investigation to find those responsible.
"""
BOILERPLATE = [
    "تابعونا على قناتنا في تلغرام وعلى صفحتنا في فيسبوك لمتابعة آخر الأخبار العاجلة",
    "جميع الحقوق محفوظة 2024 ولا يجوز النسخ دون إذن مسبق من إدارة الموقع",
    "Follow us on Telegram and X for the latest breaking news from Iraq and the region",
]


class Corpus:
    """Deterministic synthetic articles: article ``i`` is always the same text."""

    def __init__(self, seed_dir: Path, pool: int = 20_000) -> None:
        rng = random.Random(1)
        ar_paras = [p for f in sorted(seed_dir.glob("*.txt")) for p in f.read_text("utf-8").split("\n") if len(p) > 80]
        en_paras = [p for p in ENGLISH.split("\n") if p]
        self.pools: dict[str, list[str]] = {}
        for lang, paras in (("ar", ar_paras), ("en", en_paras)):
            vocab = sorted({w for p in paras for w in p.split()})
            out = []
            for _ in range(pool):
                words = rng.choice(paras).split()
                for k in rng.sample(range(len(words)), k=max(1, len(words) // 3)):
                    words[k] = rng.choice(vocab)  # a third of the words differ: a new paragraph
                out.append(" ".join(words))
            self.pools[lang] = out
        self.vocab = {lang: sorted({w for p in ps[:500] for w in p.split()}) for lang, ps in self.pools.items()}

    def article(self, i: int) -> tuple[str, str]:
        rng = random.Random(i * 7919 + 17)
        lang = "ar" if rng.random() < 0.7 else "en"
        pool, vocab = self.pools[lang], self.vocab[lang]
        lines = [" ".join(rng.choice(vocab) for _ in range(12))]  # a unique headline
        size = len(lines[0])
        while size < 5000:
            p = rng.choice(pool)
            lines.append(p)
            size += len(p.encode("utf-8")) // (2 if lang == "ar" else 1)
        return lang, "\n".join(lines)

    def copy_of(self, i: int, rng: random.Random) -> str:
        _, text = self.article(i)
        lines = text.split("\n")
        edit = rng.randrange(3)
        if edit == 0:
            lines[0] = "عاجل: " + " ".join(rng.choice(self.vocab["ar"]) for _ in range(10))
        elif edit == 1:
            body = lines[1:]
            rng.shuffle(body)
            lines = [lines[0], *body]
        else:
            lines = ["بغداد - وكالات", *lines, *BOILERPLATE]
        return "\n".join(lines)


Item = tuple[str, str, float, str, Sighting | None]


def items(corpus: Corpus, start: int, n: int, t0: float, spacing: float) -> Iterator[Item]:
    """Articles ``start..start+n``: (id, normalised text, time, source, sighting or None)."""
    for i in range(start, start + n):
        rng = random.Random(i)
        at = t0 + i * spacing
        if i > 10 and rng.random() < 0.15:
            text = corpus.copy_of(rng.randrange(max(0, i - 500), i), rng)
        else:
            text = corpus.article(i)[1]
        source = f"feed{rng.randrange(200)}"
        s = None
        if rng.random() < 0.10:
            base = f"base-{rng.randrange(30)}"
            s = Sighting("attack-on-base", f"a{i}", at, source, "", "high", {"bases": (base,)}, (rng.randrange(5),))
        yield f"a{i}", fold(text), at, source, s


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def emit(**fields: object) -> None:
    print(orjson.dumps({"bench": "cluster", **fields}).decode(), flush=True)


def timed(run: Callable[[Item], None], stream: Iterator[Item]) -> tuple[int, float, float]:
    """(articles, CPU seconds of this thread, wall seconds) spent in ``run`` only (not making texts).

    CPU time is the figure to compare: on a shared machine wall time also counts waiting for the core.
    """
    n, cpu, wall = 0, 0.0, 0.0
    for it in stream:
        w, c = time.perf_counter(), time.thread_time()
        run(it)
        cpu += time.thread_time() - c
        wall += time.perf_counter() - w
        n += 1
    return n, cpu, wall


def rates(n: int, cpu: float, wall: float) -> dict[str, float]:
    return {
        "articles_per_s": round(n / cpu),
        "us_per_article": round(cpu / n * 1e6, 1),
        "articles_per_s_wall": round(n / wall),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }


def bench_redis(corpus: Corpus, url: str, n: int, t0: float, spacing: float) -> None:
    """The same stream through ``RedisStore`` (wall time: the round trips are the cost)."""
    import redis

    from monitor.cluster.redis_store import RedisStore

    client = redis.Redis.from_url(url)
    client.flushdb()
    c = Clustering(RedisStore(client, prefix="bench"))
    policy = EventPolicy(keys=("bases",), min_sources=2)

    def cluster(it: Item) -> None:
        aid, text, at, source, s = it
        d = c.on_article(aid, text, at, source)
        if s is not None:
            c.on_match(Sighting(s.rule, s.article_id, s.at, s.source, d.copy_group, s.severity, s.entities, s.numbers), policy)

    n, cpu, wall = timed(cluster, items(corpus, 0, n, t0, spacing))
    info = client.info("memory")
    emit(
        case="clustering-redis",
        articles=n,
        articles_per_s_wall=round(n / wall),
        us_per_article_wall=round(wall / n * 1e6, 1),
        client_cpu_us_per_article=round(cpu / n * 1e6, 1),
        redis_used_mb=round(int(info["used_memory"]) / 2**20, 1),
        redis_keys=client.dbsize(),
        loadavg_1m=round(os.getloadavg()[0], 2),
    )
    client.flushdb()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=100_000, help="articles in the window when measuring")
    ap.add_argument("--measure", type=int, default=10_000, help="articles timed with the window full")
    ap.add_argument("--pairs-sample", type=int, default=300, help="articles timed for all-pairs Jaccard")
    ap.add_argument("--redis-url", help="also time RedisStore on --redis-articles articles (a scratch db!)")
    ap.add_argument("--redis-articles", type=int, default=5_000)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    window_s = 48 * 3600.0
    spacing = 47 * 3600.0 / args.articles  # the fill fits in the window: all of it stays
    corpus = Corpus(ROOT / "seeds")
    t0 = 1_705_000_000.0
    base_rss = rss_mb()
    emit(case="setup", rss_mb=round(base_rss, 1), cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None)

    # --- baseline: exact-hash dedup ---------------------------------------------------------------
    seen: dict[bytes, str] = {}

    def exact(it: Item) -> None:
        seen.setdefault(hashlib.blake2b(it[1].encode("utf-8"), digest_size=16).digest(), it[0])

    n, cpu, wall = timed(exact, items(corpus, 0, args.measure, t0, spacing))
    emit(case="baseline-exact-hash", articles=n, **rates(n, cpu, wall))
    seen.clear()

    # --- clustering ------------------------------------------------------------------------------
    c = Clustering(MemoryStore(), copy_window_s=window_s)
    policy = EventPolicy(keys=("bases",), min_sources=2)
    copies = joins = 0

    def cluster(it: Item) -> None:
        nonlocal copies, joins
        aid, text, at, source, s = it
        d = c.on_article(aid, text, at, source)
        copies += d.is_copy
        if s is not None:
            e = c.on_match(Sighting(s.rule, s.article_id, s.at, s.source, d.copy_group, s.severity, s.entities, s.numbers), policy)
            joins += e.articles > 1

    started = time.perf_counter()
    n_fill, cpu_fill, wall_fill = timed(cluster, items(corpus, 0, args.articles, t0, spacing))
    sizes = c.store.sizes() if isinstance(c.store, MemoryStore) else {}
    emit(
        case="clustering-fill",
        articles=n_fill,
        **rates(n_fill, cpu_fill, wall_fill),
        rss_mb=round(rss_mb(), 1),
        state_mb=round(rss_mb() - base_rss, 1),
        copies_found=copies,
        event_joins=joins,
        store=sizes,
        run_s=round(time.perf_counter() - started, 1),
    )
    copies = joins = 0
    n, cpu, wall = timed(cluster, items(corpus, args.articles, args.measure, t0, spacing))
    emit(
        case="clustering-window-full",
        window_articles=args.articles,
        articles=n,
        **rates(n, cpu, wall),
        rss_mb=round(rss_mb(), 1),
        copies_found=copies,
        copy_rate_expected=0.15,
        store=c.store.sizes() if isinstance(c.store, MemoryStore) else {},
    )

    if args.redis_url:
        bench_redis(corpus, args.redis_url, args.redis_articles, t0, spacing)

    # --- baseline: naive all-pairs exact Jaccard, extrapolated -----------------------------------
    sample = [frozenset(shingle_hashes(it[1]).tolist()) for it in items(corpus, 0, args.pairs_sample, t0, spacing)]
    pairs = 0
    t = time.thread_time()
    for i, a in enumerate(sample):
        for b in sample[:i]:
            _ = len(a & b) / len(a | b)
            pairs += 1
    per_pair = (time.thread_time() - t) / max(pairs, 1)
    per_article = per_pair * args.articles
    emit(
        case="baseline-all-pairs-jaccard",
        extrapolated_from_pairs=pairs,
        window_articles=args.articles,
        articles_per_s=round(1 / per_article, 3),
        us_per_article=round(per_article * 1e6),
        note="shingle sets precomputed; one new article compared with every article in the window",
    )


if __name__ == "__main__":
    main()
