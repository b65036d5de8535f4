"""The YAML schema of rule and list files, as typed frozen models (``extra="forbid"``).

Only the *shape* is checked here; the match expression (a recursive mini-language) is kept as raw
data (``match: Any``) and compiled by ``monitor.rules.expr``, which reports its own errors with lines.
The full format, with examples, is in ``docs/rules.md``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Severity = Literal["info", "low", "medium", "high", "critical"]
FieldName = Literal["title", "summary", "content"]
FIELDS: tuple[FieldName, ...] = ("title", "summary", "content")
ID_RE = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"
NAME_RE = r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=False, allow_inf_nan=False)


Term = Annotated[str, Field(min_length=1)]


class EntitySpec(Spec):
    name: str = ""
    description: str = ""
    terms: list[Term] = Field(min_length=1)


class ListBody(Spec):
    """A named list's content: entities with canonical ids, or plain terms (each its own entity)."""

    description: str = ""
    entities: dict[str, EntitySpec] | None = Field(default=None, min_length=1)
    terms: list[Term] | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_kind(self) -> ListBody:
        if (self.entities is None) == (self.terms is None):
            raise ValueError("a list needs exactly one of `entities` or `terms`")
        return self


class ListFile(ListBody):
    list: Annotated[str, Field(pattern=NAME_RE)]


class ExampleArticle(Spec):
    title: str = ""
    summary: str = ""
    content: str = ""
    source: str = ""
    tags: tuple[str, ...] = ()
    lang: str = ""
    note: str = ""


Example = str | ExampleArticle


class ExamplesSpec(Spec):
    positive: tuple[Example, ...] = ()
    negative: tuple[Example, ...] = ()


class WeightedTerm(Spec):
    term: Term
    weight: float


class ScoreSpec(Spec):
    threshold: float
    terms: list[WeightedTerm] = Field(min_length=1)


class EventSpec(Spec):
    """Parsed for the event-grouping stage; unused by the matcher."""

    keys: tuple[str, ...] = ()
    window: float | None = None  # None: the deployment's default (MONITOR_EVENT_WINDOW_HOURS, 6 h)

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        if isinstance(v, str):
            m = _DURATION.match(v)
            if not m:
                raise ValueError("window: seconds, or a duration such as 90m, 6h, 2d")
            return float(m.group(1)) * _UNIT[m.group(2)]
        return v


class SeverityBoost(Spec):
    sources: int = Field(ge=1)
    severity: Severity


class RuleSpec(Spec):
    id: Annotated[str, Field(pattern=ID_RE, max_length=200)]
    version: str | None = None
    title: str = ""
    description: str = ""
    severity: Severity = "medium"
    tags: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    enabled: bool = True
    fields: tuple[FieldName, ...] = FIELDS
    match: Any = None
    score: ScoreSpec | None = None
    examples: ExamplesSpec | None = None
    lists: dict[Annotated[str, Field(pattern=NAME_RE)], ListBody] = {}
    event: EventSpec | None = None
    min_sources: int | None = Field(default=None, ge=1)
    severity_boost: SeverityBoost | None = None
    author: str = ""
    references: tuple[str, ...] = ()
    notes: str = ""

    @field_validator("version", mode="before")
    @classmethod
    def _version_str(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) and not isinstance(v, bool) else v

    @field_validator("languages")
    @classmethod
    def _lower(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(x.strip().lower() for x in v)

    @model_validator(mode="after")
    def _needs_condition(self) -> RuleSpec:
        if self.match is None and self.score is None:
            raise ValueError("a rule needs `match`, `score`, or both")
        return self


class RuleFile(Spec):
    """A file holding several rules."""

    rules: list[Any] = Field(min_length=1)
