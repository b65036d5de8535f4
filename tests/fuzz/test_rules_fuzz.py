"""Rule YAML through ``load_rules``: a ``RuleSet`` or ``RulesInvalid`` listing file:line errors, never a crash.

Generated rule documents (valid shapes with wrong types, unknown keys, odd terms and regexes, deep
nesting) and raw YAML text (syntax errors, anchors, tags, tabs) are written into a fresh folder beside a
valid rule and loaded. Whatever is wrong must come back as ``RuleError``s naming the file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.rules import RuleSet, RulesInvalid, load_rules
from tests.fuzz.strategies import RAW_YAML, rule_document

VALID = "id: fuzz-valid\ntitle: ok\nmatch:\n  any: [zephyrquake]\n"
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def load(text: str) -> RuleSet | RulesInvalid:
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d)
        (folder / "valid.yaml").write_text(VALID, encoding="utf-8")
        (folder / "fuzz.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
        try:
            return load_rules(folder)
        except RulesInvalid as exc:
            assert exc.errors, "RulesInvalid carries at least one error"
            for err in exc.errors:
                assert str(err).startswith(str(folder)), f"error without its file: {err}"
                assert err.message
            return exc


@FUZZ
@given(rule_document())
def test_generated_rule_documents_load_or_report(doc: dict[str, object]) -> None:
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except (yaml.YAMLError, UnicodeEncodeError):
        return
    load(text)


@FUZZ
@given(st.one_of(RAW_YAML, st.builds(lambda a, b: a + "\n" + b, RAW_YAML, RAW_YAML)))
def test_raw_yaml_text_loads_or_reports(text: str) -> None:
    load(text)


def test_a_broken_file_does_not_hide_the_valid_one_and_is_reported_with_its_line() -> None:
    res = load("id: broken\nmatch:\n  any: [a\n")
    assert isinstance(res, RulesInvalid)
    assert any("fuzz.yaml:" in str(e) for e in res.errors)
