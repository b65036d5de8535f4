"""When to poll a feed next: pure functions from a feed's state and a poll's result to a due time.

- ``initial_due`` (at start): a feed never polled is due now; one overdue after a restart is due within
  ``restart_spread`` seconds (spread, not all at once); one not yet due keeps its time, except that a
  shorter interval configured since is honoured at once, and a pending ``Retry-After`` always is.
- ``after_success``: the configured interval when the feed has one; otherwise an adaptive interval from
  an exponentially weighted estimate of the feed's publishing rate (new articles per second, weight 0.3
  per poll, the first poll's backlog excluded), aiming at about two polls per new article, bounded by
  ``floor`` and ``ceiling``. A quiet feed's interval grows by about 1/0.7 per empty poll up to the
  ceiling; a busy one shrinks to the floor. ±10 % jitter keeps feeds from moving in lockstep.
- ``after_failure``: exponential backoff, interval × 2^(errors-1) capped at the ceiling, ±20 % jitter;
  with a ``Retry-After`` (429/503), never earlier than it (capped at ``retry_after_max``).
All times are Unix seconds; ``rng`` is injectable so tests can pin the jitter.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from monitor.settings import Settings

#: Weight of the latest poll in the publishing-rate estimate.
RATE_WEIGHT = 0.3
#: Polls wanted per new article when adapting.
POLLS_PER_ARTICLE = 2.0


@dataclass(frozen=True, slots=True)
class Policy:
    default_interval: float
    floor: float
    ceiling: float
    retry_after_max: float
    restart_spread: float

    @classmethod
    def from_settings(cls, s: Settings) -> Policy:
        return cls(default_interval=s.poll_interval, floor=s.poll_interval_min, ceiling=s.poll_interval_max,
                   retry_after_max=s.poll_retry_after_max, restart_spread=s.poll_restart_spread)


def initial_due(p: Policy, *, next_due: float | None, retry_until: float | None, configured: float | None,
                now: float, rng: random.Random | None = None) -> float:
    r = rng or random
    if next_due is None:
        return now
    if retry_until is not None and retry_until > now:
        return max(next_due, retry_until)
    if next_due <= now:
        return now + r.uniform(0, p.restart_spread)
    longest = configured if configured is not None else p.ceiling
    return min(next_due, now + longest)


@dataclass(frozen=True, slots=True)
class Next:
    interval: float
    rate: float | None
    next_due: float
    errors: int = 0
    retry_until: float | None = None


def after_success(p: Policy, *, configured: float | None, rate: float | None, last_success: float | None,
                  new: int, now: float, rng: random.Random | None = None) -> Next:
    r = rng or random
    base = configured if configured is not None else p.default_interval
    est = rate if rate is not None else 1.0 / (POLLS_PER_ARTICLE * base)
    if last_success is not None:  # the first poll's backlog says nothing about the rate
        dt = max(1.0, now - last_success)
        est = (1 - RATE_WEIGHT) * est + RATE_WEIGHT * (new / dt)
    if configured is not None:
        interval = configured
    else:
        interval = min(p.ceiling, max(p.floor, 1.0 / (POLLS_PER_ARTICLE * max(est, 1e-9))))
    return Next(interval=interval, rate=est, next_due=now + interval * r.uniform(0.9, 1.1))


def after_failure(p: Policy, *, configured: float | None, interval: float | None, errors: int,
                  retry_after: float | None, now: float, rng: random.Random | None = None) -> Next:
    """``errors`` is the count of consecutive failures including this one (≥ 1)."""
    r = rng or random
    base = interval or (configured if configured is not None else p.default_interval)
    ceiling = max(p.ceiling, base)
    delay = min(ceiling, base * 2 ** min(errors - 1, 30)) * r.uniform(0.8, 1.2)
    retry_until = None
    if retry_after is not None:
        wait = min(p.retry_after_max, max(0.0, retry_after))
        retry_until = now + wait
        delay = max(delay if errors > 1 else 0.0, wait)
    return Next(interval=base, rate=None, next_due=now + delay, errors=errors, retry_until=retry_until)
