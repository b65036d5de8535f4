"""YAML reading that remembers line numbers.

``load_yaml(text)`` composes with libyaml (``CSafeLoader`` when available), converts the node tree itself
(safe scalars through PyYAML's ``SafeConstructor``) and returns plain data whose
mappings are ``LDict`` (a dict with ``line`` and ``key_lines``) and whose sequences are ``LList`` (a list
with ``line`` and ``item_lines``), so later stages can report ``file:line`` for any key or item. Booleans
are YAML 1.2's, `true` and `false` only: YAML 1.1's `yes`/`no`/`on`/`off` stay strings (a term `no`, a
mode `off`); a boolean field still takes them (the schema's models parse `yes`/`no` as booleans).
``line_of(data, path)`` walks a pydantic error location to the nearest known line. Lines are 1-based.

Aliases: before converting, ``check_aliases`` measures how many nodes the aliases would add when
expanded (linear in the composed tree, memoised per node) and refuses more than ``ALIAS_BUDGET``, or
an alias to a node that contains it, as a ``yaml.YAMLError`` at the line of the biggest re-used anchor
— so a few hundred bytes of nested aliases cannot expand into gigabytes.
"""

from __future__ import annotations

from typing import Any

import yaml


class LDict(dict[Any, Any]):
    line: int | None = None
    key_lines: dict[Any, int]


class LList(list[Any]):
    line: int | None = None
    item_lines: list[int]


#: nodes that alias expansion may add to a document: the largest shipped rule files add ~10,000 (their
#: exclusion sets re-used in every branch); a document that adds 50,000 is still a few megabytes at most
ALIAS_BUDGET = 50_000

_STR = "tag:yaml.org,2002:str"
_BOOL = "tag:yaml.org,2002:bool"
_PLAIN_TAGS = frozenset({"tag:yaml.org,2002:seq", "tag:yaml.org,2002:map"})
_Composer: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _convert(node: yaml.Node, sc: Any) -> Any:
    """Plain data from a composed node: about twice as fast as the constructor machinery."""
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _STR or (node.tag == _BOOL and node.value.lower() not in ("true", "false")):
            return node.value  # YAML 1.2's booleans only: `off`, `no`, `on`, `yes` stay the words they are
        return sc.construct_object(node, deep=True)
    if node.tag not in _PLAIN_TAGS and not isinstance(node, yaml.ScalarNode):
        raise yaml.constructor.ConstructorError(
            None, None, f"tag {node.tag!r} is not allowed in rule files", node.start_mark
        )
    if isinstance(node, yaml.SequenceNode):
        seq = LList(_convert(child, sc) for child in node.value)
        seq.line = node.start_mark.line + 1
        seq.item_lines = [child.start_mark.line + 1 for child in node.value]
        return seq
    if isinstance(node, yaml.MappingNode):
        sc.flatten_mapping(node)
        out = LDict()
        out.line = node.start_mark.line + 1
        out.key_lines = {}
        for key_node, value_node in node.value:
            key = _convert(key_node, sc)
            try:
                hash(key)
            except TypeError:
                key = str(key)
            if key in out:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            out[key] = _convert(value_node, sc)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    return sc.construct_object(node, deep=True)


def check_aliases(root: yaml.Node, budget: int = ALIAS_BUDGET) -> None:
    """Raise ``yaml.YAMLError`` when expanding the aliases would add more than ``budget`` nodes."""
    sizes: dict[int, int] = {}
    busy: set[int] = set()
    reused: dict[int, yaml.Node] = {}

    def size(node: yaml.Node) -> int:
        k = id(node)
        if k in busy:
            raise yaml.composer.ComposerError(
                None, None, "an alias refers to a node that contains it", node.start_mark
            )
        if k in sizes:
            reused[k] = node
            return sizes[k]
        busy.add(k)
        n = 1
        if isinstance(node, yaml.SequenceNode):
            n += sum(size(c) for c in node.value)
        elif isinstance(node, yaml.MappingNode):
            n += sum(size(a) + size(b) for a, b in node.value)
        busy.discard(k)
        sizes[k] = n
        return n

    added = size(root) - len(sizes)
    if added > budget:
        worst = max(reused.values(), key=lambda n: sizes[id(n)])
        raise yaml.composer.ComposerError(
            None,
            None,
            f"alias expansion would add {added} nodes (at most {budget}): flatten the aliases",
            worst.start_mark,
        )


def load_yaml(text: str) -> Any:
    """Parse one YAML document (raises ``yaml.YAMLError`` with a ``problem_mark``)."""
    node = yaml.compose(text, Loader=_Composer)
    if node is None:
        return None
    if "&" in text:  # no anchor, no alias: skip the walk (it costs as much as the conversion)
        check_aliases(node)
    return _convert(node, yaml.constructor.SafeConstructor())


def line_of(data: Any, path: tuple[Any, ...], default: int | None = None) -> int | None:
    """The line of the deepest element of ``path`` (keys and indexes) that exists in ``data``."""
    line = getattr(data, "line", None) or default
    node = data
    for step in path:
        if isinstance(node, LDict) and step in node:
            line = node.key_lines.get(step, line)
            node = node[step]
        elif isinstance(node, LList) and isinstance(step, int) and 0 <= step < len(node):
            line = node.item_lines[step]
            node = node[step]
        else:
            break
    return line


def error_line(exc: yaml.YAMLError) -> int | None:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return mark.line + 1 if mark is not None else None
