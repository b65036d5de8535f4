"""Hot reload: a valid change applies, an invalid one is reported and the old set keeps running."""

from __future__ import annotations

import os
from pathlib import Path

from monitor.models import Article
from monitor.rules import RulesInvalid, RuleWatcher, load_rules


def bump(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))  # mtime moves even within a tick


def test_watcher_cycle(tmp_path: Path) -> None:
    rule = tmp_path / "r.yaml"
    bump(rule, "id: r\nmatch: صاروخ\n")
    errors: list[RulesInvalid] = []
    w = RuleWatcher(tmp_path, on_error=errors.append, initial=True)
    first = w.poll()
    assert first is not None and [r.id for r in first.rules] == ["r"]
    assert w.poll() is None  # nothing changed

    bump(rule, "id: r\nmatch: قذيفة\n")
    second = w.poll()
    assert second is not None
    assert second.match(Article(id="a", content="سقطت قذيفة"))

    current = second
    bump(rule, "id: r\nmatch: [broken\n")
    assert w.poll() is None
    assert len(errors) == 1 and "YAML syntax error" in str(errors[0].errors[0])
    assert current.match(Article(id="a", content="سقطت قذيفة"))  # the previous set still works
    assert w.poll() is None and len(errors) == 1  # reported once

    bump(tmp_path / "r2.yaml", "id: r2\nmatch: هاون\n")
    assert w.poll() is None and len(errors) == 2  # still broken (r.yaml), reported again: content changed
    bump(rule, "id: r\nmatch: قذيفة\n")
    third = w.poll()
    assert third is not None and {r.id for r in third.rules} == {"r", "r2"}


def test_touch_without_change_is_ignored(tmp_path: Path) -> None:
    rule = tmp_path / "r.yaml"
    bump(rule, "id: r\nmatch: x\n")
    w = RuleWatcher(tmp_path, loaded=load_rules(tmp_path))
    assert w.poll() is None
    bump(rule, "id: r\nmatch: x\n")  # same content, new mtime
    assert w.poll() is None


def test_deleted_file_reloads(tmp_path: Path) -> None:
    bump(tmp_path / "a.yaml", "id: a\nmatch: x\n")
    bump(tmp_path / "b.yaml", "id: b\nmatch: y\n")
    w = RuleWatcher(tmp_path, loaded=load_rules(tmp_path))
    (tmp_path / "b.yaml").unlink()
    got = w.poll()
    assert got is not None and [r.id for r in got.rules] == ["a"]


def test_snapshot_at_creation(tmp_path: Path) -> None:
    rule = tmp_path / "r.yaml"
    bump(rule, "id: r\nmatch: x\n")
    w = RuleWatcher(tmp_path)
    assert w.poll() is None  # the caller loaded the folder just before
    bump(rule, "id: r\nmatch: y\n")
    got = w.poll()
    assert got is not None and got.rules[0].id == "r"


def test_hidden_and_foreign_files_do_not_reload(tmp_path: Path) -> None:
    """The listing skips hidden files and folders (an editor's swap file, a .git folder) and files that are
    neither rules nor models, as the loader does; a nested rule file counts."""
    bump(tmp_path / "r.yaml", "id: r\nmatch: صاروخ\n")
    w = RuleWatcher(tmp_path, loaded=load_rules(tmp_path))
    (tmp_path / ".git").mkdir()
    bump(tmp_path / ".git" / "x.yaml", "id: x\nmatch: هاون\n")
    bump(tmp_path / ".r.yaml.swp", "junk")
    bump(tmp_path / "notes.txt", "junk")
    assert w.poll() is None
    (tmp_path / "sub").mkdir()
    bump(tmp_path / "sub" / "s.yaml", "id: s\nmatch: هاون\n")
    got = w.poll()
    assert got is not None and sorted(r.id for r in got.rules) == ["r", "s"]
