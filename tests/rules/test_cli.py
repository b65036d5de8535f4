"""The command line: rules check, rules test, match (JSON Lines and --explain)."""

from __future__ import annotations

import json
from pathlib import Path

import orjson
from click.testing import CliRunner

from monitor.cli import main
from monitor.rules import matcher_core

FIXTURES = Path(__file__).parent / "fixtures"
BASIC = str(FIXTURES / "basic")


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, list(args), input=input)
    return r.exit_code, r.stdout, r.stderr


def test_check_ok() -> None:
    code, out, _ = run("rules", "check", BASIC)
    assert code == 0
    assert out.strip() == f"9 rules (1 disabled), 3 lists OK (matcher: {matcher_core()})"


def test_check_says_when_the_pure_python_fallback_runs(monkeypatch) -> None:
    import monitor.cli.rules as cli

    monkeypatch.setattr(cli, "matcher_core", lambda: "python")
    code, out, err = run("rules", "check", BASIC)
    assert code == 0
    assert out.strip().endswith("(matcher: python)")
    assert "install gcc" in err or "MONITOR_PURE_PYTHON" in err


def test_check_reports_every_error(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("id: a\nmatch: '@nope'\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("id: b\nmatch: [x\n", encoding="utf-8")
    code, out, err = run("rules", "check", str(tmp_path))
    assert code == 1
    assert f"{tmp_path}/a.yaml:2: unknown list `@nope`" in err
    assert f"{tmp_path}/b.yaml:3: YAML syntax error" in err
    assert "Traceback" not in err + out


def test_rules_test_passes_and_fails(tmp_path: Path) -> None:
    code, out, _ = run("rules", "test", BASIC)
    assert code == 0 and "0 failed" in out
    (tmp_path / "r.yaml").write_text(
        "id: r\nmatch: صاروخ\nexamples:\n  positive: [قذيفة]\n  negative: [صاروخ]\n", encoding="utf-8")
    code, out, _ = run("rules", "test", str(tmp_path))
    assert code == 1
    assert "FAIL r positive #1: did not match" in out and "FAIL r negative #1: matched" in out
    assert "2 examples in 1 rules, 2 failed" in out


def test_match_jsonl_in_order_with_bad_lines() -> None:
    lines = [
        json.dumps({"id": "1", "title": "ثلاثة صواريخ تستهدف قاعدة عين الأسد", "extra": 1}, ensure_ascii=False),
        "{not json",
        json.dumps({"title": "no id"}),
        json.dumps({"id": 2, "content": "nothing here", "published": "2024-01-01T00:00:00Z"}),
        "",
        json.dumps({"id": "3", "published": "yesterday"}),
    ]
    code, out, err = run("match", "--rules", BASIC, "-", input="\n".join(lines) + "\n")
    assert code == 1
    rows = [orjson.loads(x) for x in out.splitlines()]
    assert [r["id"] for r in rows] == ["1", "2"]
    first = {m["rule"]: m for m in rows[0]["matches"]}
    assert first["attack-on-base"]["severity"] == "high"
    assert first["attack-on-base"]["tags"] == ["attack-on-base"]
    assert first["attack-on-base"]["evidence"][0]["field"] == "title"
    assert rows[1]["matches"] == [] or all(m["rule"] != "attack-on-base" for m in rows[1]["matches"])
    assert "line 2:" in err and "line 3: missing `id`" in err and "line 6: published" in err


def test_match_explain(tmp_path: Path) -> None:
    f = tmp_path / "in.jsonl"
    f.write_text(json.dumps({"id": "a", "content": "Two rockets struck Ain al-Asad air base."}) + "\n")
    code, out, _ = run("match", "--rules", BASIC, "--explain", str(f))
    assert code == 0
    assert "MATCH attack-on-base [high]" in out
    assert "[[Ain al-Asad]]" in out and "bases:ain-al-asad" in out


def test_help_texts() -> None:
    for args in (["rules", "--help"], ["rules", "check", "--help"], ["rules", "test", "--help"], ["match", "--help"]):
        code, out, _ = run(*args)
        assert code == 0 and "Example" in out


def test_check_notes_rules_without_terms() -> None:
    code, _, err = run("rules", "check", BASIC)
    assert code == 0
    assert "run on every article" in err and "source-reuters" in err and "attack-on-base" not in err
