"""The console in a real headless Chromium (Selenium) on a real ``monitor run`` (embedded broker and Redis,
the seed feed, plus a local feed the test publishes into): the seed round alerts with their Arabic titles,
a new alert arriving without a reload (its feed title carries markup, which must show as text), the
evidence marked on the alert page, a silence made from an alert and a false-positive verdict that comes
back in the labelled export. Screenshots of the main pages go to ``artefacts/console/`` (gitignored).

Needs Debian's ``chromium`` and ``chromium-driver`` (``.ci/run`` installs them); skipped without them.
"""

from __future__ import annotations

import json
import shutil
import signal
import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import orjson
import pytest

from monitor.embedded import free_port
from tests.helpers import ROOT, MonitorProcess

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
if not (CHROMIUM and CHROMEDRIVER):
    pytest.skip("browser tests need chromium and chromedriver: apt-get install chromium chromium-driver",
                allow_module_level=True)
selenium = pytest.importorskip("selenium", reason="browser tests need selenium (the dev extra)")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SHOTS = ROOT / "artefacts" / "console"
ROUND_SEEDS = {"seed:001_dc5b0399aa33f440", "seed:003_987e725a71a5c5d0"}
HOSTILE = "<script>window.__xss=1</script><img src=x onerror=window.__xss=2>"
NEW_TITLE = HOSTILE + " انطلقت في إسطنبول أول مفاوضات مباشرة بين روسيا وأوكرانيا منذ ثلاث سنوات"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1280,1100", "--lang=en-US")


class Feed:
    """A local RSS feed the test adds items to (the poller fetches it like any feed)."""

    def __init__(self) -> None:
        self.items: list[str] = []
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = feed.xml()
                self.send_response(200)
                self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/feed.xml"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def xml(self) -> bytes:
        from xml.sax.saxutils import escape

        items = "".join(
            f"<item><title>{escape(t)}</title><link>https://wire.example/{i}</link><guid>wire-{i}</guid>"
            f"<description>{escape(t)}</description><pubDate>Fri, 04 Dec 2026 04:00:00 GMT</pubDate></item>"
            for i, t in enumerate(self.items)
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>wire</title>'
                f"<link>https://wire.example/</link>{items}</channel></rss>").encode()


def http_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return json.loads(resp.read())


@pytest.fixture(scope="module")
def feed() -> Iterator[Feed]:
    f = Feed()
    yield f
    f.server.shutdown()


@pytest.fixture(scope="module")
def run(feed: Feed, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[MonitorProcess, str]]:
    tmp = tmp_path_factory.mktemp("console-run")
    feeds = tmp / "feeds.yaml"
    feeds.write_text(
        "feeds:\n"
        f"  - {{name: seeds, url: '${{MONITOR_API}}/seeds/feed.xml', language: ar, interval: 60}}\n"
        f"  - {{name: wire, url: '{feed.url}', language: ar, interval: 1}}\n", encoding="utf-8")
    port = free_port()
    mon = MonitorProcess(["run"], {"MONITOR_DATA_DIR": str(tmp / "data"), "MONITOR_HTTP_PORT": str(port),
                                   "MONITOR_FEEDS": str(feeds)})
    try:
        mon.wait_for(lambda: mon.line_matching(r"api\s+http://"), 90, "start-up summary")
        url = f"http://127.0.0.1:{port}"

        def round_ids() -> set[str]:
            alerts = http_json(f"{url}/api/v1/alerts?limit=100")["alerts"]
            return {a["article"]["id"] for a in alerts if "negotiation-round" in a["tags"]}

        mon.wait_for(lambda: round_ids() >= ROUND_SEEDS, 120, "the seed round alerts in the API")
        yield mon, url
    finally:
        mon.kill()


