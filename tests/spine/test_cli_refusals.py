"""The CLI refuses unsafe or impossible set-ups with a clear message, before starting anything."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import ROOT


def monitor(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    import os

    full = {k: v for k, v in os.environ.items() if not k.startswith("MONITOR_")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "monitor", *args], env=full, cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_the_api_refuses_to_bind_beyond_loopback_without_a_token(tmp_path):
    r = monitor(["run"], {"MONITOR_HTTP_HOST": "0.0.0.0", "MONITOR_DATA_DIR": str(tmp_path)})
    assert r.returncode == 1
    assert "MONITOR_API_TOKEN" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "redis").exists(), "nothing was started"


def test_production_entry_points_need_real_services(tmp_path):
    for cmd in ("poller", "worker", "alerter", "api"):
        r = monitor([cmd], {"MONITOR_DATA_DIR": str(tmp_path)})
        assert r.returncode == 1, cmd
        assert "MONITOR_KAFKA_BOOTSTRAP" in r.stderr and "Traceback" not in r.stderr


def test_invalid_rules_are_reported_with_file_and_line(tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "bad.yaml").write_text("id: x\ntitle: t\nseverity: loud\nmatch:\n  any: [a]\n", encoding="utf-8")
    r = monitor(["run"], {"MONITOR_RULES": str(rules), "MONITOR_DATA_DIR": str(tmp_path / "d"),
                          "MONITOR_HTTP_PORT": "0"})
    assert r.returncode == 1
    assert "bad.yaml:3" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "d" / "redis").exists(), "nothing was started"


def test_help_explains_the_commands():
    r = monitor(["--help"], {})
    assert r.returncode == 0
    for cmd in ("run", "poller", "worker", "alerter", "api", "match", "rules", "feeds", "subscriptions"):
        assert f"  {cmd}" in r.stdout
    assert "unavailable" not in r.stdout
    r = monitor(["run", "--help"], {})
    assert "MONITOR_KAFKA_BOOTSTRAP" in r.stdout and "Examples" in r.stdout
