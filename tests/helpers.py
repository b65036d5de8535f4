"""Helpers for tests that run monitor as a real process and read real topics."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from aiokafka import AIOKafkaConsumer

ROOT = Path(__file__).resolve().parent.parent


class MonitorProcess:
    """``python -m monitor ARGS`` with its stdout collected line by line."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path = ROOT) -> None:
        full_env = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
        full_env.update(env)
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor", *args], env=full_env, cwd=cwd,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8",
        )
        self.lines: list[str] = []
        self.err: list[str] = []
        self._t = threading.Thread(target=self._pump, args=(self.proc.stdout, self.lines), daemon=True)
        self._e = threading.Thread(target=self._pump, args=(self.proc.stderr, self.err), daemon=True)
        self._t.start()
        self._e.start()

    @staticmethod
    def _pump(stream, sink: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            sink.append(line.rstrip("\n"))

    def wait_for(self, pred: Callable[[], object], timeout: float, what: str) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = pred()
            if value:
                return value
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(
            f"timed out waiting for {what}; exit={self.proc.poll()}\n--- stdout\n"
            + "\n".join(self.lines[-40:]) + "\n--- stderr\n" + "\n".join(self.err[-60:])
        )

    def line_matching(self, pattern: str) -> re.Match[str] | None:
        rx = re.compile(pattern)
        for line in self.lines:
            m = rx.search(line)
            if m:
                return m
        return None

    def children(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.proc.pid).children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def stop(self, sig: int, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        finally:
            self._t.join(timeout=2)

    def kill(self) -> None:
        if self.proc.poll() is None:
            for pid in self.children():
                with contextlib.suppress(psutil.NoSuchProcess):
                    psutil.Process(pid).kill()
            self.proc.kill()
            self.proc.wait(timeout=10)


def alive(pids: list[int]) -> list[int]:
    out = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.append(pid)
        except psutil.NoSuchProcess:
            pass
    return out


async def read_topic(bootstrap: str, topic: str, want: Callable[[list[bytes]], bool], timeout: float) -> list[bytes]:
    """Read ``topic`` from the beginning until ``want(values)`` holds or ``timeout`` passes."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False,
        group_id=None,
    )
    await consumer.start()
    values: list[bytes] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not want(values):
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                values.extend(r.value for r in records)
    finally:
        await consumer.stop()
    return values


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)
