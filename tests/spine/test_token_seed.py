"""``monitor run`` with MONITOR_API_TOKEN set still polls its own seed feed and alerts (it used to get 401)."""

from __future__ import annotations

import json
import signal
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from monitor.embedded import free_port
from tests.helpers import MonitorProcess

pytestmark = pytest.mark.integration
TOKEN = "a-long-test-token-0123456789"


def alerts(api: str, token: str | None) -> list[dict]:
    req = urllib.request.Request(f"{api}/api/v1/alerts?limit=100")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())["alerts"]


def test_seed_feed_alerts_with_a_token_set(tmp_path: Path) -> None:
    port = free_port()
    mon = MonitorProcess(
        ["run"], {"MONITOR_DATA_DIR": str(tmp_path), "MONITOR_HTTP_PORT": str(port), "MONITOR_API_TOKEN": TOKEN}
    )
    api = f"http://127.0.0.1:{port}"
    try:
        mon.wait_for(lambda: mon.line_matching(r"bearer token required"), 60, "start-up summary")
        found = mon.wait_for(lambda: [a for a in alerts(api, TOKEN) if "negotiation-round" in a["tags"]], 90,
                             "a seed alert in the API")
        assert found
        with pytest.raises(urllib.error.HTTPError) as err:
            alerts(api, None)
        assert err.value.code == 401
        assert mon.stop(signal.SIGTERM, timeout=20) == 0
    finally:
        mon.kill()
