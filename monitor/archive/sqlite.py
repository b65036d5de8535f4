"""The embedded archive: one SQLite file (WAL) with an FTS5 index, under ``MONITOR_DATA_DIR``.

Tables: ``articles`` (``seq`` in archive order, the article id, published/archived times as Unix
seconds, the index terms, the compressed document), ``fts`` (FTS5 over ``articles.terms``, external
content, ``detail=none``: no positions, the smallest index; our queries are terms and prefixes only),
``facets`` (``value, seq``: one row per filter value, so a filter is an index range) and ``notes``
(copy group and event id per article id, from alerts).

Searches run newest first by ``seq``: FTS5 walks its doclists backwards and stops at the page, so a
common word costs what a page costs. A progress handler aborts any statement past
``Settings.archive_query_timeout`` (``QueryTooBroad``). SQLite is synchronous: every call runs in a
worker thread, on one writer and one reader connection (WAL lets them run side by side).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from monitor.archive.model import ArchivedArticle, SearchPage, SearchQuery
from monitor.archive.query import fts5_expression, index_terms, parse
from monitor.archive.store import Note, QueryTooBroad, decode, encode, facets, page_of, wanted_facets

T = TypeVar("T")

SCHEMA = """
CREATE TABLE IF NOT EXISTS articles(
  seq INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, published REAL NOT NULL, archived REAL NOT NULL,
  terms TEXT NOT NULL, doc BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS articles_archived ON articles(archived);
CREATE TABLE IF NOT EXISTS facets(value TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY(value, seq))
  WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS notes(article_id TEXT PRIMARY KEY, event_id TEXT NOT NULL DEFAULT '',
  copy_group TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS notes_event ON notes(event_id) WHERE event_id != '';
CREATE INDEX IF NOT EXISTS notes_copy ON notes(copy_group) WHERE copy_group != '';
CREATE TABLE IF NOT EXISTS backfill(alert_id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE VIRTUAL TABLE IF NOT EXISTS fts USING fts5(terms, content='articles', content_rowid='seq',
  detail=none, tokenize='unicode61 remove_diacritics 0');
"""

_SELECT = "SELECT a.doc, n.event_id, n.copy_group FROM "
_NOTES = " LEFT JOIN notes n ON n.article_id = a.id "


def _ts(d: datetime | None) -> float | None:
    return d.timestamp() if d is not None else None


class SqliteArchive:
    backend = "sqlite"

    def __init__(self, path: Path | str, *, query_timeout: float = 2.0) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.query_timeout = query_timeout
        self._w = self._connect()
        self._w.executescript(SCHEMA)
        self._r = self._connect() if self.path != ":memory:" else self._w
        self._wlock = threading.Lock()
        self._rlock = threading.Lock() if self._r is not self._w else self._wlock

    def _connect(self) -> sqlite3.Connection:
        c = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across a process kill
        c.execute("PRAGMA busy_timeout=5000")
        return c

    async def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        def run() -> T:
            with self._wlock:
                self._w.execute("BEGIN IMMEDIATE")
                try:
                    out = fn(self._w)
                except BaseException:
                    self._w.execute("ROLLBACK")
                    raise
                self._w.execute("COMMIT")
                return out

        return await asyncio.to_thread(run)

    async def _read(self, fn: Callable[[sqlite3.Connection], T], timeout: float | None = None) -> T:
        def run() -> T:
            with self._rlock:
                if timeout is None:
                    return fn(self._r)
                deadline = time.monotonic() + timeout
                self._r.set_progress_handler(lambda: int(time.monotonic() > deadline), 2000)
                try:
                    return fn(self._r)
                except sqlite3.OperationalError as exc:
                    if "interrupted" in str(exc):
                        raise QueryTooBroad(
                            f"the search ran past its {timeout:g}s budget: add words or filters, or narrow "
                            "the time range"
                        ) from None
                    raise
                finally:
                    self._r.set_progress_handler(None, 0)

        return await asyncio.to_thread(run)

    # --- writing ---------------------------------------------------------------------------------
    async def put(self, items: Sequence[ArchivedArticle]) -> int:
        rows = [(i.id, i.article.published.timestamp(), i.archived_at.timestamp(),
                 " ".join(index_terms(i.article.title, i.article.summary, i.article.content)),
                 encode(i), facets(i)) for i in items]

        def run(c: sqlite3.Connection) -> int:
            added = 0
            for aid, pub, arch, terms, doc, fs in rows:
                cur = c.execute(
                    "INSERT INTO articles(id, published, archived, terms, doc) VALUES(?,?,?,?,?) "
                    "ON CONFLICT(id) DO NOTHING RETURNING seq", (aid, pub, arch, terms, doc))
                got = cur.fetchone()
                if got is None:
                    continue
                seq = got[0]
                c.execute("INSERT INTO fts(rowid, terms) VALUES(?, ?)", (seq, terms))
                c.executemany("INSERT OR IGNORE INTO facets(value, seq) VALUES(?, ?)", [(f, seq) for f in fs])
                added += 1
            return added

        return await self._write(run)

    async def annotate(self, notes: Sequence[Note]) -> None:
        rows = [(n.article_id, n.event_id, n.copy_group) for n in notes if n.event_id or n.copy_group]
        if not rows:
            return
        await self._write(lambda c: c.executemany(
            "INSERT INTO notes(article_id, event_id, copy_group) VALUES(?,?,?) ON CONFLICT(article_id) DO UPDATE "
            "SET event_id = CASE WHEN excluded.event_id != '' THEN excluded.event_id ELSE event_id END, "
            "copy_group = CASE WHEN excluded.copy_group != '' THEN excluded.copy_group ELSE copy_group END",
            rows))

    async def prune(self, before: datetime) -> int:
        cutoff = before.timestamp()

        def run(c: sqlite3.Connection) -> int:
            rows = c.execute("SELECT seq, id, terms FROM articles WHERE archived < ? LIMIT 5000", (cutoff,)).fetchall()
            for seq, aid, terms in rows:
                c.execute("INSERT INTO fts(fts, rowid, terms) VALUES('delete', ?, ?)", (seq, terms))
                c.execute("DELETE FROM articles WHERE seq = ?", (seq,))
                c.execute("DELETE FROM notes WHERE article_id = ?", (aid,))
            if rows:
                c.execute("DELETE FROM facets WHERE seq <= ? AND seq NOT IN (SELECT seq FROM articles)",
                          (max(r[0] for r in rows),))
            c.execute("DELETE FROM backfill WHERE at < ?", (cutoff,))
            return len(rows)

        total = 0
        while True:  # in slices, so the writer is never held for long
            n = await self._write(run)
            total += n
            if n < 5000:
                return total

    async def record_backfill(self, alert_ids: Sequence[str]) -> None:
        now = time.time()
        await self._write(lambda c: c.executemany(
            "INSERT OR IGNORE INTO backfill(alert_id, at) VALUES(?, ?)", [(i, now) for i in alert_ids]))

    async def backfilled(self, alert_ids: Sequence[str]) -> set[str]:
        ids = list(alert_ids)

        def run(c: sqlite3.Connection) -> set[str]:
            out: set[str] = set()
            for k in range(0, len(ids), 500):
                chunk = ids[k:k + 500]
                q = "SELECT alert_id FROM backfill WHERE alert_id IN (" + ",".join("?" * len(chunk)) + ")"
                out.update(r[0] for r in c.execute(q, chunk))
            return out

        return await self._read(run)

    # --- reading ---------------------------------------------------------------------------------
    async def search(self, query: SearchQuery) -> SearchPage:
        started = time.perf_counter()
        groups = parse(query.q)
        wanted = wanted_facets(query)
        args: list[Any] = []
        if groups:
            sql = _SELECT + "fts JOIN articles a ON a.seq = fts.rowid" + _NOTES + "WHERE fts MATCH ?"
            args.append(fts5_expression(groups))
            order = " ORDER BY fts.rowid DESC"
            rest = wanted
        elif wanted:
            sql = _SELECT + "facets f0 JOIN articles a ON a.seq = f0.seq" + _NOTES + "WHERE f0.value = ?"
            args.append(wanted[0])
            order = " ORDER BY f0.seq DESC"
            rest = wanted[1:]
        else:
            sql = _SELECT + "articles a" + _NOTES + "WHERE 1"
            order = " ORDER BY a.seq DESC"
            rest = []
        for f in rest:
            sql += " AND EXISTS(SELECT 1 FROM facets f WHERE f.value = ? AND f.seq = a.seq)"
            args.append(f)
        if query.since is not None:
            sql += " AND a.published >= ?"
            args.append(_ts(query.since))
        if query.until is not None:
            sql += " AND a.published < ?"
            args.append(_ts(query.until))
        sql += order + " LIMIT ? OFFSET ?"
        args += [query.limit + 1, query.offset]
        rows = await self._read(lambda c: c.execute(sql, args).fetchall(), self.query_timeout)
        items = [decode(*r) for r in rows]
        return page_of(items, query, groups, (time.perf_counter() - started) * 1000)

    async def get(self, article_id: str) -> ArchivedArticle | None:
        row = await self._read(lambda c: c.execute(
            _SELECT + "articles a" + _NOTES + "WHERE a.id = ?", (article_id,)).fetchone())
        return decode(*row) if row else None

    async def copies(self, copy_group: str, limit: int = 100) -> list[ArchivedArticle]:
        return await self._related("copy_group", copy_group, limit)

    async def event(self, event_id: str, limit: int = 500) -> list[ArchivedArticle]:
        return await self._related("event_id", event_id, limit)

    async def _related(self, column: str, value: str, limit: int) -> list[ArchivedArticle]:
        if not value:
            return []
        rows = await self._read(lambda c: c.execute(
            "SELECT a.doc, n.event_id, n.copy_group FROM notes n JOIN articles a ON a.id = n.article_id "
            f"WHERE n.{column} = ? ORDER BY a.published, a.seq LIMIT ?", (value, limit)).fetchall())
        return [decode(*r) for r in rows]

    async def batches(
        self, since: datetime | None = None, until: datetime | None = None, size: int = 500,
        prefixes: Sequence[str] | None = None,
    ) -> AsyncIterator[list[ArchivedArticle]]:
        last: int | None = None
        lo = _ts(since) if since is not None else float("-inf")
        hi = _ts(until) if until is not None else float("inf")
        cols = _SELECT.replace("SELECT ", "SELECT a.seq, a.published, a.archived, ")
        if prefixes is not None:
            sql = cols + "fts JOIN articles a ON a.seq = fts.rowid" + _NOTES + \
                "WHERE fts MATCH ? AND fts.rowid < ? ORDER BY fts.rowid DESC LIMIT ?"
            head: tuple[Any, ...] = (" OR ".join(f'"{p}"*' for p in prefixes),)
        else:
            sql = cols + "articles a" + _NOTES + "WHERE a.seq < ? ORDER BY a.seq DESC LIMIT ?"
            head = ()
        while True:
            args = (*head, last if last is not None else 2**62, size)

            def page(c: sqlite3.Connection, args: tuple[Any, ...] = args) -> list[Any]:
                return c.execute(sql, args).fetchall()

            rows = await self._read(page)
            if not rows:
                return
            last = rows[-1][0]
            batch = [decode(doc, ev, cg) for _, pub, _, doc, ev, cg in rows if lo <= pub < hi]
            if batch:
                yield batch
            if rows[-1][2] < lo:  # archived before the window: nothing older can be published in it
                return

    async def count(self) -> int:
        return int((await self._read(lambda c: c.execute("SELECT count(*) FROM articles").fetchone()))[0])

    async def close(self) -> None:
        with self._wlock:
            self._w.close()
        if self._r is not self._w:
            with self._rlock:
                self._r.close()
