"""``monitor.broker.FetchPace`` and the aiokafka internals it sets (checked against ``AIOKAFKA_CHECKED``).

It fails when an aiokafka release stops reading ``_fetch_max_wait_ms`` per fetch request, and shows on
the real embedded broker that a consumer whose pace switched still receives what is produced.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from importlib.metadata import version

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.consumer.fetcher import Fetcher

from monitor.broker import AIOKAFKA_CHECKED, FetchPace, ensure_topics, make_consumer, poke
from monitor.settings import Settings


def test_the_checked_release_is_the_installed_one() -> None:
    # a new aiokafka release: read Fetcher._get_actions_per_node and AIOKafkaConsumer.start again
    assert version("aiokafka") == AIOKAFKA_CHECKED


def test_aiokafka_builds_each_fetch_request_from_the_attribute_set() -> None:
    assert "self._fetch_max_wait_ms" in inspect.getsource(Fetcher._get_actions_per_node)
    assert list(inspect.signature(Fetcher._proc_fetch_request).parameters) == [
        "self", "assignment", "node_id", "request"]  # returns True when records came (the nap's cue)
    assert "has_new_data = any(fut.result() for fut in done_pending)" in inspect.getsource(
        Fetcher._fetch_requests_routine)
    start = inspect.getsource(AIOKafkaConsumer.start)
    assert "fetch_max_wait_ms=self._fetch_max_wait_ms" in start


async def test_busy_while_records_come_idle_after_a_quiet_spell() -> None:
    consumer = AIOKafkaConsumer(bootstrap_servers="127.0.0.1:9", fetch_max_wait_ms=500)
    pace = FetchPace(busy=0.02, idle=1.5, idle_after=0.2)
    pace.attach(consumer)
    assert consumer._fetch_max_wait_ms == 20 and not pace.idle
    pace.records(3)
    pace.records(0)
    assert not pace.idle  # quiet for less than idle_after
    time.sleep(0.25)
    assert pace.until_idle() == 0.0
    pace.records(0)
    assert pace.idle and consumer._fetch_max_wait_ms == 1500 and pace.until_idle() is None
    pace.records(1)
    assert not pace.idle and consumer._fetch_max_wait_ms == 20


def test_the_idle_wait_is_never_shorter_than_the_busy_one() -> None:
    assert FetchPace(busy=0.5, idle=0.1, idle_after=1).idle_ms == 500


@pytest.mark.integration
async def test_a_paced_consumer_on_the_real_broker_switches_and_still_receives(kafka_bootstrap: str) -> None:
    s = Settings(kafka_bootstrap=kafka_bootstrap, redis_url="redis://127.0.0.1:9/0", kafka_idempotence=False,
                 topic_articles="pace-art", topic_alerts="pace-al", topic_dead_letter="pace-dl", topic_partitions=1)
    await ensure_topics(s)
    consumer = make_consumer(s, "pace-al", group_id="pace-group")
    pace = FetchPace(busy=0.05, idle=0.8, idle_after=0.3)
    pace.attach(consumer)
    await consumer.start()
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        deadline = time.monotonic() + 30
        while not pace.idle:
            assert time.monotonic() < deadline, "the pace never went idle"
            got = await consumer.getmany(timeout_ms=100)
            pace.records(sum(len(v) for v in got.values()))
        assert consumer._fetcher._fetch_max_wait_ms == 800  # the running fetcher's next request
        await producer.send_and_wait("pace-al", b"one")
        seen: list[bytes] = []
        while not seen:
            assert time.monotonic() < deadline, "the record never came"
            got = await consumer.getmany(timeout_ms=500)
            seen += [r.value for v in got.values() for r in v]
            pace.records(len(seen))
        assert seen == [b"one"] and consumer._fetcher._fetch_max_wait_ms == 50
    finally:
        await producer.stop()
        await consumer.stop()
        await asyncio.sleep(0)


def test_a_napping_pace_keeps_fetches_short_and_poke_finds_it_by_topic() -> None:
    s = Settings(kafka_bootstrap="127.0.0.1:9", redis_url="redis://127.0.0.1:9/0", embedded_broker=True,
                 broker_fetch_max_wait=0.02, broker_fetch_max_wait_idle=3.0, broker_fetch_idle_after=0.0)
    pace = FetchPace.from_settings(s, topic="poke-unit")
    assert pace.nap
    pace.records(0)
    assert pace.idle and pace.wait_ms == 20  # idle, yet the broker holds no long fetch: the client naps
    poke("poke-other")
    assert pace.idle
    poke("poke-unit")
    assert not pace.idle


async def _napping_consumer(bootstrap: str, name: str, *, idle_after: float) -> tuple[AIOKafkaConsumer, FetchPace]:
    """A started consumer of topic ``<name>-al`` on the embedded broker whose idle naps last 120 s."""
    s = Settings(kafka_bootstrap=bootstrap, redis_url="redis://127.0.0.1:9/0", kafka_idempotence=False,
                 embedded_broker=True, topic_articles=f"{name}-art", topic_alerts=f"{name}-al",
                 topic_dead_letter=f"{name}-dl", topic_partitions=1, broker_fetch_max_wait=0.02,
                 broker_fetch_max_wait_idle=120.0, broker_fetch_idle_after=idle_after)
    await ensure_topics(s)
    consumer = make_consumer(s, f"{name}-al", group_id=f"{name}-group")
    pace = FetchPace.from_settings(s, topic=f"{name}-al")
    pace.attach(consumer)
    await consumer.start()
    pace.started(consumer)
    return consumer, pace


@pytest.mark.integration
async def test_a_napping_consumer_is_woken_by_a_local_send(kafka_bootstrap: str) -> None:
    # the nap lasts 120 s: the record only comes within the test's deadline because poke ends the nap
    consumer, pace = await _napping_consumer(kafka_bootstrap, "nap", idle_after=0.2)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await producer.start()
    try:
        deadline = time.monotonic() + 30
        while not pace.idle:
            assert time.monotonic() < deadline, "the pace never went idle"
            got = await consumer.getmany(timeout_ms=100)
            pace.records(sum(len(v) for v in got.values()))
        await asyncio.sleep(0.3)  # the consumer's empty fetches now end in a 120 s nap
        await producer.send_and_wait("nap-al", b"woken")
        poke("nap-al")
        seen: list[bytes] = []
        while not seen:
            assert time.monotonic() < deadline, "the poke did not end the nap"
            got = await consumer.getmany(timeout_ms=500)
            seen += [r.value for v in got.values() for r in v]
        assert seen == [b"woken"] and not pace.idle
    finally:
        await producer.stop()
        await consumer.stop()


@pytest.mark.integration
async def test_a_consumer_stops_cleanly_in_the_middle_of_a_nap(kafka_bootstrap: str) -> None:
    # aiokafka cancels the pending fetch task on stop and awaits it: the nap must end without an error
    consumer, pace = await _napping_consumer(kafka_bootstrap, "nap2", idle_after=0.0)
    deadline = time.monotonic() + 30
    while not consumer.assignment():
        assert time.monotonic() < deadline, "no partitions assigned"
        pace.records(sum(len(v) for v in (await consumer.getmany(timeout_ms=100)).values()))
    pace.records(0)
    assert pace.idle
    await asyncio.sleep(0.3)  # an empty fetch came back: the fetch task naps now
    await asyncio.wait_for(consumer.stop(), 30)
