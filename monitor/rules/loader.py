"""``load_rules(folder) -> RuleSet``: read, validate and compile a rules folder, or raise ``RulesInvalid``.

Every ``*.yaml`` / ``*.yml`` file under the folder (nested folders allowed, hidden ones skipped) is one of:

- a list file: a mapping with ``list:`` (conventionally under ``lists/``);
- a rule file: a mapping with ``id:`` (one rule) or ``rules: [...]`` (several);
- an examples file ``<rule-file-stem>.examples.yaml`` beside a rule file: ``positive``/``negative``
  for its rule, or ``{rule-id: {positive, negative}}`` when the rule file holds several rules;
- the learned check's file (at most one): a mapping with ``learned: {model: FILE, mode: off|veto|both}``
  and optionally ``tags: {TAG: MODE}`` (single tags' own modes) and ``rescue_needs: {TAG: EXPR}`` (what
  must hold, in the ``match`` syntax with shared lists, before the check adds TAG), the model read from FILE
  beside it (``monitor.rules.learned``); ``load_rules(folder, learned=MODE)`` overrides every mode
  (``MONITOR_LEARNED``).

All files are read and checked before anything is compiled; every error (YAML syntax, unknown or
missing keys, wrong types, bad terms or regexes, duplicate rule ids or list names, unknown list
references, orphan examples) is collected with its file and line, and raised together. A rule's
``version`` defaults to a short hash of its content (examples excluded). A file whose content is a JSON
object (machine-generated rule sets) is parsed as JSON, much faster; its errors have no line numbers.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import yaml
from pydantic import ValidationError

from monitor.rules.compile import CompiledList, Compiler, compile_list, intern, prepare
from monitor.rules.engine import Entity, Rule, RuleSet, TermList
from monitor.rules.errors import RuleError, RulesInvalid
from monitor.rules.expr import Node, TermNode
from monitor.rules.learned import LearnedModel, Mode, ModelInvalid, UnknownTag
from monitor.rules.schema import ExamplesSpec, LearnedFile, ListFile, RuleFile, RuleSpec
from monitor.rules.terms import TermTable
from monitor.rules.yamlload import LDict, error_line, line_of, load_yaml

EXAMPLES_SUFFIXES = (".examples.yaml", ".examples.yml")


def rule_files(folder: Path) -> list[Path]:
    """The YAML files of a rules folder, sorted, hidden files and folders skipped."""
    out = []
    for p in folder.rglob("*"):
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):
            continue
        if p.suffix in (".yaml", ".yml") and p.is_file():
            out.append(p)
    return sorted(out)


def _pydantic_errors(exc: ValidationError, data: Any, file: str, base: tuple[Any, ...] = ()) -> list[RuleError]:
    out = []
    for e in exc.errors():
        loc = tuple(x for x in e["loc"] if not (isinstance(x, str) and x in ("str", "ExampleArticle")))
        line = line_of(data, loc, getattr(data, "line", None))
        where = ".".join(str(x) for x in (*base, *loc))
        if e["type"] == "extra_forbidden":
            msg = f"unknown key `{loc[-1]}`" + (f" in {'.'.join(str(x) for x in (*base, *loc[:-1]))}"
                                                  if len(base) + len(loc) > 1 else "")
        elif e["type"] == "missing":
            msg = f"missing required key `{where}`"
        else:
            msg = f"{where}: {e['msg']}" if where else e["msg"]
        out.append(RuleError(file, line, msg))
    return out


_NOT_JSON: Any = object()


def _json(raw: bytes) -> Any:
    """Machine-generated rule sets are often JSON (a subset of YAML): parse those ~30x faster. Errors in
    such files carry no line numbers (``file: message``)."""
    if raw.lstrip()[:1] != b"{":
        return _NOT_JSON
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _NOT_JSON  # YAML flow style, or broken: the YAML parser reports it with a line


def _version(data: dict[str, Any]) -> str:
    body = {k: v for k, v in data.items() if k != "examples"}
    blob = orjson.dumps(body, option=orjson.OPT_SORT_KEYS, default=str)
    return hashlib.sha256(blob).hexdigest()[:10]


class _Loader:
    def __init__(self, folder: Path, learned: Mode | None = None) -> None:
        self.folder = folder
        self.learned_mode = learned  # overrides the mode the learned file names
        self.errors: list[RuleError] = []
        self.table = TermTable()
        self.lists: dict[str, CompiledList] = {}
        self.list_files: dict[str, tuple[str, int | None]] = {}
        self.specs: list[tuple[RuleSpec, Any, str, Path]] = []  # (spec, raw data, file, path)
        self.examples: dict[Path, tuple[Any, str]] = {}
        self.digest = hashlib.sha256()
        self.learned: LearnedModel | None = None
        self.learned_file: tuple[str, int | None] | None = None
        self.needs_data: tuple[Any, str] | None = None  # the learned file's data, for its ``rescue_needs``

    def err(self, file: str, line: int | None, message: str) -> None:
        self.errors.append(RuleError(file, line, message))

    def read(self, path: Path) -> None:
        file = str(path)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.err(file, None, f"cannot read: {exc.strerror or exc}")
            return
        self.digest.update(str(path.relative_to(self.folder)).encode() + b"\0" + raw + b"\0")
        try:
            data = _json(raw)
            if data is _NOT_JSON:
                data = load_yaml(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            self.err(file, None, f"not UTF-8 text: {exc.reason} at byte {exc.start}")
            return
        except yaml.YAMLError as exc:
            problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
            self.err(file, error_line(exc), f"YAML syntax error: {problem}")
            return
        except RecursionError:
            self.err(file, None, "YAML nesting too deep")
            return
        if data is None:
            return  # an empty file (or only comments) is allowed
        if path.name.endswith(EXAMPLES_SUFFIXES):
            self.examples[path] = (data, file)
            return
        if not isinstance(data, dict):
            self.err(file, getattr(data, "line", 1), "expected a mapping with `id` (a rule), `rules` "
                     "(several rules) or `list` (a named list)")
            return
        if "list" in data:
            self.read_list(data, file)
        elif "learned" in data:
            self.read_learned(data, file, path)
        elif "rules" in data:
            try:
                several = RuleFile.model_validate(data)
            except ValidationError as exc:
                self.errors += _pydantic_errors(exc, data, file)
                return
            items = data["rules"]
            for i, item in enumerate(several.rules):
                self.read_rule(item, file, path, items.item_lines[i] if hasattr(items, "item_lines") else None)
        elif "id" in data:
            self.read_rule(data, file, path, getattr(data, "line", None))
        else:
            self.err(file, getattr(data, "line", 1), "not a rule (needs `id`, or `rules: [...]`), "
                     "a list (needs `list`) nor the learned check (needs `learned`)")

    def read_learned(self, data: Any, file: str, path: Path) -> None:
        try:
            spec = LearnedFile.model_validate(data)
        except ValidationError as exc:
            self.errors += _pydantic_errors(exc, data, file)
            return
        line = line_of(data, ("learned",))
        if self.learned_file is not None:
            other, oline = self.learned_file
            self.err(file, line, f"a second learned check (the first is in {other}:{oline})")
            return
        self.learned_file = (file, line)
        model = path.parent / spec.learned.model
        try:
            body = spec.learned
            self.learned = LearnedModel.load(model, mode=self.learned_mode or body.mode,
                                             tag_modes=None if self.learned_mode else body.tags)
        except ModelInvalid as exc:
            where = ("learned", "tags") if isinstance(exc, UnknownTag) else ("learned", "model")
            self.err(file, line_of(data, where, line), str(exc))
            return
        self.digest.update(f"{spec.learned.model}\0{self.learned.version}\0{self.learned.describe()}\0".encode())
        for tag in body.rescue_needs:
            if tag not in self.learned.tags:
                self.err(file, line_of(data, ("learned", "rescue_needs", tag), line),
                         f"rescue_needs names `{tag}`, a tag the model does not know "
                         f"(it knows: {', '.join(self.learned.tags)})")
        self.needs_data = (data, file)

    def read_list(self, data: Any, file: str) -> None:
        try:
            spec = ListFile.model_validate(data)
        except ValidationError as exc:
            self.errors += _pydantic_errors(exc, data, file)
            return
        if spec.list in self.list_files:
            other, oline = self.list_files[spec.list]
            self.err(file, line_of(data, ("list",)), f"duplicate list `{spec.list}` (also in {other}:{oline})")
            return
        self.list_files[spec.list] = (file, line_of(data, ("list",)))

        def bad(message: str, path: tuple[Any, ...]) -> None:
            self.err(file, line_of(data, path), message)

        self.lists[spec.list] = compile_list(spec.list, spec, self.table, bad)

    def read_rule(self, data: Any, file: str, path: Path, line: int | None) -> None:
        if not isinstance(data, dict):
            self.err(file, line, "a rule must be a mapping")
            return
        try:
            spec = RuleSpec.model_validate(data)
        except ValidationError as exc:
            self.errors += _pydantic_errors(exc, data, file)
            return
        self.specs.append((spec, data, file, path))

    def attach_examples(self) -> dict[str, ExamplesSpec]:
        by_path: dict[Path, list[RuleSpec]] = {}
        for spec, _, _, path in self.specs:
            by_path.setdefault(path, []).append(spec)
        out: dict[str, ExamplesSpec] = {}
        for path, (data, file) in self.examples.items():
            stem = path.name[: -len(next(s for s in EXAMPLES_SUFFIXES if path.name.endswith(s)))]
            owners = [p for p in by_path if p.parent == path.parent and p.stem == stem]
            rules = by_path[owners[0]] if owners else []
            if not rules:
                self.err(file, 1, f"examples file without a rule file `{stem}.yaml` beside it")
                continue
            if not isinstance(data, dict):
                self.err(file, getattr(data, "line", 1), "expected a mapping of positive/negative examples")
                continue
            if "positive" in data or "negative" in data:
                if len(rules) != 1:
                    self.err(file, 1, "the rule file holds several rules: key the examples by rule id")
                    continue
                keyed = {rules[0].id: data}
            else:
                keyed = dict(data)
            ids = {r.id for r in rules}
            for rid, body in keyed.items():
                if rid not in ids:
                    self.err(file, line_of(data, (rid,)), f"no rule `{rid}` in {stem}.yaml")
                    continue
                try:
                    out[rid] = ExamplesSpec.model_validate(body)
                except ValidationError as exc:
                    self.errors += _pydantic_errors(exc, body, file, () if body is data else (rid,))
        return out

    def build(self) -> RuleSet:
        extra_examples = self.attach_examples()
        seen: dict[str, tuple[str, int | None]] = {}
        compiled: list[tuple[RuleSpec, Any, str, Node | None, list[tuple[TermNode, float]], Compiler]] = []
        for spec, data, file, _ in self.specs:
            line = getattr(data, "line", None)
            if spec.id in seen:
                other, oline = seen[spec.id]
                self.err(file, line_of(data, ("id",), line), f"duplicate rule id `{spec.id}` (also in {other}:{oline})")
                continue
            seen[spec.id] = (file, line_of(data, ("id",), line))
            local: dict[str, CompiledList] = {}
            for name, body in spec.lists.items():
                def bad(message: str, path: tuple[Any, ...], _n: str = name, _d: Any = data, _f: str = file) -> None:
                    self.err(_f, line_of(_d, ("lists", _n, *path)), message)
                local[name] = compile_list(name, body, self.table, bad)
            comp = Compiler(self.table, self.lists, local, file, self.errors)
            expr = comp.expr(data["match"], line_of(data, ("match",))) if spec.match is not None else None
            score_terms: list[tuple[TermNode, float]] = []
            if spec.score is not None:
                for i, wt in enumerate(spec.score.terms):
                    node = comp.term(wt.term, line_of(data, ("score", "terms", i)))
                    if isinstance(node, TermNode):
                        score_terms.append((node, wt.weight))
            if spec.event is not None:
                for i, key in enumerate(spec.event.keys):
                    if key not in self.lists and key not in local:
                        self.err(file, line_of(data, ("event", "keys", i)), f"event key `{key}` is not a known list")
            compiled.append((spec, data, file, expr, score_terms, comp))
        needs = self.rescue_needs()
        if self.errors:
            raise RulesInvalid(self.errors)
        self.table.build()
        uses: dict[int, int] = {}
        for _, _, _, expr, score_terms, _ in compiled:
            ids: set[int] = expr.term_ids() if expr is not None else set()
            for node, _w in score_terms:
                ids |= node.term_ids()
            for t in ids:
                uses[t] = uses.get(t, 0) + 1
        terms = self.table.terms

        def cost(ids: frozenset[int]) -> float:
            return sum(1.0 + uses.get(t, 0) + (50.0 if len(terms[t].key) < 4 else 0.0) for t in ids)

        shared: dict[tuple[Any, ...], Node] = {}
        prepared: set[int] = set()
        rules = []
        for spec, data, file, expr, score_terms, _ in compiled:
            if expr is not None:
                expr = intern(expr, shared)
                prepare(expr, prepared)
            requires = expr.requires(cost) if expr is not None else []
            if spec.score is not None and spec.score.threshold > 0:
                positive = [n.requires(cost) for n, w in score_terms if w > 0]
                if positive and all(positive):
                    requires.append(frozenset().union(*(min(p, key=cost) for p in positive)))
            requires = list(dict.fromkeys(requires))
            trig = min(requires, key=cost) if requires else None
            rules.append(Rule(
                id=spec.id, version=spec.version or _version(data), title=spec.title or spec.id,
                description=spec.description, severity=spec.severity, tags=tuple(spec.tags),
                languages=tuple(spec.languages), enabled=spec.enabled, fields=tuple(spec.fields),
                file=file, line=getattr(data, "line", None), event=spec.event, min_sources=spec.min_sources,
                severity_boost=spec.severity_boost, volume=spec.volume,
                examples=_merge(spec.examples, extra_examples.get(spec.id)),
                expr=expr, score_terms=tuple(score_terms),
                threshold=spec.score.threshold if spec.score is not None else None, triggers=trig,
                requires=tuple(r for r in requires if r is not trig),
            ))
        lists = {
            name: TermList(name, cl.description,
                           {eid: Entity(eid, nm, terms_) for eid, (nm, terms_) in cl.entities.items()},
                           file=self.list_files[name][0])
            for name, cl in self.lists.items()
        }
        for tag, node in needs.items():
            needs[tag] = node = intern(node, shared)
            prepare(node, prepared)
        return RuleSet(rules, lists, self.table, source_hash=self.digest.hexdigest(), learned=self.learned,
                       rescue_needs=needs)

    def rescue_needs(self) -> dict[str, Node]:
        """The learned check's ``rescue_needs``, compiled like a rule's ``match`` (shared lists only)."""
        if self.needs_data is None:
            return {}
        data, file = self.needs_data
        body = data["learned"].get("rescue_needs") or {}
        comp = Compiler(self.table, self.lists, {}, file, self.errors)
        out: dict[str, Node] = {}
        for tag, expr in body.items():
            node = comp.expr(expr, line_of(data, ("learned", "rescue_needs", tag)))
            if node is not None:
                out[tag] = node
        return out


def _merge(a: ExamplesSpec | None, b: ExamplesSpec | None) -> ExamplesSpec | None:
    if a is None or b is None:
        return a or b
    return ExamplesSpec(positive=(*a.positive, *b.positive), negative=(*a.negative, *b.negative))


def load_rules(path: Path | str, *, learned: Mode | None = None) -> RuleSet:
    """Load a rules folder (or a single rule file); raise ``RulesInvalid`` listing every error.
    ``learned``: the learned check's mode instead of the one its file names (``None``: as named; a
    folder without the check has none whatever the mode)."""
    path = Path(path)
    if not path.exists():
        raise RulesInvalid([RuleError(str(path), None, "no such file or folder")])
    if path.is_file():
        loader = _Loader(path.parent, learned)
        files = [path]
    else:
        loader = _Loader(path, learned)
        files = rule_files(path)
    for f in files:
        loader.read(f)
    return loader.build()


__all__ = ["LDict", "load_rules", "rule_files"]
