"""The feeds file: YAML in, a list of validated ``FeedConfig`` out, or every error at once with file:line.

Shape (top level is a mapping with one key, ``feeds``)::

    feeds:
      - url: https://example.org/rss      # required, http(s) only
        name: example                      # default: derived from the URL (see derive_names), unique
        interval: 300                      # seconds; default Settings.poll_interval
        language: ar                       # hint; default: the feed's declared language
        tags: [gulf, wire]
        fulltext: false                    # fetch the linked page and extract its main text
        enabled: true
        kind: feed                         # feed (RSS/Atom/RDF) | telegram | sitemap
      - kind: telegram                     # a public channel's web preview (monitor.ingest.telegram)
        channel: example_news              # or url: https://t.me/s/example_news (kind then implied)

String values may hold ``${NAME}`` placeholders, replaced from the ``variables`` mapping the caller
passes (``monitor run`` passes ``MONITOR_API``); an unknown placeholder is an error. Unknown keys, a
wrong type, a duplicate URL, or a name the user wrote twice are errors too; a name left out is derived
(``derive_names``: the host, else host and path) and never collides. ``load_feeds`` collects every
error, each as ``"file:line: message"``, and raises them together in ``FeedsInvalid`` (not retryable:
fix the file).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from monitor.models import stable_id
from monitor.rules.yamlload import check_aliases

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TELEGRAM_PREVIEW = re.compile(r"^https?://[^/]+/s/([A-Za-z0-9_]+)/?(?:[?#].*)?$", re.I)
_EMPTY: Mapping[str, str] = {}


class FeedsInvalid(ValueError):
    """The feeds file is invalid. ``errors`` lists every problem as ``file:line: message``.

    Not retryable: the file must be fixed.
    """

    retryable = False

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


class FeedConfig(BaseModel):
    """One feed as configured."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    url: Annotated[str, Field(max_length=2048)] = ""
    kind: Literal["feed", "telegram", "sitemap"] = "feed"
    channel: str = ""  # kind telegram: the public channel's name (t.me/NAME)
    name: str = ""
    interval: Annotated[float, Field(gt=0)] | None = None
    language: str = ""
    tags: tuple[str, ...] = ()
    fulltext: bool = False
    enabled: bool = True

    @field_validator("url")
    @classmethod
    def _http_only(cls, v: str) -> str:
        v = v.strip()
        if not v:
            return v  # only a telegram channel may leave it out (checked below)
        parts = urlsplit(v)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url must be an absolute http(s) URL, got {v!r}")
        return v

    @field_validator("language")
    @classmethod
    def _lang(cls, v: str) -> str:
        v = v.strip().lower()
        if v and not re.fullmatch(r"[a-z]{2,3}(-[a-z0-9]{1,8})*", v):
            raise ValueError(f"language must be a code like 'ar' or 'en', got {v!r}")
        return v.split("-")[0]

    @model_validator(mode="after")
    def _kind_and_name(self) -> FeedConfig:
        m = _TELEGRAM_PREVIEW.match(self.url)
        if self.kind == "feed" and m and (urlsplit(self.url).hostname or "").lower() == "t.me":
            object.__setattr__(self, "kind", "telegram")  # https://t.me/s/NAME is a channel preview
        if self.kind == "telegram":
            if not self.channel:
                if not m:
                    raise ValueError("a telegram feed needs 'channel: NAME' or 'url: https://t.me/s/NAME'")
                object.__setattr__(self, "channel", m.group(1))
            if not re.fullmatch(r"[A-Za-z0-9_]{3,64}", self.channel):
                raise ValueError(f"channel must be a public channel name like 'example_news', got {self.channel!r}")
            if not self.url:
                object.__setattr__(self, "url", f"https://t.me/s/{self.channel}")
        elif self.channel:
            raise ValueError("'channel' is only for kind: telegram")
        if not self.url:
            raise ValueError("url is required")
        if not self.name:
            host = urlsplit(self.url).hostname or self.url
            object.__setattr__(self, "name", f"t.me/{self.channel}" if self.kind == "telegram" else host)
        return self

    @property
    def key(self) -> str:
        """A stable short id for this feed's Redis keys (from its URL, so renaming keeps the state)."""
        return stable_id("feed", self.url, length=16)


def expand(value: str, variables: Mapping[str, str]) -> tuple[str, list[str]]:
    """Replace ``${NAME}`` from ``variables``; returns the text and the names that were unknown."""
    unknown: list[str] = []

    def sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in variables:
            unknown.append(name)
            return m.group(0)
        return variables[name]

    return _PLACEHOLDER.sub(sub, value), unknown


def _expand_all(obj: Any, variables: Mapping[str, str], unknown: list[str]) -> Any:
    if isinstance(obj, str):
        text, missing = expand(obj, variables)
        unknown.extend(missing)
        return text
    if isinstance(obj, list):
        return [_expand_all(x, variables, unknown) for x in obj]
    return obj


