"""``monitor feeds check`` through click's CliRunner against local servers: the exact JSON line shape."""

from __future__ import annotations

import json
from pathlib import Path

from aiohttp import web
from click.testing import CliRunner

from monitor.cli import main

from .conftest import ThreadedServer, rss_feed

KEYS = ["url", "status", "entries", "bozo", "error", "elapsed_s"]


def _app() -> web.Application:
    app = web.Application()
    app.router.add_get("/good", lambda r: web.Response(body=rss_feed([("1", "a"), ("2", "b")])))
    app.router.add_get("/bozo", lambda r: web.Response(
        body=b"<rss><channel><item><title>x &nbsp; y</title></item><item><title>z</title></item>"))
    app.router.add_get("/gone", lambda r: web.Response(status=404))
    app.router.add_get("/busy", lambda r: web.Response(status=429, headers={"Retry-After": "60"}))
    app.router.add_get("/html", lambda r: web.Response(body=b"<html><body><p>not <b>a feed", content_type="text/html"))
    return app


def test_feeds_check_json_lines(tmp_path: Path) -> None:
    with ThreadedServer(_app()) as srv:
        paths = ["good", "bozo", "gone", "busy", "html"]
        f = tmp_path / "feeds.yaml"
        f.write_text("feeds:\n" + "".join(
            f"  - url: ${{BASE}}/{p}\n    name: {p}\n" + ("    enabled: false\n" if p == "busy" else "")
            for p in paths))
        result = CliRunner().invoke(main, ["feeds", "check", str(f), "--var", f"BASE={srv.url}"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [list(line) for line in lines] == [KEYS] * len(paths)
    by = {line["url"].rsplit("/", 1)[1]: line for line in lines}
    assert by["good"] | {"elapsed_s": 0} == {"url": f"{srv.url}/good", "status": "ok", "entries": 2,
                                             "bozo": False, "error": None, "elapsed_s": 0}
    assert (by["bozo"]["status"], by["bozo"]["entries"], by["bozo"]["bozo"]) == ("ok", 2, True)
    assert (by["gone"]["status"], by["gone"]["error"], by["gone"]["entries"]) == ("error", "HTTP 404", 0)
    assert by["busy"]["status"] == "error" and "retry after 60 s" in by["busy"]["error"]
    assert by["html"]["status"] == "error" and by["html"]["error"].startswith("not a feed")
    assert all(isinstance(line["elapsed_s"], float) for line in lines)


def test_feeds_check_invalid_file(tmp_path: Path) -> None:
    f = tmp_path / "bad.yaml"
    f.write_text("feeds:\n  - url: ftp://x/\n  - url: http://ok.example/\n    extra: 1\n")
    result = CliRunner().invoke(main, ["feeds", "check", str(f)])
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"{f}:2: url:")
    assert errors[1].startswith(f"{f}:4: unknown key 'extra'")
    assert result.stdout == ""
    missing = CliRunner().invoke(main, ["feeds", "check", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 1 and "cannot read" in missing.stderr
