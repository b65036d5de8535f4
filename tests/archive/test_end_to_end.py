"""``monitor run`` on the embedded default keeps the archive: the seed articles become searchable in
Arabic and English through the API, with the matches the stream found and the events from its alerts;
the archive file survives a restart; SIGTERM stops the archiver with everything else."""

from __future__ import annotations

import json
import signal
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from monitor.embedded import free_port
from tests.helpers import MonitorProcess

pytestmark = pytest.mark.integration


def get(url: str) -> dict:  # type: ignore[type-arg]
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())  # type: ignore[no-any-return]


def search(api: str, **params: str) -> list[dict]:  # type: ignore[type-arg]
    return get(f"{api}/api/v1/articles?" + urllib.parse.urlencode(params))["hits"]  # type: ignore[no-any-return]


def test_monitor_run_archives_the_seeds_searchably(tmp_path: Path):
    port = free_port()
    env = {"MONITOR_DATA_DIR": str(tmp_path), "MONITOR_HTTP_PORT": str(port)}
    api = f"http://127.0.0.1:{port}"
    mon = MonitorProcess(["run"], env)
    try:
        mon.wait_for(lambda: mon.line_matching(r"archiver"), 60, "the archiver in the start-up summary")
        mon.wait_for(lambda: len(search(api, limit="50")) >= 5, 90, "five seed articles archived")
        # Arabic-aware: «محادثات» (talks) is in the seed rounds; the alerts' events arrive as notes
        hits = search(api, q="محادثات")
        assert {"seed:001_dc5b0399aa33f440", "seed:003_987e725a71a5c5d0"} <= {h["id"] for h in hits}
        assert all(h["highlights"] for h in hits)
        by_rule = search(api, rule="negotiation-round.talks-held")
        assert by_rule and all("negotiation-round.talks-held" in h["rules"] for h in by_rule)
        mon.wait_for(lambda: any(h["event_id"] for h in search(api, rule="negotiation-round.talks-held")), 60,
                     "event ids from the alerts")
        one = next(h for h in search(api, rule="negotiation-round.talks-held") if h["event_id"])
        view = get(f"{api}/api/v1/articles/{urllib.parse.quote(one['id'], safe='')}")
        assert view["article"]["matches"][0]["evidence"]
        event = get(f"{api}/api/v1/events/{one['event_id']}")
        assert one["id"] in {r["id"] for r in event["reports"]}
        assert mon.stop(signal.SIGTERM, timeout=30) == 0, "\n".join(mon.err[-30:])
    finally:
        mon.kill()
    assert (tmp_path / "archive.db").exists()

    # a second run finds the archive as it was, before any feed is polled again
    port = free_port()
    api = f"http://127.0.0.1:{port}"
    (tmp_path / "none.yaml").write_text("feeds: []\n", encoding="utf-8")
    mon = MonitorProcess(["run"], {**env, "MONITOR_HTTP_PORT": str(port), "MONITOR_FEEDS": str(tmp_path / "none.yaml")})
    try:
        mon.wait_for(lambda: mon.line_matching(r"api\s+http"), 60, "start-up summary")
        assert len(search(api, limit="50")) >= 5
        assert mon.stop(signal.SIGTERM, timeout=30) == 0
    finally:
        mon.kill()
