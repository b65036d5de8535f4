"""YAML reading that remembers line numbers.

``load_yaml(text)`` parses with libyaml (``CSafeLoader`` when available) and returns plain data whose
mappings are ``LDict`` (a dict with ``line`` and ``key_lines``) and whose sequences are ``LList`` (a list
with ``line`` and ``item_lines``), so later stages can report ``file:line`` for any key or item.
``line_of(data, path)`` walks a pydantic error location to the nearest known line. Lines are 1-based.
"""

from __future__ import annotations

from typing import Any

import yaml

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LDict(dict[Any, Any]):
    line: int | None = None
    key_lines: dict[Any, int]


class LList(list[Any]):
    line: int | None = None
    item_lines: list[int]


class _Loader(_Base):  # type: ignore[misc, valid-type]
    pass


def _mapping(loader: Any, node: yaml.MappingNode) -> LDict:
    loader.flatten_mapping(node)
    out = LDict()
    out.line = node.start_mark.line + 1
    out.key_lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError:
            key = str(key)
        if key in out:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        out[key] = loader.construct_object(value_node, deep=True)
        out.key_lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader: Any, node: yaml.SequenceNode) -> LList:
    out = LList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.item_lines = [child.start_mark.line + 1 for child in node.value]
    return out


def _str(loader: Any, node: yaml.ScalarNode) -> str:
    return str(node.value)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor("tag:yaml.org,2002:str", _str)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load_yaml(text: str) -> Any:
    """Parse one YAML document (raises ``yaml.YAMLError`` with a ``problem_mark``)."""
    return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass


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
