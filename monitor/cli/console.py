"""What ``monitor`` prints on standard output for a person watching it.

A start-up summary (what was started, where the API is, how many feeds and rules), one line per alert,
and a goodbye line. ``--quiet`` prints only errors; ``--verbose`` adds a line per new article. Logs go
to standard error (``monitor.logs``), so standard output stays a clean alert feed that can be piped.
"""

from __future__ import annotations

import sys
import time
import unicodedata
from typing import IO, Any

from monitor.cli.safe import cell
from monitor.models import Alert, Article

SEVERITY_MARK = {"info": "·", "low": "-", "medium": "*", "high": "!", "critical": "!!"}


def _one_line(text: str, width: int) -> str:
    text = " ".join(text.split())
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf") or ch == " ")
    return text if len(text) <= width else text[: width - 1] + "…"


class Console:
    def __init__(self, *, quiet: bool = False, verbose: bool = False, out: IO[str] | None = None) -> None:
        self.quiet = quiet
        self.verbose = verbose and not quiet
        self.out = out or sys.stdout
        self.t0 = time.monotonic()
        self.embedded: list[str] = []
        self.alerts = 0

    def say(self, line: str = "") -> None:
        if not self.quiet:
            print(line, file=self.out, flush=True)

    def error(self, line: str) -> None:
        print(f"error: {line}", file=sys.stderr, flush=True)

    def started(self, settings: Any, handles: Any, components: Any, rules_count: int) -> None:
        names = ", ".join(components.names())
        self.say(f"monitor started in {time.monotonic() - self.t0:.1f}s: {names}")
        for line in self.embedded:
            self.say(f"  embedded  {line}")
        if not self.embedded:
            self.say(f"  kafka     {settings.kafka_bootstrap}")
        if components.poller:
            self.say(f"  feeds     {handles.feeds} from {settings.feeds}")
        if components.worker:
            from monitor.rules import matcher_core, matcher_hint

            core = matcher_core()
            self.say(f"  rules     {rules_count} from {settings.rules} (matcher: {core})")
            hint = matcher_hint(core)
            if hint:
                self.say(f"  note      {hint}")
        if handles.api_url:
            auth = "bearer token required" if settings.api_token else "no token set: loopback only"
            self.say(f"  console   {handles.api_url}/  (the analyst console: docs/console.md)")
            self.say(f"  api       {handles.api_url}/api/v1/alerts  ({auth})")
            self.say(f"  metrics   {handles.api_url}/metrics")
        if components.alerter or handles.api_url:
            sealed = "sealed with MONITOR_SECRET_KEY" if settings.secret_key else "in clear: set MONITOR_SECRET_KEY"
            self.say(f"  secrets   webhook secrets and chat URLs in Redis {sealed} (docs/security.md)")
        self.say("Alerts appear below. Press Ctrl-C to stop.")

    def alert(self, alert: Alert) -> None:
        self.alerts += 1
        a = alert.article
        when = alert.created_at.strftime("%H:%M:%S")
        mark = SEVERITY_MARK.get(alert.severity, "*")
        kind = "UPDATE" if alert.kind == "update" else "ALERT"
        title = _one_line(a.title, 90)
        # U+2068/U+2069 isolate the (often Arabic) title so the line's layout stays left to right.
        self.say(
            f"{when} {kind} {mark} {cell(alert.rule)} [{alert.severity}] {cell(a.source or '-')}: "
            f"\u2068{title}\u2069 {cell(a.url)}"
        )

    def article(self, article: Article) -> None:
        if self.verbose:
            self.say(f"  article {cell(article.source or '-')}: \u2068{_one_line(article.title, 90)}\u2069")

    def stopped(self) -> None:
        self.say(f"monitor stopped ({self.alerts} alerts shown)")
