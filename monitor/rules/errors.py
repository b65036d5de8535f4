"""Rule errors: every problem in a rules folder, with the file and line, raised together.

``load_rules`` collects one ``RuleError`` per problem (YAML syntax, unknown or missing fields, bad
regular expressions, duplicate ids, unknown list references, bad examples) and raises a single
``RulesInvalid`` holding all of them, sorted by file and line, so an author fixes everything in one go.
``str(error)`` is ``file:line: message`` (``file: message`` when the line is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class RuleError:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}" if self.line else f"{self.file}: {self.message}"


class RulesInvalid(Exception):
    """A rules folder did not load. ``errors`` lists every problem found."""

    def __init__(self, errors: list[RuleError]) -> None:
        self.errors = sorted(errors, key=lambda e: (e.file, e.line or 0, e.message))
        n = len(self.errors)
        head = "\n".join(str(e) for e in self.errors[:20])
        more = f"\n… and {n - 20} more" if n > 20 else ""
        super().__init__(f"{n} error{'s' if n != 1 else ''} in rules:\n{head}{more}")
