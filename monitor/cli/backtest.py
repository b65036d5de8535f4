"""``monitor backtest``: run rules over the archive; ``--alert`` backfills their alerts.

Reads the archive the settings name (``docs/archive.md``), newest first, with the rules of ``--rules``
(a folder, or one rule file that may use the live folder's lists; default ``MONITOR_RULES``), and prints
JSON lines: ``{"hit": …}`` per match with its evidence, then ``{"summary": …}`` (matches per day newest
first, per rule, and ``truncated`` when a limit stopped the run). The processor's live rules are not
touched. With ``--alert`` the matches of the last ``--hours`` hours are sent to the ``alerts`` topic as
``kind: backfill`` alerts with deterministic ids: running it again alerts nothing twice, and articles
the stream already matched with the same rule version are skipped.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import click
import orjson


def _load(path: Path, live: Path) -> Any:
    from monitor.archive.backtest import load_backtest_rules

    return load_backtest_rules(path, live)


async def _run(opts: dict[str, Any]) -> int:
    from monitor.archive import open_archive
    from monitor.archive.backtest import BacktestHit, BacktestLimits, parse_when, run_backtest, send_backfill
    from monitor.models import utcnow
    from monitor.settings import Settings

    settings = Settings()
    now = utcnow()
    since = now - timedelta(hours=opts["hours"]) if opts["alert"] else parse_when(opts["since"], now)
    until = parse_when(opts["until"], now) if opts["until"] else None
    rules = await asyncio.to_thread(_load, Path(opts["rules"] or settings.rules), settings.rules)
    producer = None
    if opts["alert"]:
        if not settings.kafka_bootstrap:
            raise click.ClickException(
                "--alert sends to the alerts topic: set MONITOR_KAFKA_BOOTSTRAP (with the embedded `monitor run`, "
                "POST the rule file to /api/v1/rules/backtest?alert=true&since=24h instead)")
        from monitor.broker import make_producer

        producer = await make_producer(settings, client_id="monitor-backtest")
    archive = await open_archive(settings)
    hits: list[BacktestHit] = []
    out = sys.stdout.buffer
    try:
        limits = BacktestLimits(max_hits=opts["limit"], max_articles=opts["max_articles"],
                                max_seconds=opts["max_seconds"])
        async for item in run_backtest(archive, rules, since=since, until=until, tag=opts["tag"],
                                       rules_only=opts["rule"], limits=limits):
            if isinstance(item, BacktestHit):
                if producer is not None:
                    hits.append(item)
                out.write(orjson.dumps({"hit": item.view().model_dump(mode="json")}) + b"\n")
            else:
                summary = item.model_dump(mode="json")
                if producer is not None:
                    r = await send_backfill(producer, settings.topic_alerts, hits, archive)
                    summary |= {"alerts_sent": len(r.sent), "already_live": r.live, "already_sent": r.repeated}
                out.write(orjson.dumps({"summary": summary}) + b"\n")
            out.flush()
    finally:
        await archive.close()
        if producer is not None:
            await producer.stop()
    return 0


@click.command()
@click.option("--rules", "rules", type=click.Path(exists=True, path_type=str), default=None,
              help="Rules folder or one rule file (default: MONITOR_RULES).")
@click.option("--since", default="7d", show_default=True, help="Window start: 7d, 24h, 30m, Unix seconds or ISO 8601.")
@click.option("--until", default=None, help="Window end (default: now).")
@click.option("--tag", default=None, help="Only rules with this tag.")
@click.option("--rule", multiple=True, help="Only this rule id (repeatable).")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000),
              help="Matches printed with evidence (all are counted).")
@click.option("--max-articles", default=1_000_000, show_default=True, type=click.IntRange(1),
              help="Stop after the rules ran on this many articles (the summary says so).")
@click.option("--max-seconds", default=300.0, show_default=True, type=click.FloatRange(0.1),
              help="Stop after this long (the summary says so).")
@click.option("--alert", is_flag=True, help="Backfill: send kind=backfill alerts for the matches of the last --hours.")
@click.option("--hours", default=24.0, show_default=True, type=click.FloatRange(0.01, 24 * 365),
              help="With --alert: how far back.")
def backtest(**opts: Any) -> None:
    """Run rules over the archive: what would they have caught?

    \b
    Examples:
      monitor backtest --since 7d
      monitor backtest --rules rules/attack-on-base --tag attack --since 48h
      monitor backtest --rules new-rule.yaml --since 30d --limit 20
      monitor backtest --rules new-rule.yaml --alert --hours 12
    """
    from monitor.archive.model import QueryInvalid
    from monitor.rules import RulesInvalid

    if opts["alert"]:
        opts["limit"] = 100_000  # every match of the window is alerted (and printed)
    try:
        sys.exit(asyncio.run(_run(opts)))
    except RulesInvalid as exc:
        for e in exc.errors:
            click.echo(str(e), err=True)
        raise click.ClickException(f"{len(exc.errors)} error(s) in the rules; fix them and run again") from None
    except QueryInvalid as exc:
        raise click.ClickException(str(exc)) from None
