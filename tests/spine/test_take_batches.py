"""``take_batches``: the processor's batching of faust events (greedy, acknowledged after the batch).

The faust stream is replaced by a small stand-in with the three things ``take_batches`` uses
(``events()``, ``ack()``, ``enable_acks``); the real stream is covered end to end in test_end_to_end.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from monitor.broker import FetchPace
from monitor.process.agent import take_batches


class FakeStream:
    def __init__(self) -> None:
        self.enable_acks = True
        self.incoming: asyncio.Queue[object] = asyncio.Queue()
        self.acked: list[object] = []

    async def events(self) -> AsyncIterator[object]:
        while True:
            item = await self.incoming.get()
            if isinstance(item, BaseException):
                raise item
            if item is None:
                return
            yield item

    async def ack(self, event: object) -> bool:
        self.acked.append(event)
        return True


async def until(cond, what: str, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not cond():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def test_a_backlog_comes_in_order_in_batches_each_acked_only_after_it_was_handled() -> None:
    s = FakeStream()
    for i in range(7):
        s.incoming.put_nowait(i)
    gen = take_batches(s, 3, 0.0)
    first = await gen.__anext__()
    assert s.enable_acks is False  # faust must not ack on its own
    assert first and first == list(range(len(first))) and len(first) <= 3
    assert s.acked == []  # handed out, not yet acknowledged
    seen = list(first)
    while len(seen) < 7:
        batch = await asyncio.wait_for(gen.__anext__(), 5)
        assert 1 <= len(batch) <= 3
        assert s.acked == seen  # everything before this batch, nothing of it
        seen += batch
    assert seen == list(range(7))
    await gen.aclose()
    assert len(s.acked) == 7 - len(batch)  # the batch whose handling did not finish stays unacknowledged


async def test_a_lone_event_is_handed_out_at_once_and_within_waits_for_more() -> None:
    s = FakeStream()
    gen = take_batches(s, 10, 0.0)
    s.incoming.put_nowait("a")
    assert await asyncio.wait_for(gen.__anext__(), 5) == ["a"]
    await gen.aclose()

    s2 = FakeStream()
    gen2 = take_batches(s2, 10, 30.0)
    s2.incoming.put_nowait("a")
    got = asyncio.ensure_future(gen2.__anext__())
    await asyncio.sleep(0.05)
    assert not got.done()  # waiting up to `within` for the batch to fill
    for x in "bcdefghij":
        s2.incoming.put_nowait(x)
    assert await asyncio.wait_for(got, 5) == list("abcdefghij")  # full: no need to wait longer
    await gen2.aclose()


async def test_an_error_of_the_stream_surfaces_and_the_end_of_the_stream_ends_the_batches() -> None:
    s = FakeStream()
    gen = take_batches(s, 10, 0.0)
    s.incoming.put_nowait(RuntimeError("broken"))
    with pytest.raises(RuntimeError, match="broken"):
        await asyncio.wait_for(gen.__anext__(), 5)

    s2 = FakeStream()
    s2.incoming.put_nowait("x")
    s2.incoming.put_nowait(None)
    batches = [b async for b in take_batches(s2, 10, 0.0)]
    assert [e for b in batches for e in b] == ["x"] and s2.acked == ["x"]


async def test_the_fetch_pace_goes_idle_without_events_and_busy_with_them() -> None:
    s = FakeStream()
    pace = FetchPace(busy=0.05, idle=2.0, idle_after=0.1)
    gen = take_batches(s, 10, 0.0, pace)
    got = asyncio.ensure_future(gen.__anext__())
    await until(lambda: pace.idle, "the pace to go idle")
    assert pace.wait_ms == 2000 and not got.done()
    s.incoming.put_nowait("a")
    assert await asyncio.wait_for(got, 5) == ["a"]
    assert not pace.idle and pace.wait_ms == 50
    await gen.aclose()