@pytest.fixture(scope="module")
def base(run: tuple[MonitorProcess, str]) -> str:
    return run[1]


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    opts = webdriver.ChromeOptions()
    for f in FLAGS:
        opts.add_argument(f)
    opts.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    opts.binary_location = CHROMIUM  # type: ignore[assignment]
    d = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    d.set_page_load_timeout(60)
    SHOTS.mkdir(parents=True, exist_ok=True)
    yield d
    d.quit()


def shot(driver: Any, name: str, max_height: int = 2400) -> Path:
    """The page (up to ``max_height`` px of it) as a PNG in ``artefacts/console/``."""
    import base64

    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], max_height), "scale": 1}
    data = driver.execute_cdp_cmd("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                                             "clip": clip})["data"]
    path = SHOTS / f"{name}.png"
    path.write_bytes(base64.b64decode(data))
    return path


def wait(driver: Any, what: str, cond: Any, timeout: float = 60) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(cond, message=f"waiting for {what}")


def round_alerts(base: str) -> list[dict[str, Any]]:
    alerts = http_json(f"{base}/api/v1/alerts?limit=100")["alerts"]
    return [a for a in alerts if a["article"]["id"] in ROUND_SEEDS]


def test_inbox_shows_the_seed_round_alerts_with_their_arabic_titles(base: str, driver: Any):
    driver.get(base + "/")
    titles = {e.text: e for e in driver.find_elements(By.CSS_SELECTOR, "li.alert a.title bdi")}
    for a in round_alerts(base):
        shown = a["article"]["title"].strip()
        assert shown in titles, (shown, list(titles))
        el = titles[shown]
        assert el.get_attribute("lang") == "ar"
        assert el.value_of_css_property("direction") == "rtl"
    assert driver.find_elements(By.CSS_SELECTOR, "section.event h2 a bdi")
    shot(driver, "inbox")


def test_a_new_alert_appears_without_a_reload_and_its_markup_stays_text(base: str, driver: Any, feed: Feed):
    driver.get(base + "/")
    wait(driver, "the live stream", lambda d: "Live" in d.find_element(By.ID, "live-status").text)
    driver.execute_script("window.__samePage = 'yes'")
    feed.items.append(NEW_TITLE)
    row = wait(driver, "the new alert row", lambda d: d.find_elements(By.CSS_SELECTOR, "li.alert.new"), 120)[0]
    assert driver.execute_script("return window.__samePage") == "yes", "the page was reloaded"
    assert HOSTILE in row.find_element(By.CSS_SELECTOR, "a.title").text
    assert driver.execute_script("return window.__xss") is None
    assert "new alert" in driver.find_element(By.ID, "live-status").text
    shot(driver, "inbox-live")
    driver.refresh()
    heads = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "li.alert a.title")]
    assert any(HOSTILE in t for t in heads)
    assert driver.execute_script("return window.__xss") is None
    inline = driver.execute_script("return [...document.scripts].filter(s => !s.src).length")
    assert inline == 0


def test_alert_page_highlights_the_evidence(base: str, driver: Any):
    a = next(x for x in round_alerts(base) if x["article"]["id"] == "seed:003_987e725a71a5c5d0")
    driver.get(f"{base}/alerts/{a['id']}")
    marks = driver.find_elements(By.CSS_SELECTOR, "article.article mark")
    assert marks, "no evidence marked in the article"
    matched = {e["matched"] for e in a["evidence"]}
    assert {m.text for m in marks} <= matched
    assert {m.text for m in marks} & matched
    article = driver.find_element(By.CSS_SELECTOR, "article.article")
    assert article.value_of_css_property("direction") == "rtl"
    assert driver.find_element(By.ID, "why-h").is_displayed()
    shot(driver, "alert", max_height=1500)


