"""Benchmark: the article archive (SQLite FTS5 by default; PostgreSQL with --postgres): ingest, search,
backtest, disk.

What it runs, on one core (the process is pinned to one CPU when the OS allows):
- ``--articles`` synthetic ~3 KB articles, 60 % Arabic and 40 % English, built like ``bench/cluster.py``
  (paragraphs of the seed pages with a third of their words replaced) plus a unique headline and a few
  made-up names per article (a real archive keeps meeting new words: the index grows with them);
  1 % of them carry a rule match (for the rule filter). With ``--on-topic 0.1`` only a tenth are built
  from the seed pages (which are all about attacks on bases and talks) and the rest from made-up words,
  closer to a day of news as one rule sees it. ``ArchivedArticle``s are built outside the clock;
- ``ingest``: ``Archive.put`` in batches of 500 (index terms, compression, insert, FTS): articles/s from
  the process CPU time (all threads) and from the wall clock; ``ingest-with-analysis`` adds the
  archiver's ``RuleSet.analyse`` with the shipped rules, on a sample;
- ``disk``: bytes per article of the database files (after a WAL checkpoint for SQLite);
- ``search``: ``--queries`` searches from a mix (a common Arabic word, its proclitic form, a rare name,
  two words, English, a prefix, with and without language/source/rule filters), p50/p95/p99 in ms;
- ``baseline-like``: the same words as a plain ``LIKE '%word%'`` scan over the stored text column,
  newest first, limit 20 (SQLite only; on a sample of the queries);
- ``backtest``: one shipped rule over the newest 100,000 articles (``run_backtest``): articles/s.

Targets (issue 15): ingest >= 1,000 articles/s on one core; search p95 <= 100 ms; backtest >= 2,000
articles/s. Prints one JSON line per case.

    .venv/bin/python bench/archive.py                       # 100,000 articles (a few minutes)
    .venv/bin/python bench/archive.py --articles 1000000    # the issue's size (long: see docs/archive.md)
    .venv/bin/python bench/archive.py --articles 20000 --postgres   # also a temporary PostgreSQL
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from cluster import Corpus  # noqa: E402

from monitor.archive.backtest import BacktestHit, BacktestLimits, run_backtest  # noqa: E402
from monitor.archive.model import ArchivedArticle, SearchQuery  # noqa: E402
from monitor.archive.record import analyse_for_archive  # noqa: E402
from monitor.models import Article, Match  # noqa: E402
from monitor.rules import load_rules  # noqa: E402

T0 = datetime(2026, 11, 1, tzinfo=UTC)
BT_RULE = "attack-on-base.generic"
SYLLABLES_AR = ["بر", "كا", "ني", "سو", "مه", "دي", "رو", "لا", "تي", "فا", "زو", "قي"]
SYLLABLES_EN = ["ka", "ro", "mi", "tal", "ven", "dor", "sa", "lek", "qu", "zan", "bre", "osh"]


def emit(**fields: object) -> None:
    print(orjson.dumps({"bench": "archive", **fields}).decode(), flush=True)


def name(rng: random.Random, syl: list[str]) -> str:
    return "".join(rng.choice(syl) for _ in range(rng.randint(2, 4)))


ON_TOPIC = 1.0  # share of articles made from the seed pages; the others from made-up words (--on-topic)


def make(corpus: Corpus, i: int) -> ArchivedArticle:
    rng = random.Random(i * 31 + 7)
    lang = "ar" if rng.random() < 0.6 else "en"
    pool, vocab = corpus.pools[lang], corpus.vocab[lang]
    syl = SYLLABLES_AR if lang == "ar" else SYLLABLES_EN
    title = " ".join(rng.choice(vocab) for _ in range(10)) + " " + name(rng, syl)
    body: list[str] = []
    size = 0
    on_topic = rng.random() < ON_TOPIC
    while size < 2800:
        if on_topic:
            p = rng.choice(pool)
        else:  # other news: words the rules do not know, as most of a day's articles are to one rule
            p = " ".join(name(rng, syl) for _ in range(40))
            title = " ".join(name(rng, syl) for _ in range(10))
        body.append(p + " " + name(rng, syl))
        size += len(p.encode("utf-8"))
    content = "\n".join(body)
    at = T0 + timedelta(seconds=i * 2.5)
    matches = (Match(rule="attack-on-base.generic", rule_version="v", tags=("attack",)),) if i % 100 == 0 else ()
    return ArchivedArticle(
        article=Article(id=f"a{i}", title=title, summary=content[:300], content=content,
                        source=f"feed{rng.randrange(200)}", published=at, fetched_at=at),
        lang=lang, archived_at=at, matches=matches,
    )


def queries(corpus: Corpus, n: int) -> list[SearchQuery]:
    rng = random.Random(5)
    ar = [w for w in corpus.vocab["ar"] if len(w) > 3]
    en = [w for w in corpus.vocab["en"] if len(w) > 3 and w.isalpha()]
    out: list[SearchQuery] = []
    for k in range(n):
        kind = k % 8
        if kind == 0:
            out.append(SearchQuery(q="قاعدة"))
        elif kind == 1:
            out.append(SearchQuery(q="والقاعدة", lang="ar"))
        elif kind == 2:
            out.append(SearchQuery(q=name(rng, SYLLABLES_AR)))  # rare: mostly few or no hits
        elif kind == 3:
            out.append(SearchQuery(q=f"{rng.choice(ar)} {rng.choice(ar)}"))
        elif kind == 4:
            out.append(SearchQuery(q=rng.choice(en).upper()))
        elif kind == 5:
            out.append(SearchQuery(q=rng.choice(en)[:4] + "*", source=f"feed{rng.randrange(200)}"))
        elif kind == 6:
            out.append(SearchQuery(q=rng.choice(ar), rule="attack-on-base.generic"))
        else:
            out.append(SearchQuery(q=name(rng, SYLLABLES_EN) + " " + rng.choice(en), lang="en"))
    return out


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return round(xs[min(len(xs) - 1, int(len(xs) * p))], 2)


async def run(args: argparse.Namespace, archive, db_files) -> None:  # type: ignore[no-untyped-def]
    corpus = Corpus(ROOT / "seeds")
    n = args.articles
    cpu = wall = 0.0
    done = 0
    while done < n:
        batch = [make(corpus, i) for i in range(done, min(n, done + 500))]
        c0, w0 = time.process_time(), time.perf_counter()
        await archive.put(batch)
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        done += len(batch)
        if done % 100_000 == 0:
            emit(case="progress", articles=done, articles_per_s=round(done / cpu, 1))
    emit(case=f"ingest-{archive.backend}", articles=n, articles_per_s=round(n / cpu, 1),
         articles_per_s_wall=round(n / wall, 1), loadavg_1m=round(os.getloadavg()[0], 2))

    rules = load_rules(ROOT / "rules")
    if args.analysis_sample:
        sample = [make(corpus, n + i) for i in range(args.analysis_sample)]
        c0 = time.process_time()
        items = [analyse_for_archive(a.article, rules) for a in sample]
        await archive.put(items)
        c = time.process_time() - c0
        emit(case=f"ingest-with-analysis-{archive.backend}", articles=len(items),
             articles_per_s=round(len(items) / c, 1))

    if db_files is not None:
        archive._w.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = sum(f.stat().st_size for f in db_files() if f.exists())
    else:
        rows = await archive._fetch("SELECT pg_database_size(current_database())", ())
        size = int(rows[0][0])
    total = await archive.count()
    emit(case=f"disk-{archive.backend}", articles=total, bytes_per_article=round(size / total),
         total_mb=round(size / 1e6, 1))

    qs = queries(corpus, args.queries)
    for q in qs[:16]:
        await archive.search(q)  # warm the cache a little, as a running API would be
    times: list[float] = []
    hits = 0
    for q in qs:
        w0 = time.perf_counter()
        page = await archive.search(q)
        times.append((time.perf_counter() - w0) * 1000)
        hits += len(page.hits)
    emit(case=f"search-{archive.backend}", articles=total, queries=len(qs), p50_ms=pct(times, 0.5),
         p95_ms=pct(times, 0.95), p99_ms=pct(times, 0.99), max_ms=round(max(times), 1),
         mean_hits=round(hits / len(qs), 1))

    if db_files is not None:
        from monitor.archive.query import parse

        like: list[float] = []
        for q in qs[: args.like_queries]:
            words = [a.term for g in parse(q.q) for a in g[:1]]
            sql = "SELECT seq FROM articles WHERE " + " AND ".join("terms LIKE ?" for _ in words) + \
                  " ORDER BY seq DESC LIMIT 20"
            w0 = time.perf_counter()
            archive._r.execute(sql, [f"%{w}%" for w in words]).fetchall()
            like.append((time.perf_counter() - w0) * 1000)
        emit(case="baseline-like", articles=total, queries=len(like), p50_ms=pct(like, 0.5),
             p95_ms=pct(like, 0.95), p99_ms=pct(like, 0.99), max_ms=round(max(like), 1))

    # one shipped rule over the newest --backtest-articles articles (the window), through the index
    # prefilter (the default), and the same window read whole (prefilter=False) as the baseline
    since = T0 + timedelta(seconds=(n - min(args.backtest_articles, n)) * 2.5)
    limits = BacktestLimits(max_articles=10**9, max_seconds=3600, max_hits=10**9)
    window = 0
    for prefilter in (False, True) if args.backtest_articles else ():
        scanned = matched = 0
        c0, w0 = time.process_time(), time.perf_counter()
        async for out in run_backtest(archive, rules, since=since, rules_only=[BT_RULE], limits=limits,
                                      prefilter=prefilter):
            if not isinstance(out, BacktestHit):
                scanned, matched = out.scanned, out.matched
        c, w = time.process_time() - c0, time.perf_counter() - w0
        window = window or scanned  # the full scan reads the whole window
        emit(case=f"backtest-{archive.backend}" + ("" if prefilter else "-full-scan"), rule=BT_RULE,
             window_articles=window, analysed=scanned, matched=matched, articles_per_s=round(window / c, 1),
             articles_per_s_wall=round(window / w, 1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--articles", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=400)
    ap.add_argument("--like-queries", type=int, default=40)
    ap.add_argument("--analysis-sample", type=int, default=2000)
    ap.add_argument("--backtest-articles", type=int, default=100_000)
    ap.add_argument("--on-topic", type=float, default=1.0,
                    help="share of articles built from the seed pages (all about attacks on bases and talks); "
                    "the rest are made of made-up words no rule knows, like most news to any one rule")
    ap.add_argument("--postgres", action="store_true", help="also run on a temporary PostgreSQL (tests' server)")
    ap.add_argument("--no-sqlite", action="store_true")
    args = ap.parse_args()
    global ON_TOPIC
    ON_TOPIC = args.on_topic
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    emit(case="setup", articles=args.articles, on_topic=args.on_topic, sqlite=not args.no_sqlite,
         postgres=args.postgres)
    if not args.no_sqlite:
        from monitor.archive.sqlite import SqliteArchive

        with tempfile.TemporaryDirectory(prefix="bench-archive-") as tmp:
            path = Path(tmp) / "archive.db"
            archive = SqliteArchive(path, query_timeout=30)

            def files() -> list[Path]:
                return [path, Path(str(path) + "-wal"), Path(str(path) + "-shm")]

            try:
                asyncio.run(run(args, archive, files))
            finally:
                asyncio.run(archive.close())
    if args.postgres:
        from monitor.archive.postgres import PostgresArchive
        from tests.archive.pgserver import PgServer

        srv = PgServer.start()
        try:
            async def pg() -> None:
                archive = await PostgresArchive.open(srv.url, query_timeout=30)
                try:
                    await run(args, archive, None)
                finally:
                    await archive.close()

            asyncio.run(pg())
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
