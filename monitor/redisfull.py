"""A full Redis (``maxmemory`` reached under ``noeviction``) explained, wherever it surfaces.

Redis refuses writes with ``OOM command not allowed when used memory > 'maxmemory'``. Nothing is lost
when that happens — monitor commits Kafka offsets and acknowledges deliveries only after Redis took the
write, so the work is retried — but the bare message does not say what to do. ``is_redis_full`` spots
it; ``REDIS_FULL`` is the explanation; ``RedisFullHint`` (a logging filter, installed by
``logs.setup``) appends it to any log line carrying such an error; the API answers 503 with it.
Retryable: yes, once memory is freed or the limit raised.
"""

from __future__ import annotations

import logging

REDIS_FULL = (
    "Redis is full (its maxmemory is reached; it refuses writes and evicts nothing). Nothing is lost: "
    "the write is retried. Raise the limit (MONITOR_EMBEDDED_REDIS_MAXMEMORY for the embedded Redis, "
    "or the server's maxmemory), or free memory (shorter stream retention, fewer silences)."
)


def is_redis_full(exc: BaseException | None) -> bool:
    """True when ``exc`` (or what caused it) is Redis refusing a write for want of memory."""
    from redis.exceptions import OutOfMemoryError, ResponseError

    while exc is not None:
        if isinstance(exc, OutOfMemoryError):
            return True
        if isinstance(exc, ResponseError) and "maxmemory" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


class RedisFullHint(logging.Filter):
    """Appends ``REDIS_FULL`` to a record whose exception is a full Redis (once)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if is_redis_full(exc) and not getattr(record, "_redis_full", False):
            record.msg = f"{record.msg} — {REDIS_FULL}"
            record._redis_full = True
        return True
