"""The loader: every error with file:line, all collected; random YAML never crashes it."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.rules import RuleError, RulesInvalid, load_rules

LISTS = {"lists/bases.yaml": "list: bases\nterms: [حرير, Harir]\n"}


def errors_of(folder: Path) -> list[RuleError]:
    with pytest.raises(RulesInvalid) as exc:
        load_rules(folder)
    return exc.value.errors


def one(folder: Path, write: object, text: str, name: str = "r.yaml") -> RuleError:
    write(folder, {**LISTS, name: text})  # type: ignore[operator]
    (err,) = errors_of(folder)
    return err


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("id: a\nmatch: [x\n", 3, "YAML syntax error"),
        ("id: a\nmatch: x\nmatc: y\n", 3, "unknown key `matc`"),
        ("id: a\nseverity: urgent\nmatch: x\n", 2, "severity"),
        ("id: a\nmatch:\n  all:\n    - \"@base\"\n", 4, "unknown list `@base`"),
        ("id: a\nmatch:\n  regex: \"(unclosed\"\n", 3, "bad regular expression"),
        ("id: a\nmatch:\n  regex: '\\\\bword\\\\b'\n", 3, "doubled backslash"),  # '\\b' in single quotes
        ("id: a\nmatch:\n  regex: \"x\\\\\\\\wy\"\n", 3, "in single-quoted YAML write one backslash"),
        ("id: a\nmatch:\n  near: [x, y]\n  within: many\n", 4, "`within` must be"),
        ("id: a\nmatch:\n  all:\n    - anyy: [x]\n", 4, "unknown key `anyy`"),
        ("id: a\nmatch:\n  field: body\n  any: [x]\n", 3, "unknown field"),
        ("id: a\nmatch: \"ba* x\"\n", 2, "wildcard"),
        ("id: a\nmatch: \"***\"\n", 2, "wildcard `*` only at the end"),
        ("id: a\nmatch: \"--\"\n", 2, "no letters or digits"),
        ("id: a\nmatch:\n  quantity: {of: x, min: lots}\n", 3, "quantity `min`"),
        ("id: a\nmatch:\n  source: {feeds: [x]}\n", 3, "unknown key `feeds`"),
        ("id: a\ntitle: t\n", 1, "needs `match`, `score`"),
        ("title: t\n", 1, "not a rule"),
        ("id: a\nmatch: x\nscore:\n  threshold: 2\n  terms:\n    - {term: x, weight: heavy}\n", 6, "weight"),
        ("id: a\nmatch: x\nevent: {keys: [nowhere]}\n", 3, "event key `nowhere`"),
        ("id: a\nid: b\nmatch: x\n", 2, "duplicate key"),
        ("- just\n- a list\n", 1, "expected a mapping"),
    ],
)
def test_each_error_has_file_and_line(tmp_path: Path, write: object, text: str, line: int, fragment: str) -> None:
    err = one(tmp_path, write, text)
    assert err.file.endswith("r.yaml")
    assert err.line == line
    assert fragment in err.message
    assert str(err).startswith(f"{err.file}:{line}: ")


def test_all_errors_reported_together(tmp_path: Path, write: object) -> None:
    write(tmp_path, {  # type: ignore[operator]
        **LISTS,
        "a.yaml": "id: dup\nmatch: \"@nolist\"\n",
        "b/b.yaml": "id: dup\nmatch: x\n",
        "c.yaml": "id: c\nmatch: [unclosed\n",
        "lists/bad.yaml": "list: bad\nentities:\n  e1:\n    terms: []\n",
    })
    errs = errors_of(tmp_path)
    messages = "\n".join(str(e) for e in errs)
    assert "unknown list `@nolist`" in messages
    assert "duplicate rule id `dup`" in messages
    assert "YAML syntax error" in messages
    assert "lists/bad.yaml:4:" in messages
    assert len(errs) == 4


def test_duplicate_list_names(tmp_path: Path, write: object) -> None:
    write(tmp_path, {**LISTS, "lists/b2.yaml": "list: bases\nterms: [x]\n"})  # type: ignore[operator]
    (err,) = errors_of(tmp_path)
    assert "duplicate list `bases`" in err.message and err.line == 1


def test_examples_file_errors(tmp_path: Path, write: object) -> None:
    write(tmp_path, {  # type: ignore[operator]
        "r.yaml": "id: r\nmatch: x\n",
        "r.examples.yaml": "positive: [x]\nnegativ: [y]\n",
        "orphan.examples.yaml": "positive: [x]\n",
    })
    msgs = sorted(str(e) for e in errors_of(tmp_path))
    assert any("orphan.examples.yaml:1: examples file without a rule file" in m for m in msgs)
    assert any("r.examples.yaml:2: unknown key `negativ`" in m for m in msgs)


def test_version_default_is_a_content_hash(tmp_path: Path, write: object) -> None:
    write(tmp_path, {"r.yaml": "id: r\nmatch: x\nexamples: {positive: [x]}\n"})  # type: ignore[operator]
    v1 = load_rules(tmp_path).rules[0].version
    write(tmp_path, {"r.yaml": "id: r\nmatch: x\nexamples: {positive: [x, x y]}\n"})  # type: ignore[operator]
    assert load_rules(tmp_path).rules[0].version == v1  # examples do not change behaviour
    write(tmp_path, {"r.yaml": "id: r\nmatch: y\n"})  # type: ignore[operator]
    assert load_rules(tmp_path).rules[0].version != v1
    write(tmp_path, {"r.yaml": "id: r\nversion: 7\nmatch: y\n"})  # type: ignore[operator]
    assert load_rules(tmp_path).rules[0].version == "7"


def test_parsed_but_unused_fields(tmp_path: Path, write: object) -> None:
    write(tmp_path, {**LISTS, "r.yaml": (  # type: ignore[operator]
        "id: r\nmatch: x\nevent: {keys: [bases], window: 6h}\nmin_sources: 2\n"
        "severity_boost: {sources: 3, severity: critical}\n")})
    rule = load_rules(tmp_path).rules[0]
    assert rule.event is not None and rule.event.keys == ("bases",) and rule.event.window == 21600
    assert rule.min_sources == 2
    assert rule.severity_boost is not None and rule.severity_boost.severity == "critical"


def test_missing_folder() -> None:
    with pytest.raises(RulesInvalid) as exc:
        load_rules(Path("/nonexistent/rules"))
    assert "no such file" in str(exc.value.errors[0])


yaml_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=12))
yaml_values = st.recursive(
    yaml_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(
        st.sampled_from(["id", "match", "any", "all", "none", "near", "within", "regex", "field", "score",
                         "terms", "term", "weight", "threshold", "list", "entities", "rules", "quantity",
                         "of", "min", "source", "language", "sentence", "examples", "positive", "x"]),
        inner, max_size=5),
    max_leaves=20,
)


@given(data=yaml_values)
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_structures_never_crash(tmp_path: Path, data: object) -> None:
    import yaml

    (tmp_path / "r.yaml").write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    try:
        load_rules(tmp_path)
    except RulesInvalid as exc:
        assert exc.errors and all(isinstance(e, RuleError) for e in exc.errors)


@given(text=st.text(alphabet=st.sampled_from(list("id:match[]{}-\"'@*, \n\tabc\\|>&!%#")), max_size=120))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_text_never_crashes(tmp_path: Path, text: str) -> None:
    (tmp_path / "r.yaml").write_text(text, encoding="utf-8")
    try:
        load_rules(tmp_path)
    except RulesInvalid as exc:
        assert exc.errors and all(str(e).startswith(str(tmp_path)) for e in exc.errors)


def test_json_rule_files_take_the_fast_path(tmp_path: Path, write: object) -> None:
    write(tmp_path, {"gen.yaml": '{"rules": [{"id": "g1", "match": {"any": ["صاروخ", "rocket"]}}]}'})  # type: ignore[operator]
    assert [r.id for r in load_rules(tmp_path).rules] == ["g1"]
    write(tmp_path, {"gen.yaml": '{"rules": [{"id": "g1", "match": "@nolist"}]}'})  # type: ignore[operator]
    (err,) = errors_of(tmp_path)
    assert err.line is None and "unknown list `@nolist`" in err.message
    assert str(err) == f"{err.file}: {err.message}"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("id: x\nmatch: !!python/object:os.system [ls]\n", "is not allowed"),
        ("id: x\nscore: {threshold: .nan, terms: [{term: a, weight: 1}]}\n", "threshold"),
        ("id: x\nlists: {l: {terms: []}}\nmatch: '@l'\n", "at least 1 item"),
        ("id: x\nmatch:\n  quantity: {of: a, min: .inf}\n", "quantity `min`"),
        ("a: &a [*a]\n", "refers to a node that contains it"),
    ],
)
def test_hostile_yaml_is_reported(tmp_path: Path, write: object, text: str, fragment: str) -> None:
    write(tmp_path, {"r.yaml": text})  # type: ignore[operator]
    assert any(fragment in str(e) for e in errors_of(tmp_path))
