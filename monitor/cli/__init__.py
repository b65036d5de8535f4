"""The ``monitor`` command: wiring only.

Each subcommand lives in its own module under ``monitor.cli`` and is imported only when it runs, so
``monitor --help`` stays fast. The registry below is the whole command list.
"""

from __future__ import annotations

import importlib

import click

#: command name -> "module:attribute" of a click command or group. The one visible registry.
COMMANDS: dict[str, str] = {
    "run": "monitor.cli.run:run",
    "poller": "monitor.cli.run:poller",
    "worker": "monitor.cli.run:worker",
    "alerter": "monitor.cli.run:alerter",
    "api": "monitor.cli.run:api",
    "archiver": "monitor.cli.run:archiver",
    "backtest": "monitor.cli.backtest:backtest",
    "match": "monitor.cli.rules:match",
    "rules": "monitor.cli.rules:rules",
    "feeds": "monitor.cli.feeds:feeds",
    "subscriptions": "monitor.cli.subscriptions:subscriptions",
    "silences": "monitor.cli.subscriptions:silences",
}

SHORT_HELP: dict[str, str] = {
    "run": "Run everything in one process (embedded broker and Redis when none configured).",
    "poller": "Poll the feeds and publish new articles to Kafka.",
    "worker": "Process articles: normalise, cluster, match rules, emit alerts (scale with partitions).",
    "alerter": "Route alerts to subscriptions and deliver them (Redis streams, webhooks, email, chat).",
    "api": "Serve the HTTP API, /metrics and /healthz.",
    "archiver": "Keep the searchable article archive (SQLite, or PostgreSQL via MONITOR_ARCHIVE_URL).",
    "backtest": "Run rules over the archive (what would they have caught?); --alert backfills alerts.",
    "match": "Backtest rules on JSON Lines articles (offline, no Kafka).",
    "rules": "Check and test rule files.",
    "feeds": "Check a feeds file by fetching every feed once.",
    "subscriptions": "Manage alert subscriptions.",
    "silences": "Manage silences.",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            cmd = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:  # a subcommand not built yet must not break --help
            reason = f"{type(exc).__name__}: {exc}"

            @click.command(cmd_name, help=f"(unavailable: {reason})")
            def unavailable() -> None:
                raise click.ClickException(f"'{cmd_name}' is unavailable: {reason}")

            return unavailable
        return cmd

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, SHORT_HELP.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="monitor")
def main() -> None:
    """monitor: know within seconds when something specific happens in the news.

    Polls RSS/Atom feeds, matches Arabic and English articles against YAML rules, and delivers alerts
    to Redis streams, signed webhooks, email and chat. Settings come from MONITOR_* environment
    variables (see the README). Start with `monitor run`.
    """