def test_silence_from_an_alert_round_trips(base: str, driver: Any):
    a = round_alerts(base)[0]
    driver.get(f"{base}/alerts/{a['id']}")
    driver.find_element(By.PARTIAL_LINK_TEXT, "Silence from this alert").click()
    form = wait(driver, "the silence form", lambda d: d.find_element(By.ID, "silence-form"))
    assert form.find_element(By.NAME, "rules").get_attribute("value") == a["rule"]
    assert form.find_element(By.NAME, "sources").get_attribute("value") == "seeds"
    form.find_element(By.NAME, "tags").clear()
    form.find_element(By.NAME, "comment").send_keys("known story: talks already reported")
    form.find_element(By.NAME, "created_by").send_keys("Rana")
    shot(driver, "silence-form")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, "the silences list", lambda d: "/silences" in d.current_url and "known story" in d.page_source)
    shot(driver, "silences")
    sils = http_json(f"{base}/api/v1/silences")["silences"]
    mine = [s for s in sils if s["comment"] == "known story: talks already reported"]
    assert len(mine) == 1 and mine[0]["rules"] == [a["rule"]] and mine[0]["sources"] == ["seeds"]
    assert mine[0]["tags"] == [] and mine[0]["created_by"] == "Rana"


def test_false_positive_feedback_round_trips_into_the_export(base: str, driver: Any, tmp_path: Path):
    a = round_alerts(base)[-1]
    driver.get(f"{base}/alerts/{a['id']}")
    form = driver.find_element(By.ID, "verdict-form")
    form.find_element(By.CSS_SELECTOR, "input[value=false_positive]").click()
    form.find_element(By.NAME, "note").send_keys("a meeting, not a round")
    form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver, "the verdict", lambda d: "false positive" in d.find_element(By.ID, "verdict-now").text)
    driver.get(base + "/feedback")
    assert "a meeting, not a round" in driver.page_source
    shot(driver, "feedback")
    with urllib.request.urlopen(f"{base}/feedback.jsonl", timeout=10) as resp:
        lines = [orjson.loads(x) for x in resp.read().splitlines()]
    mine = [x for x in lines if x["id"] == a["article"]["id"]]
    assert len(mine) == 1 and mine[0]["labels"] == []
    assert mine[0]["judgements"][0]["verdict"] == "false_positive"
    from monitor.rules import load_rules
    from monitor.rules.evaluate import read_labelled, rule_tags

    path = tmp_path / "fb.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(x) for x in lines))
    items, errors = read_labelled(path, rule_tags(load_rules(ROOT / "rules")))
    assert errors == [] and {i.article.id for i in items} == {x["id"] for x in lines}


def test_rule_editor_shows_errors_as_you_type(base: str, driver: Any):
    driver.get(base + "/rules")
    assert driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
    shot(driver, "rules")
    driver.get(base + "/rules/try?rule=negotiation-round.talks-held")
    area = driver.find_element(By.ID, "yaml")
    area.click()
    area.send_keys(Keys.CONTROL, Keys.END)
    area.send_keys("\nbogus_key: 1\n")
    err = wait(driver, "an error with its line", lambda d: [e for e in d.find_elements(By.CSS_SELECTOR, "#errors li")
                                                            if "bogus_key" in e.text])[0]
    assert err.text.startswith("line ")
    shot(driver, "rule-editor")


def test_search_marks_the_words_found(base: str, driver: Any):
    driver.get(base + "/search?q=" + urllib.request.quote("محادثات"))
    if driver.find_elements(By.CSS_SELECTOR, "p.error"):
        pytest.skip("no archive in this run: " + driver.find_element(By.CSS_SELECTOR, "p.error").text)
    marks = wait(driver, "marked hits", lambda d: d.find_elements(By.CSS_SELECTOR, ".snippet mark"))
    assert marks
    shot(driver, "search")


def test_sigterm_with_the_live_inbox_open_stops_cleanly(run: tuple[MonitorProcess, str], driver: Any):
    mon, url = run
    driver.get(url + "/")
    wait(driver, "the live stream", lambda d: "Live" in d.find_element(By.ID, "live-status").text)
    code = mon.stop(signal.SIGTERM, timeout=30)
    assert code == 0, "\n".join(mon.err[-30:])
