"""CLI tables and the console escape control characters: no ESC/CR/bidi sequence can fake a row."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.cli.console import Console
from monitor.cli.safe import cell

from .helpers import make_alert

HOSTILE = "ops\x1b[2J\x1b[H\rFAKE  redis  enabled  root\n\u202eevil\x07\x7f"


def _clean(out: str) -> None:
    assert not any(c in out for c in "\x1b\r\x07\x7f\u202e"), repr(out)


def test_cell_escapes_controls_and_keeps_text() -> None:
    assert cell("غارة على قاعدة — ok") == "غارة على قاعدة — ok"
    assert cell("a\x1bb\rc\u202ed\x9b") == "a\\x1bb\\x0dc\\u202ed\\x9b"


@pytest.fixture
def run(redis_db_url: str, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("MONITOR_REDIS_URL", redis_db_url)
    monkeypatch.delenv("MONITOR_API_TOKEN", raising=False)
    runner = CliRunner()

    def go(*args: str) -> str:
        res = runner.invoke(main, list(args), catch_exceptions=False)
        assert res.exit_code == 0, res.output
        return res.output

    return go


def test_subscription_and_silence_tables_escape_controls(run) -> None:  # type: ignore[no-untyped-def]
    run("subscriptions", "create", "--name", HOSTILE, "--channel", "redis")
    out = run("subscriptions", "list")
    _clean(out)
    assert len(out.strip().splitlines()) == 1 and "\\x1b[2J" in out
    run("silences", "create", "--rule", "r\x1b[1A", "--ends", "1h", "--comment", HOSTILE)
    out = run("silences", "list")
    _clean(out)
    assert len(out.strip().splitlines()) == 1


def test_console_alert_line_escapes_source_and_url() -> None:
    buf = io.StringIO()
    alert = make_alert(1, source="feed\x1b[31m", title="t\x1b[2J")
    art = alert.article.model_copy(update={"url": "https://x.example/\r\x1b[2Kfake", "published": datetime.now(UTC)})
    Console(out=buf).alert(alert.model_copy(update={"article": art}))
    _clean(buf.getvalue())
    assert buf.getvalue().count("\n") == 1
