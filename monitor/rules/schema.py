"""The YAML schema of rule and list files, as typed frozen models (``extra="forbid"``).

Only the *shape* is checked here; the match expression (a recursive mini-language) is kept as raw
data (``match: Any``) and compiled by ``monitor.rules.expr``, which reports its own errors with lines.
The full format, with examples, is in ``docs/rules.md``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.rules.learned import Mode

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


def parse_duration(v: Any, name: str = "window") -> Any:
    """``"90m"``/``"6h"``/``"2d"``/``"30s"`` -> seconds; numbers (seconds) and other values pass through."""
    if isinstance(v, str):
        m = _DURATION.match(v)
        if not m:
            raise ValueError(f"{name}: seconds, or a duration such as 90m, 6h, 2d")
        return float(m.group(1)) * _UNIT[m.group(2)]
    return v


class EventSpec(Spec):
    """Parsed for the event-grouping stage; unused by the matcher."""

    keys: tuple[str, ...] = ()
    window: float | None = None  # None: the deployment's default (MONITOR_EVENT_WINDOW_HOURS, 6 h)

    @field_validator("window", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> Any:
        return parse_duration(v, "window")


class VolumeSpec(Spec):
    """A volume condition over this rule's matches (``key: rule``) or a tag's (``key: tag:<name>``).

    Frequency: ``min_articles`` matching articles from ``min_sources`` distinct sources ``within`` T.
    Spike: matches ``within`` T at least ``spike`` times their mean per T over ``baseline`` before it,
    and at least ``min_count``. Exactly one of ``min_articles`` and ``spike``. Durations in seconds.
    Evaluated by the processor (``monitor.process.policy``); unused by the matcher.
    """

    key: str = "rule"
    within: float = Field(gt=0)
    min_articles: int | None = Field(default=None, ge=1)
    min_sources: int | None = Field(default=None, ge=1)
    spike: float | None = Field(default=None, gt=0)
    baseline: float | None = Field(default=None, gt=0)
    min_count: int | None = Field(default=None, ge=1)

    @field_validator("within", "baseline", mode="before")
    @classmethod
    def _duration(cls, v: Any, info: Any) -> Any:
        return parse_duration(v, info.field_name)

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if v != "rule" and not (v.startswith("tag:") and v[4:].strip() == v[4:] and v[4:]):
            raise ValueError(f"key must be `rule` or `tag:<name>`, not {v!r}")
        return v

    @model_validator(mode="after")
    def _one_kind(self) -> VolumeSpec:
        if (self.min_articles is None) == (self.spike is None):
            raise ValueError("a volume section needs exactly one of `min_articles` (frequency) or `spike`")
        if self.spike is None:
            if self.baseline is not None or self.min_count is not None:
                raise ValueError("`baseline` and `min_count` go with `spike`, not with `min_articles`")
            if self.min_sources is not None and self.min_articles is not None and self.min_sources > self.min_articles:
                raise ValueError(f"min_sources ({self.min_sources}) cannot exceed min_articles ({self.min_articles})")
        else:
            if self.min_sources is not None:
                raise ValueError("`min_sources` goes with `min_articles`, not with `spike`")
            if self.baseline is not None and self.baseline < self.within:
                raise ValueError(f"baseline ({self.baseline:.0f} s) must be at least `within` ({self.within:.0f} s)")
        return self

    @property
    def kind(self) -> str:
        """``frequency`` or ``spike``."""
        return "spike" if self.spike is not None else "frequency"

    @property
    def tag(self) -> str | None:
        """The tag counted with ``key: tag:<name>``; None with ``key: rule``."""
        return self.key[4:] if self.key.startswith("tag:") else None


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
    volume: VolumeSpec | None = None
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


class LearnedBody(Spec):
    """The learned check of a rules folder: a model file written by ``monitor rules learn``."""

    model: Annotated[str, Field(min_length=1)]  # path relative to the file that names it
    mode: Mode = "both"
    #: a mode for single tags instead of ``mode``
    tags: dict[str, Mode] = Field(default_factory=dict)
    #: tag -> a match expression (the rules' ``match`` syntax) that must hold in an article before the
    #: check may add the tag there (for example a striker named before ``strike-on-armed-groups``)
    rescue_needs: dict[str, Any] = Field(default_factory=dict)
    description: str = ""


class LearnedFile(Spec):
    """A file with ``learned: {model, mode}`` (at most one per rules folder)."""

    learned: LearnedBody
