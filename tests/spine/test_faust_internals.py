"""The faust internals ``monitor.process.faust_app`` touches still exist and still do what it relies on.

It fails when a faust-streaming release renames the hooks, changes what they return, or makes the
hard-coded fetch wait configurable (then use the public setting instead): see ``FAUST_CHECKED``.
No broker is needed: aiokafka clients are only built here, never started.
"""

from __future__ import annotations

import inspect
from importlib.metadata import version

import faust
import pytest
from faust.transport.drivers import aiokafka as faust_aiokafka

from monitor.process.faust_app import FAUST_CHECKED, build_app
from monitor.settings import Settings


def settings(tmp_path, **kw) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(_env_file=None, kafka_bootstrap="127.0.0.1:9", redis_url="redis://127.0.0.1:9/0",
                    data_dir=tmp_path, **kw)


def test_the_checked_release_is_the_installed_one() -> None:
    # a new faust release: read the hooks below in its source, then update FAUST_CHECKED (and constraints.txt)
    assert version("faust-streaming") == FAUST_CHECKED


def test_the_hooks_exist_where_they_were() -> None:
    for owner, name in [
        (faust_aiokafka.Producer, "_settings_extra"),
        (faust_aiokafka.Producer, "_new_producer"),
        (faust_aiokafka.AIOKafkaConsumerThread, "_create_worker_consumer"),
        (faust_aiokafka.Consumer, "_new_consumer_thread"),
        (faust.App, "_new_transport"),
        (faust.App, "_new_producer_transport"),
    ]:
        assert callable(getattr(owner, name, None)), f"faust no longer has {owner.__name__}.{name}"
    # still hard-coded: when faust makes it a setting, set it through the setting instead
    source = inspect.getsource(faust_aiokafka.AIOKafkaConsumerThread._create_worker_consumer)
    assert "fetch_max_wait_ms=1500" in source
    assert not hasattr(faust.App(id="probe").conf, "consumer_fetch_max_wait_ms")


@pytest.mark.parametrize("idempotence", [True, False])
async def test_the_producer_gets_acks_all_and_the_configured_idempotence(tmp_path, idempotence: bool) -> None:
    app, _ = build_app(settings(tmp_path, kafka_idempotence=idempotence))
    producer = app._new_producer_transport().create_producer()
    client = producer._new_producer()
    try:
        assert (client._txn_manager is not None) is idempotence  # aiokafka keeps idempotence state there
        assert client._sender._acks == -1  # all
    finally:
        await client.client.close()


async def test_the_consumer_waits_the_configured_fetch_time(tmp_path) -> None:  # type: ignore[no-untyped-def]
    app, _ = build_app(settings(tmp_path, broker_fetch_max_wait=0.05))
    async def nothing(*args: object) -> None: ...

    consumer = app._new_transport().create_consumer(
        callback=nothing, on_partitions_revoked=nothing, on_partitions_assigned=nothing)
    thread = consumer._new_consumer_thread()
    client = thread._create_worker_consumer(consumer.transport)
    try:
        assert client._fetch_max_wait_ms == 50
        assert client._consumer_timeout == 1.0  # aiokafka builds its fetcher with it (test_fetch_pace)
        assert client.start.__name__ == "start_then_pace"  # the pace installs its nap once it started
        app.fetch_pace.idle_after = 0.0
        app.fetch_pace.records(0)  # the agent saw nothing: the app's pace turns this consumer idle
        assert client._fetch_max_wait_ms == int(Settings().broker_fetch_max_wait_idle * 1000)
    finally:
        await client._client.close()
