"""The article archive: every processed article kept for ``MONITOR_ARCHIVE_DAYS``, searchable, and the
ground for backtests (``docs/archive.md``).

``open_archive(settings)`` returns the configured ``Archive`` (``monitor.archive.store``): PostgreSQL
when ``MONITOR_ARCHIVE_URL`` is a ``postgresql://`` URL, else SQLite in ``MONITOR_DATA_DIR/archive.db``.
The archiver (``monitor.archive.writer``) fills it from the ``articles`` and ``alerts`` topics;
``analyse_for_archive`` (``monitor.archive.record``) is the pure step that turns an article into what
is stored, with the same rule engine as the stream; ``monitor.archive.backtest`` runs rules over it.
Callers (API handlers, the console) use only the ``Archive`` methods and the models exported here.
"""

from __future__ import annotations

from monitor.archive.model import (
    ArchivedArticle,
    ArchiveUnavailable,
    QueryInvalid,
    SearchHit,
    SearchPage,
    SearchQuery,
)
from monitor.archive.store import Archive, Note, QueryTooBroad
from monitor.settings import Settings

SQLITE_FILE = "archive.db"


class ArchiveConfigError(ValueError):
    """MONITOR_ARCHIVE_URL is not a URL monitor can use. Not retryable: fix the setting."""


async def open_archive(settings: Settings) -> Archive:
    """Open (and create if needed) the archive the settings name."""
    url = settings.archive_url.get_secret_value() if settings.archive_url is not None else ""
    if url:
        if not url.startswith(("postgresql://", "postgres://")):
            raise ArchiveConfigError(
                "MONITOR_ARCHIVE_URL must be a postgresql://user:password@host:port/db URL (or unset for "
                "the embedded SQLite archive)"
            )
        from monitor.archive.postgres import PostgresArchive

        return await PostgresArchive.open(url, query_timeout=settings.archive_query_timeout)
    from monitor.archive.sqlite import SqliteArchive

    return SqliteArchive(settings.data_dir / SQLITE_FILE, query_timeout=settings.archive_query_timeout)


__all__ = [
    "Archive",
    "ArchiveConfigError",
    "ArchiveUnavailable",
    "ArchivedArticle",
    "Note",
    "QueryInvalid",
    "QueryTooBroad",
    "SearchHit",
    "SearchPage",
    "SearchQuery",
    "open_archive",
]
