"""Rule files read YAML 1.2's booleans: only `true`/`false`; `yes`, `no`, `on`, `off` stay words (a term, a
mode), while a boolean field still takes them."""

from __future__ import annotations

from pathlib import Path

from monitor.rules import load_rules
from monitor.rules.yamlload import load_yaml


def test_only_true_and_false_are_booleans() -> None:
    data = load_yaml("a: off\nb: [yes, no, On, OFF]\nc: true\nd: False\ne: 'off'\n")
    assert data == {"a": "off", "b": ["yes", "no", "On", "OFF"], "c": True, "d": False, "e": "off"}


def test_a_boolean_field_still_reads_yes_and_no(tmp_path: Path) -> None:
    (tmp_path / "r.yaml").write_text(
        "id: r\ntags: [t]\nenabled: no\nmatch:\n  any: [no, on]\nexamples:\n  positive: []\n", encoding="utf-8")
    (rule,) = load_rules(tmp_path).rules
    assert rule.enabled is False
    assert rule.expr is not None
