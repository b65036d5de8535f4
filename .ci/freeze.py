"""Write ``constraints.txt``: the exact versions installed in this venv of monitor's dependency tree.

``make constraints`` runs it after the venv has been installed and tested (``make test``); ``make run``
and ``make test`` then install with ``pip install -c constraints.txt``, so a fresh machine gets the
versions CI tested instead of whatever is newest. Only the tree of ``monitor`` and its extras is
written (packages installed by hand for an experiment are left out), and never monitor itself.
"""

from __future__ import annotations

import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requires(name: str, root: str) -> list[str]:
    """Requirement lines of a distribution; for ``root``, those of pyproject.toml (all extras), so a
    dependency added there counts before monitor is reinstalled."""
    if name != root:
        return list(metadata.distribution(name).requires or ())
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lines = list(project.get("dependencies", ()))
    for extra, reqs in project.get("optional-dependencies", {}).items():
        lines += [f'{r}; extra == "{extra}"' if ";" not in r else f'{r} and extra == "{extra}"' for r in reqs]
    return lines


def tree(root: str = "monitor") -> dict[str, str]:
    """name -> installed version of every distribution ``root`` (with all its extras) depends on."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    seen: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset(project.get("optional-dependencies", {})))]
    done: set[tuple[str, frozenset[str]]] = set()
    while todo:
        name, extras = todo.pop()
        if (name, extras) in done:
            continue
        done.add((name, extras))
        for line in _requires(name, root):
            req = Requirement(line)
            env_extras = extras or frozenset({""})
            if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in env_extras):
                continue
            key = _norm(req.name)
            try:
                seen[key] = metadata.version(req.name)
            except metadata.PackageNotFoundError:
                continue  # an optional dependency not installed here
            if key != _norm(root):
                todo.append((req.name, frozenset(req.extras)))
            else:
                todo.append((root, frozenset(req.extras)))
    seen.pop(_norm(root), None)
    return seen


def main() -> int:
    pins = tree()
    out = ROOT / "constraints.txt"
    lines = [
        "# Versions CI tested (make test); `make constraints` rewrites this file from .venv, see README.",
        *(f"{name}=={version}" for name, version in sorted(pins.items())),
    ]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{out.name}: {len(pins)} pins", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
