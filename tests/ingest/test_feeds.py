"""The feeds file loader: valid files become FeedConfig; every error is reported with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.ingest.feeds import FeedConfig, FeedsInvalid, load_feeds, parse_feeds
from monitor.settings import PROJECT_ROOT


def _errors(text: str, variables: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(FeedsInvalid) as exc:
        parse_feeds(text, "f.yaml", variables or {})
    return exc.value.errors


def test_valid_file_with_defaults() -> None:
    feeds = parse_feeds(
        "feeds:\n"
        "  - url: https://Example.org/rss\n"
        "  - url: http://b.example/atom\n    name: b\n    interval: 90\n    language: AR-eg\n"
        "    tags: [x, y]\n    fulltext: true\n    enabled: false\n",
        "f.yaml",
    )
    assert feeds[0] == FeedConfig(url="https://Example.org/rss", name="example.org")
    b = feeds[1]
    assert (b.name, b.interval, b.language, b.tags, b.fulltext, b.enabled) == ("b", 90, "ar", ("x", "y"),
                                                                                True, False)
    assert b.key != feeds[0].key and len(b.key) == 16


def test_every_error_named_with_its_line() -> None:
    errs = _errors(
        "feeds:\n"
        "  - url: ftp://x.example/feed\n"        # 2: scheme
        "  - url: https://a.example/\n"
        "  - {url: https://e.example/, colour: red}\n"  # 4: unknown key
        "  - name: nourl\n"                       # 5: missing url
        "  - url: https://c.example/\n"
        "    interval: -3\n"                      # 7: bad interval
        "  - url: https://a.example/\n"           # 8: duplicate url
        "    name: other\n"
        "  - url: https://d.example/\n"
        "    tags: notalist\n"                    # 11
    )
    lines = sorted(int(e.split(":")[1]) for e in errs)
    assert lines == [2, 4, 5, 7, 8, 11], errs
    assert all(e.startswith("f.yaml:") for e in errs)
    assert any("colour" in e for e in errs)


def test_top_level_shape() -> None:
    assert _errors("- url: https://a.example/\n")[0].startswith("f.yaml:1:")
    errs = _errors("feeds: []\nextra: 1\n")
    assert errs == ["f.yaml:2: unknown top-level key 'extra' (expected only 'feeds')"]
    assert _errors("feeds: {url: x}\n")[0].startswith("f.yaml:1:")
    assert "invalid YAML" in _errors("feeds:\n  - url: [unclosed\n")[0]


def test_placeholders_expand_and_unknown_ones_are_errors() -> None:
    text = 'feeds:\n  - url: "${API}/feed.xml"\n    name: "${WHO}-feed"\n'
    feeds = parse_feeds(text, "f.yaml", {"API": "http://127.0.0.1:9", "WHO": "me"})
    assert (feeds[0].url, feeds[0].name) == ("http://127.0.0.1:9/feed.xml", "me-feed")
    errs = _errors(text, {"API": "http://127.0.0.1:9"})
    assert errs == ["f.yaml:3: name: unknown placeholder ${WHO}"]


def test_derived_names_are_unique_and_only_written_names_collide() -> None:
    text = ("feeds:\n  - url: https://a.example/1\n  - url: https://a.example/2\n"
            "  - url: https://b.example/rss\n  - url: https://a.example/2?x=1\n"
            "  - url: https://a.example/2/\n  - url: https://c.example/feed\n    name: b.example\n"
            "  - url: https://d.example/x\n    name: a.example/1\n")
    names = [f.name for f in parse_feeds(text, "f.yaml")]
    assert names == ["a.example/1-2", "a.example/2", "b.example/rss", "a.example/2?x=1", "a.example/2-2",
                     "b.example", "a.example/1"]
    assert len(set(names)) == len(names)
    errs = _errors("feeds:\n  - url: https://a.example/1\n    name: x\n  - url: https://a.example/2\n"
                   "    name: x\n")
    assert errs == ["f.yaml:4: duplicate feed name 'x' (first at line 2)"]


def test_many_feeds_of_one_host_without_names() -> None:
    text = "feeds:\n" + "".join(f"  - url: http://127.0.0.1:8000/corpus/{i}.xml\n" for i in range(2106))
    feeds = parse_feeds(text, "f.yaml")
    assert len({f.name for f in feeds}) == 2106
    assert feeds[7].name == "127.0.0.1/corpus/7.xml"
    alone = parse_feeds("feeds:\n  - url: https://only.example/rss\n", "f.yaml")
    assert alone[0].name == "only.example"  # one feed per host keeps the host as before


def test_shipped_files_load(tmp_path: Path) -> None:
    seeds = load_feeds(PROJECT_ROOT / "seeds" / "feeds.yaml", {"MONITOR_API": "http://127.0.0.1:8080"})
    assert seeds[0].url == "http://127.0.0.1:8080/seeds/feed.xml"
    with pytest.raises(FeedsInvalid) as exc:
        load_feeds(PROJECT_ROOT / "seeds" / "feeds.yaml")
    assert "feeds.yaml:6: url: unknown placeholder ${MONITOR_API}" in exc.value.errors[0]
    example = load_feeds(PROJECT_ROOT / "feeds.example.yaml")
    assert len(example) >= 5 and all(f.url.startswith("https://") for f in example)
    assert {f.language for f in example} >= {"ar", "en"} and any(f.kind == "sitemap" for f in example)
    assert any("us-military" in f.tags for f in example)
    with pytest.raises(FeedsInvalid) as exc:
        load_feeds(tmp_path / "missing.yaml")
    assert exc.value.errors[0].startswith(f"{tmp_path / 'missing.yaml'}:1: cannot read")
