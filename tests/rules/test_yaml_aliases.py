"""YAML alias bombs are refused at once, with file:line, instead of expanding to gigabytes."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from monitor.cli import main
from monitor.rules.yamlload import ALIAS_BUDGET, load_yaml

# nine levels, nine references each: 9**9 (387 million) leaves from ~600 bytes
BOMB = "\n".join(
    ["id: bomb", 'a0: &a0 ["x"]']
    + [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    + ["title: boom"]
) + "\n"


def test_the_bomb_is_refused_quickly_with_a_line(tmp_path: Path) -> None:
    assert len(BOMB) < 700
    (tmp_path / "bomb.yaml").write_text(BOMB)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.process_time()
    r = CliRunner().invoke(main, ["rules", "check", str(tmp_path)])
    assert r.exit_code == 1
    assert "bomb.yaml:" in r.stderr and "alias" in r.stderr, r.stderr
    line = int(r.stderr.split("bomb.yaml:")[1].split(":")[0])
    assert 2 <= line <= 11
    # a liveness bound, far above the milliseconds this takes (expanding it takes minutes and gigabytes)
    assert time.process_time() - t0 < 30
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 500_000  # KiB


def test_ordinary_aliases_still_work() -> None:
    data = load_yaml("base: &b {x: 1, y: [1, 2]}\nother: *b\nmerged: {<<: *b, z: 3}\n")
    assert data["other"] == {"x": 1, "y": [1, 2]} and data["merged"]["z"] == 3


def test_the_budget_is_on_expansion_not_file_size() -> None:
    small = "a: &a [" + ", ".join(["1"] * 100) + "]\nb: [" + ", ".join(["*a"] * (ALIAS_BUDGET // 101 + 2)) + "]\n"
    with pytest.raises(yaml.YAMLError, match="alias"):
        load_yaml(small)
    fine = "a: &a [" + ", ".join(["1"] * 100) + "]\nb: [" + ", ".join(["*a"] * (ALIAS_BUDGET // 101 - 2)) + "]\n"
    assert len(load_yaml(fine)["b"]) == ALIAS_BUDGET // 101 - 2


def test_a_feeds_file_bomb_is_refused_with_a_line() -> None:
    from monitor.ingest.feeds import FeedsInvalid, parse_feeds

    bomb = "feeds:\n  - {url: 'https://a.example/0', name: f0, tags: &x0 [a]}\n" + "".join(
        f"  - {{url: 'https://a.example/{i}', name: f{i}, tags: &x{i} [" + ", ".join([f"*x{i - 1}"] * 9) + "]}\n"
        for i in range(1, 10)
    )
    t0 = time.process_time()
    with pytest.raises(FeedsInvalid) as err:
        parse_feeds(bomb, "feeds.yaml")
    assert time.process_time() - t0 < 30
    assert any(e.startswith("feeds.yaml:") and "alias" in e for e in err.value.errors), err.value.errors
