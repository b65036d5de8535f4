"""docker-compose.yml has no known API token to fall back to: without MONITOR_API_TOKEN it refuses to start."""

from __future__ import annotations

import re

import yaml
from deploy_support import ROOT

COMPOSE = ROOT / "docker-compose.yml"


def _token_values() -> list[str]:
    doc = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    values = [str(doc["x-monitor-env"]["MONITOR_API_TOKEN"])]
    for svc in doc["services"].values():
        env = svc.get("environment") or {}
        if isinstance(env, dict) and "MONITOR_API_TOKEN" in env:
            values.append(str(env["MONITOR_API_TOKEN"]))
    return values


def test_api_token_is_required_with_a_clear_message() -> None:
    for value in _token_values():
        # ${VAR:?message}: Compose stops with the message when VAR is unset or empty (no default)
        m = re.fullmatch(r"\$\{MONITOR_API_TOKEN:\?(?P<msg>[^}]+)\}", value)
        assert m, f"MONITOR_API_TOKEN must be required, not defaulted: {value!r}"
        assert "MONITOR_API_TOKEN" in m["msg"] and ".env" in m["msg"]
    assert "change-me" not in COMPOSE.read_text(encoding="utf-8")
