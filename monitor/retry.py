"""Infrastructure retries in one place: which errors are worth waiting out, how long to wait, when to give up.

Two kinds of failure reach a stage's loop, and they need opposite treatment:

- **infrastructure** (``is_infrastructure``): Redis ``ConnectionError``/``TimeoutError``/``BusyLoadingError``
  (also ``ReadOnlyError`` and ``TryAgainError``), aiokafka's connection, timeout and leadership errors
  (every ``KafkaError`` whose ``retriable`` is true, plus ``KafkaConnectionError``, ``KafkaTimeoutError``,
  ``NodeNotReadyError``, ``RequestTimedOutError``), ``OSError`` from the network (``ConnectionError``,
  ``TimeoutError``, refused/unreachable), and anything raised as ``InfrastructureError`` or *from* one of
  these (``raise X from exc``). The record is fine; the world is not. Wait with exponential backoff and
  jitter (``Backoff``) and try the same work again, for as long as it takes; never dead-letter for it.
- **poison**: everything else. The record (or a handler meeting it) is at fault and trying again gives
  the same answer. The caller tries it at most ``Tries.limit`` times, then sends it to ``dead-letter``
  with its reason and goes on with the rest.

API (all pure but ``until_done``):

- ``is_infrastructure(exc) -> bool`` and ``INFRASTRUCTURE_ERRORS`` (the exception classes, for ``except``);
- ``Backoff(initial=0.5, factor=2, cap=30, jitter=0.2).delay(attempt)``: seconds before retry ``attempt``
  (1-based), ``initial * factor**(attempt-1)`` capped, times a random factor in ``[1-jitter, 1+jitter]``;
- ``await until_done(fn, what=..., stop=event)``: call the coroutine function ``fn`` until it returns;
  on an infrastructure error log one warning naming ``what`` and the error, sleep ``Backoff.delay``
  (woken early by ``stop``), try again; when ``stop`` is set while waiting raise ``Stopped``; any other
  error propagates at once (the caller decides about poison);
- ``Tries(limit)``: failure counts per key (an alert id, a stream entry id), bounded in memory.
  ``tries.failed(key) -> int`` counts one more failure and returns the count; ``tries.exhausted(key)``
  says whether the limit is reached; ``tries.clear(key)`` forgets it after a success or a dead-letter.

Used by the alert consumer, the delivery dispatcher, the processor and the poller, so that all four
retry the same errors in the same way.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import redis.exceptions
from aiokafka import errors as kafka_errors

log = logging.getLogger(__name__)

T = TypeVar("T")


class InfrastructureError(Exception):
    """A dependency (Redis, the broker, the network) failed; the work itself is fine. Retryable."""

    retryable = True


class Stopped(Exception):
    """``until_done`` gave up waiting because the stage is stopping. Not an error: commit nothing, exit."""


#: classes that are infrastructure errors whatever their arguments (``except INFRASTRUCTURE_ERRORS``)
INFRASTRUCTURE_ERRORS: tuple[type[BaseException], ...] = (
    InfrastructureError,
    redis.exceptions.ConnectionError,  # includes BusyLoadingError
    redis.exceptions.TimeoutError,
    redis.exceptions.BusyLoadingError,
    redis.exceptions.ReadOnlyError,  # a replica promoted, or a failover in progress
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    kafka_errors.KafkaConnectionError,
    kafka_errors.KafkaTimeoutError,
    kafka_errors.NodeNotReadyError,
    kafka_errors.RequestTimedOutError,
    kafka_errors.NotLeaderForPartitionError,
    kafka_errors.LeaderNotAvailableError,
    kafka_errors.NotEnoughReplicasError,
    kafka_errors.NotEnoughReplicasAfterAppendError,
    kafka_errors.CoordinatorNotAvailableError,
    kafka_errors.NotCoordinatorError,
    ConnectionError,  # OSError subclasses: refused, reset, aborted, broken pipe
    TimeoutError,  # also asyncio.TimeoutError on Python >= 3.11
)

#: errno values of an ``OSError`` that mean "the network or the peer", not "this input"
_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNREFUSED", "ECONNRESET", "ECONNABORTED", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH",
        "ENETDOWN", "EHOSTDOWN", "EADDRNOTAVAIL", "ENOTCONN", "ESHUTDOWN",
    )
    if hasattr(errno, name)
)


def is_infrastructure(exc: BaseException) -> bool:
    """True when ``exc`` (or the error it was raised from) says a dependency failed, not the record."""
    seen = 0
    cur: BaseException | None = exc
    while cur is not None and seen < 5:
        if isinstance(cur, INFRASTRUCTURE_ERRORS):
            return True
        if isinstance(cur, kafka_errors.KafkaError) and getattr(cur, "retriable", False):
            return True
        if type(cur) is OSError and cur.errno in _NETWORK_ERRNOS:
            return True
        cur = cur.__cause__  # only an explicit ``raise … from``: an unrelated context is not a cause
        seen += 1
    return False


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with proportional jitter: 0.5 s, 1 s, 2 s … 30 s, each ±20 %."""

    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 0.2

    def delay(self, attempt: int) -> float:
        base = min(self.cap, self.initial * self.factor ** max(0, attempt - 1))
        if self.jitter <= 0:
            return base
        return base * random.uniform(1.0 - self.jitter, 1.0 + self.jitter)


DEFAULT_BACKOFF = Backoff()


async def until_done(
    fn: Callable[[], Awaitable[T]],
    *,
    what: str,
    stop: asyncio.Event | None = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    logger: logging.Logger = log,
    on_retry: Callable[[BaseException, int], None] | None = None,
) -> T:
    """Await ``fn()`` until it returns; wait out infrastructure errors, re-raise anything else.

    Raises ``Stopped`` when ``stop`` is set while waiting for a retry (the work was not done).
    """
    attempt = 0
    while True:
        try:
            return await fn()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not is_infrastructure(exc):
                raise
            attempt += 1
            pause = backoff.delay(attempt)
            if on_retry is not None:
                on_retry(exc, attempt)
            if attempt == 1 or attempt % 10 == 0:  # the first failure, then every 10th: no log flood
                logger.warning("%s: %s: %s; retrying in %.1fs (attempt %d)", what, type(exc).__name__, exc,
                               pause, attempt)
            if stop is None:
                await asyncio.sleep(pause)
                continue
            if stop.is_set():
                raise Stopped(what) from exc
            try:
                await asyncio.wait_for(stop.wait(), pause)
            except TimeoutError:
                continue
            raise Stopped(what) from exc


class Tries:
    """How often each key (an alert id, an entry id) has failed as poison; bounded (oldest forgotten)."""

    def __init__(self, limit: int = 3, *, remember: int = 100_000) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self._remember = remember
        self._counts: OrderedDict[str, int] = OrderedDict()

    def failed(self, key: str) -> int:
        n = self._counts.pop(key, 0) + 1
        self._counts[key] = n
        while len(self._counts) > self._remember:
            self._counts.popitem(last=False)
        return n

    def count(self, key: str) -> int:
        return self._counts.get(key, 0)

    def exhausted(self, key: str) -> bool:
        return self._counts.get(key, 0) >= self.limit

    def clear(self, key: str) -> None:
        self._counts.pop(key, None)

    def __len__(self) -> int:
        return len(self._counts)
