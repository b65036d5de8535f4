"""monitor.retry: which errors are retried, the backoff shape, until_done, Tries."""

from __future__ import annotations

import asyncio
import errno

import pytest
import redis.exceptions
from aiokafka import errors as kafka_errors

from monitor.retry import Backoff, InfrastructureError, Stopped, Tries, is_infrastructure, until_done


@pytest.mark.parametrize(
    "exc",
    [
        redis.exceptions.ConnectionError("refused"),
        redis.exceptions.TimeoutError("slow"),
        redis.exceptions.BusyLoadingError("loading"),
        kafka_errors.KafkaConnectionError("down"),
        kafka_errors.KafkaTimeoutError(),
        kafka_errors.NodeNotReadyError(),
        kafka_errors.RequestTimedOutError(),
        ConnectionRefusedError(),
        TimeoutError(),
        OSError(errno.EHOSTUNREACH, "no route"),
        InfrastructureError("redis gone"),
    ],
)
def test_infrastructure_errors_are_retried(exc: BaseException) -> None:
    assert is_infrastructure(exc)


@pytest.mark.parametrize(
    "exc",
    [ValueError("bad"), KeyError("x"), TypeError("t"), redis.exceptions.ResponseError("WRONGTYPE"),
     OSError(errno.ENOENT, "no file"), kafka_errors.MessageSizeTooLargeError(), RuntimeError("bug")],
)
def test_everything_else_is_poison(exc: BaseException) -> None:
    assert not is_infrastructure(exc)


def test_cause_chain_counts_but_context_does_not() -> None:
    try:
        try:
            raise redis.exceptions.ConnectionError("down")
        except redis.exceptions.ConnectionError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as exc:
        assert is_infrastructure(exc)
    try:
        try:
            raise redis.exceptions.ConnectionError("down")
        except redis.exceptions.ConnectionError:
            raise ValueError("a bug while handling it")  # noqa: B904 - the point of the test
    except ValueError as exc:
        assert not is_infrastructure(exc)


def test_backoff_grows_caps_and_jitters() -> None:
    b = Backoff(initial=0.5, factor=2, cap=30, jitter=0.2)
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (50, 30.0)]:
        for _ in range(50):
            assert base * 0.8 <= b.delay(attempt) <= base * 1.2
    assert Backoff(jitter=0).delay(3) == 2.0
    assert len({b.delay(4) for _ in range(20)}) > 1


async def test_until_done_waits_out_infrastructure_and_returns() -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise redis.exceptions.ConnectionError("down")
        return "ok"

    assert await until_done(flaky, what="test", backoff=Backoff(initial=0.001, jitter=0)) == "ok"
    assert len(calls) == 3


async def test_until_done_raises_poison_at_once() -> None:
    calls = []

    async def broken() -> None:
        calls.append(1)
        raise ValueError("poison")

    with pytest.raises(ValueError, match="poison"):
        await until_done(broken, what="test")
    assert len(calls) == 1


async def test_until_done_stops_when_asked() -> None:
    stop = asyncio.Event()

    async def down() -> None:
        stop.set()
        raise redis.exceptions.ConnectionError("down")

    with pytest.raises(Stopped):
        await until_done(down, what="test", stop=stop, backoff=Backoff(initial=60))


def test_tries_counts_limits_and_forgets() -> None:
    t = Tries(3, remember=2)
    assert t.failed("a") == 1 and not t.exhausted("a")
    t.failed("a")
    assert t.failed("a") == 3 and t.exhausted("a")
    t.clear("a")
    assert t.count("a") == 0
    t.failed("b")
    t.failed("c")
    t.failed("d")  # only two remembered: b is forgotten first
    assert t.count("b") == 0 and len(t) == 2
    with pytest.raises(ValueError):
        Tries(0)