def load_feeds(path: Path, variables: Mapping[str, str] = _EMPTY) -> list[FeedConfig]:
    """Read and validate a feeds file; every feed, enabled or not, in file order."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FeedsInvalid([f"{path}:1: cannot read: {exc}"]) from exc
    return parse_feeds(text, str(path), variables)


def parse_feeds(text: str, filename: str, variables: Mapping[str, str] = _EMPTY) -> list[FeedConfig]:
    """Validate feeds YAML given as text (``filename`` only names it in errors)."""
    errors: list[str] = []

    def err(node: yaml.Node | None, msg: str) -> None:
        line = node.start_mark.line + 1 if node is not None else 1
        errors.append(f"{filename}:{line}: {msg}")

    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None and "&" in text:
            check_aliases(root)  # a few bytes of nested aliases must not expand into gigabytes
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise FeedsInvalid([f"{filename}:{line}: invalid YAML: {exc}"]) from exc
    finally:
        loader.dispose()

    if root is None or not isinstance(root, yaml.MappingNode):
        err(root, "top level must be a mapping with a 'feeds' list")
        raise FeedsInvalid(errors)
    items_node: yaml.Node | None = None
    for key_node, value_node in root.value:
        if key_node.value == "feeds":
            items_node = value_node
        else:
            err(key_node, f"unknown top-level key {key_node.value!r} (expected only 'feeds')")
    if items_node is None or not isinstance(items_node, yaml.SequenceNode):
        err(items_node or root, "'feeds' must be a list of feeds")
        raise FeedsInvalid(errors)

    feeds: list[tuple[FeedConfig, bool]] = []  # (feed, name written by the user)
    names: dict[str, int] = {}
    urls: dict[str, int] = {}
    for item in items_node.value:
        got = _one_feed(item, loader, variables, err)
        if got is None:
            continue
        feed, named = got
        line = item.start_mark.line + 1
        if named and feed.name in names:
            err(item, f"duplicate feed name {feed.name!r} (first at line {names[feed.name]})")
        elif feed.url in urls:
            err(item, f"duplicate feed url {feed.url!r} (first at line {urls[feed.url]})")
        else:
            if named:
                names[feed.name] = line
            urls[feed.url] = line
            feeds.append((feed, named))
    if errors:
        raise FeedsInvalid(errors)
    return derive_names(feeds)


def derive_names(feeds: list[tuple[FeedConfig, bool]]) -> list[FeedConfig]:
    """Give every feed without a written name a unique one, never one the user wrote.

    The first choice is the host (``example.org``) when no other unnamed feed shares it; then host and
    path (``example.org/rss/world``, with the query when there is one); then that with ``-2``, ``-3``, …
    in file order. A file whose feeds are all on different hosts keeps the host names it always had.
    """
    taken = {f.name for f, named in feeds if named}
    unnamed = [f for f, named in feeds if not named]
    hosts: dict[str, int] = {}
    for f in unnamed:
        hosts[f.name] = hosts.get(f.name, 0) + 1
    out: list[FeedConfig] = []
    for f, named in feeds:
        if named:
            out.append(f)
            continue
        name = f.name
        if hosts[name] > 1 or name in taken:
            parts = urlsplit(f.url)
            name = f"{f.name}{parts.path.rstrip('/')}" + (f"?{parts.query}" if parts.query else "")
        base, n = name, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        out.append(f if name == f.name else f.model_copy(update={"name": name}))
    return out


def _one_feed(
    item: yaml.Node, loader: yaml.SafeLoader, variables: Mapping[str, str], err: Any
) -> tuple[FeedConfig, bool] | None:
    if not isinstance(item, yaml.MappingNode):
        err(item, "each feed must be a mapping with at least 'url'")
        return None
    known = set(FeedConfig.model_fields)
    data: dict[str, Any] = {}
    lines: dict[str, yaml.Node] = {}
    ok = True
    for key_node, value_node in item.value:
        key = key_node.value
        if key not in known:
            err(key_node, f"unknown key {key!r} (allowed: {', '.join(sorted(known))})")
            ok = False
            continue
        try:
            value = loader.construct_object(value_node, deep=True)
        except yaml.YAMLError as exc:
            err(value_node, f"{key}: {exc}")
            ok = False
            continue
        unknown: list[str] = []
        value = _expand_all(value, variables, unknown)
        for name in unknown:
            err(value_node, f"{key}: unknown placeholder ${{{name}}}")
            ok = False
        data[key] = value
        lines[key] = value_node
    if "url" not in data and ok and not (data.get("kind") == "telegram" and data.get("channel")):
        err(item, "a telegram feed needs 'channel: NAME' or 'url: https://t.me/s/NAME'"
            if data.get("kind") == "telegram" else "missing required key 'url'")
        return None
    if not ok:
        return None
    try:
        return FeedConfig.model_validate(data), bool(data.get("name"))
    except ValidationError as exc:
        for e in exc.errors():
            field = str(e["loc"][0]) if e["loc"] else ""
            err(lines.get(field, item), f"{field or 'feed'}: {e['msg']}")
        return None
