"""``monitor run`` and the production entry points ``poller``, ``worker``, ``alerter``, ``api``.

``run`` starts every component in one process. With neither ``MONITOR_KAFKA_BOOTSTRAP`` nor
``MONITOR_REDIS_URL`` set it first starts the embedded broker and Redis (``monitor.embedded``) and stops
them after everything else has stopped. The production entry points need real services and refuse to
start embedded ones (several processes each with a private broker would never see each other's data).
Every process serves ``/healthz``, ``/readyz`` and ``/metrics`` on ``MONITOR_HTTP_PORT``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import click

from monitor import logs
from monitor.cli.console import Console
from monitor.runtime import Components, MonitorService
from monitor.settings import Settings

_quiet = click.option("-q", "--quiet", is_flag=True, help="Print nothing but errors.")
_verbose = click.option("-v", "--verbose", is_flag=True, help="Also print each new article and INFO logs.")


def _kafka_ready(settings: Settings) -> Any:
    host, _, port = settings.kafka_servers.split(",")[0].strip().rpartition(":")

    async def check() -> bool:
        _, writer = await asyncio.open_connection(host or "127.0.0.1", int(port))
        writer.close()
        return True

    return check


def _load_rules(settings: Settings, console: Console) -> Any:
    import logging

    from monitor.rules import RulesInvalid, load_rules, matcher_core, matcher_hint

    hint = matcher_hint(matcher_core())
    if hint:
        logging.getLogger("monitor.rules").warning(hint)
    try:
        return load_rules(settings.rules, learned=settings.learned)
    except RulesInvalid as exc:
        for err in exc.errors:
            console.error(str(err))
        raise click.ClickException(
            f"{len(exc.errors)} error(s) in the rules under {settings.rules}; "
            "fix them (`monitor rules check`) and start again"
        ) from None


def _check_feeds(settings: Settings, console: Console) -> None:
    """Validate the feeds file before anything starts (the poller reloads it with the real API address)."""
    from monitor.ingest.feeds import FeedsInvalid, load_feeds

    try:
        load_feeds(settings.feeds, {"MONITOR_API": f"http://127.0.0.1:{settings.http_port}"})
    except FeedsInvalid as exc:
        for err in exc.errors:
            console.error(err)
        raise click.ClickException(
            f"{len(exc.errors)} error(s) in the feeds file {settings.feeds}; fix it "
            "(`monitor feeds check FILE`) and start again"
        ) from None


def _journal(settings: Settings, components: Components) -> Any:
    """The article journal when the broker is the embedded one (memory storage), else None."""
    if not (settings.embedded_broker and settings.journal):
        return None
    import redis.asyncio as aioredis

    from monitor.journal import ALERT_STAGE, Journal

    stages = [ALERT_STAGE]
    if getattr(components, "archiver", False) and getattr(settings, "archive", False):
        stages.append("archive")
    return Journal(aioredis.Redis.from_url(settings.redis, decode_responses=False), stages=stages)


def serve(components: Components, *, quiet: bool, verbose: bool, allow_embedded: bool) -> None:
    settings = Settings()
    logs.setup("INFO" if verbose else settings.log_level, settings.log_json)
    console = Console(quiet=quiet, verbose=verbose)
    from monitor.api.auth import check_bind

    refusal = check_bind(settings)
    if refusal is not None:
        raise click.ClickException(refusal)
    # validate inputs before starting anything
    ruleset = _load_rules(settings, console) if components.worker else None
    if components.poller:
        _check_feeds(settings, console)
    embedded = None
    if settings.kafka_bootstrap is None or settings.redis_url is None:
        if not allow_embedded:
            raise click.ClickException(
                "MONITOR_KAFKA_BOOTSTRAP and MONITOR_REDIS_URL must be set for this command "
                "(it is a production entry point; `monitor run` starts embedded services instead)"
            )
        from monitor.embedded import EmbeddedError, start_missing

        try:
            embedded = start_missing(
                settings.data_dir, settings.kafka_bootstrap, settings.redis_url, settings.embedded_redis_maxmemory
            )
        except EmbeddedError as exc:
            raise click.ClickException(str(exc)) from None
        console.embedded = list(embedded.started)
        update: dict[str, Any] = {"kafka_bootstrap": embedded.kafka_bootstrap, "redis_url": embedded.redis_url}
        if settings.kafka_bootstrap is None:
            update["embedded_broker"] = True
        settings = settings.model_copy(update=update)
    exit_code = 0
    try:
        exit_code = _run_workers(settings, components, console, ruleset)
    finally:
        if embedded is not None:
            embedded.stop()
    sys.exit(exit_code)


def _run_workers(settings: Settings, components: Components, console: Console, ruleset: Any) -> int:
    import mode

    from monitor.broker import KafkaSetupError, preflight
    from monitor.metrics import METRICS

    try:
        asyncio.run(asyncio.wait_for(preflight(settings), 60))
    except KafkaSetupError as exc:
        raise click.ClickException(str(exc)) from None
    except Exception as exc:
        raise click.ClickException(
            f"cannot reach Kafka at {settings.kafka_bootstrap}: {exc!r} (retry when the broker is up)"
        ) from None
    ready: dict[str, Any] = {"kafka": _kafka_ready(settings)}
    journal = _journal(settings, components)
    rules_count = 0
    processor = watcher = None
    if components.worker:
        from monitor.process.core import Processor
        from monitor.rules import RuleWatcher

        rules_count = sum(1 for r in ruleset.rules if r.enabled)
        METRICS.rules_loaded.set(rules_count)

        def on_error(exc: Exception) -> None:
            METRICS.rules_reloads.labels("error").inc()
            for err in getattr(exc, "errors", [exc]):
                console.error(f"rules not reloaded: {err}")

        watcher = RuleWatcher(settings.rules, on_error=on_error, learned=settings.learned)
        from monitor.cluster import Clustering
        from monitor.process.policy import EventAlerts

        processor = Processor(ruleset, policy=EventAlerts(Clustering.from_settings(settings, track_volume=False)))

        async def rules_ready() -> bool:
            return processor is not None and processor.rules is not None

        ready["rules"] = rules_ready
    service = MonitorService(settings, components, console, rules_count=rules_count, ready_checks=ready,
                             journal=journal, processor=processor, watcher=watcher)
    level = "INFO" if console.verbose else "WARNING"
    worker = mode.Worker(service, loglevel=level, quiet=True, override_logging=False, redirect_stdouts=False)
    code = 0
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        code = int(exc.code or 0) if isinstance(exc.code, int | None) else 1
    if service.crash_reason:
        console.error(f"stopped because {service.crash_reason}")
        return 1
    return code


@click.command()
@_quiet
@_verbose
def run(quiet: bool, verbose: bool) -> None:
    """Run everything in one process: poller, processor, alerter and HTTP API.

    \b
    With MONITOR_KAFKA_BOOTSTRAP and MONITOR_REDIS_URL unset, an embedded Kafka-protocol broker
    (Tansu, memory storage) and an embedded Redis (AOF under MONITOR_DATA_DIR) are started on free
    loopback ports and stopped on exit. The default feed list is the bundled seed feed, so alerts
    appear within seconds, offline.

    \b
    Examples:
      monitor run
      MONITOR_FEEDS=feeds.yaml MONITOR_RULES=./rules monitor run -v
      MONITOR_KAFKA_BOOTSTRAP=kafka:9092 MONITOR_REDIS_URL=redis://redis:6379/0 monitor run
    """
    serve(Components(poller=True, worker=True, alerter=True, api=True, lag=True, archiver=True), quiet=quiet,
          verbose=verbose, allow_embedded=True)


@click.command()
@_quiet
@_verbose
def poller(quiet: bool, verbose: bool) -> None:
    """Poll the feeds in MONITOR_FEEDS and publish new articles to the articles topic.

    Needs MONITOR_KAFKA_BOOTSTRAP and MONITOR_REDIS_URL. Serves /healthz, /readyz, /metrics.
    """
    serve(Components(poller=True, api=True), quiet=quiet, verbose=verbose, allow_embedded=False)


@click.command()
@_quiet
@_verbose
def worker(quiet: bool, verbose: bool) -> None:
    """Process articles: normalise, cluster, match the rules in MONITOR_RULES, emit alerts.

    Start N workers to share the articles topic's partitions (N <= MONITOR_TOPIC_PARTITIONS).
    Needs MONITOR_KAFKA_BOOTSTRAP and MONITOR_REDIS_URL; set MONITOR_HTTP_PORT per process on one host.
    """
    serve(Components(worker=True, api=True), quiet=quiet, verbose=verbose, allow_embedded=False)


@click.command()
@_quiet
@_verbose
def alerter(quiet: bool, verbose: bool) -> None:
    """Route alerts to subscriptions and deliver them (Redis streams, webhooks, email, chat).

    Needs MONITOR_KAFKA_BOOTSTRAP and MONITOR_REDIS_URL. Serves /healthz, /readyz, /metrics.
    """
    serve(Components(alerter=True, api=True), quiet=quiet, verbose=verbose, allow_embedded=False)


@click.command()
@_quiet
@_verbose
def api(quiet: bool, verbose: bool) -> None:
    """Serve the HTTP API (alerts, subscriptions, silences, rules), /metrics and /healthz.

    Binds MONITOR_HTTP_HOST:MONITOR_HTTP_PORT (127.0.0.1:8080 by default). Needs MONITOR_REDIS_URL and
    MONITOR_KAFKA_BOOTSTRAP.
    """
    serve(Components(api=True, lag=True), quiet=quiet, verbose=verbose, allow_embedded=False)


@click.command()
@_quiet
@_verbose
def archiver(quiet: bool, verbose: bool) -> None:
    """Write the article archive: every article from the articles topic, with its matches and events.

    The archive is SQLite under MONITOR_DATA_DIR, or the PostgreSQL at MONITOR_ARCHIVE_URL (which
    several archivers and API processes can share). Articles are kept MONITOR_ARCHIVE_DAYS (30) days.
    Needs MONITOR_KAFKA_BOOTSTRAP and MONITOR_REDIS_URL. See docs/archive.md.
    """
    serve(Components(archiver=True, api=True), quiet=quiet, verbose=verbose, allow_embedded=False)
