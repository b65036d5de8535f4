"""``bench/rule_cost.py``: the costliest rules and nodes of a rules folder, on articles from a JSON Lines file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_rule_cost_names_the_rules_and_nodes_that_ran(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    rows = [{"id": "near-base", "title": "t", "match": {"all": ["rocket", {"near": ["rocket", "base"], "within": 3}]}},
            {"id": "quiet", "title": "t", "match": {"sentence": ["ceasefire", "agreed"]}}]
    (rules / "r.yaml").write_text(json.dumps({"rules": rows}), encoding="utf-8")
    arts = tmp_path / "a.jsonl"
    arts.write_text("\n".join(json.dumps({"title": f"news {i}", "text": "A rocket hit the base. Calm elsewhere."})
                              for i in range(3)), encoding="utf-8")
    out = subprocess.run([sys.executable, str(ROOT / "bench" / "rule_cost.py"), "--rules", str(rules),
                          "--articles", str(arts), "--rounds", "1", "--json"],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    by_rule = {r["rule"]: r for r in got["rules_pass"]["rules"]}
    assert by_rule["near-base"]["evaluated"] == 3 and by_rule["near-base"]["matched"] == 3
    assert "quiet" not in by_rule  # its terms never occurred: the presearcher skipped it
    kinds = {n["kind"] for n in got["nodes_pass"]["nodes"]}
    assert "NearNode" in kinds
    assert all(n["rules"] == ["near-base"] for n in got["nodes_pass"]["nodes"])
