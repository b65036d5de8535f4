"""A component task that dies surfaces: its /readyz check fails, the log names it, the crash is recorded."""

from __future__ import annotations

import asyncio
import logging

import pytest

from monitor.cli.console import Console
from monitor.runtime import Components, MonitorService
from monitor.settings import Settings


async def test_a_dead_component_fails_its_ready_check_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    svc = MonitorService(Settings(_env_file=None), Components(alerter=True), Console(quiet=True))  # type: ignore[call-arg]
    gate = asyncio.Event()

    async def healthy() -> None:
        await gate.wait()

    async def dies() -> None:
        raise RuntimeError("redis client closed")

    svc.h.tasks["poller"] = asyncio.create_task(healthy())
    svc.h.tasks["alerter"] = asyncio.create_task(dies())
    with caplog.at_level(logging.ERROR, logger="monitor.runtime"):
        svc._watch()
        await asyncio.gather(svc.h.tasks["alerter"], return_exceptions=True)
        for _ in range(100):  # done-callbacks run on the next loop turns
            if svc.crash_reason:
                break
            await asyncio.sleep(0)
    assert await svc._checks["task:alerter"]() is False
    assert await svc._checks["task:poller"]() is True
    assert svc.crash_reason is not None and svc.crash_reason.startswith("alerter: RuntimeError")
    assert "component alerter stopped unexpectedly" in caplog.text
    gate.set()
    await svc.h.tasks["poller"]


async def test_tasks_ending_during_a_stop_are_not_crashes() -> None:
    svc = MonitorService(Settings(_env_file=None), Components(), Console(quiet=True))  # type: ignore[call-arg]

    async def ends() -> None:
        return None

    svc.h.tasks["poller"] = asyncio.create_task(ends())
    svc._watch()
    svc._stopping = True
    await svc.h.tasks["poller"]
    await asyncio.sleep(0)
    assert svc.crash_reason is None
    assert await svc._checks["task:poller"]() is True
