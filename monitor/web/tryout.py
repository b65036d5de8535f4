"""``/rules/try``: edit or paste a rule file's YAML, see every error with its line as you type, backtest
it over the archive with the hits highlighted, and save it where that is allowed.

``POST /rules/check`` (the editor's script, debounced) and the page's Check button load the text with
the folder's named lists (``monitor.archive.backtest.load_text_rules``: the loader the stream uses, on a
scratch copy) and answer every error with its line. Backtest runs the text's rules over the last
``days`` of the archive (``run_backtest``, bounded in articles, seconds and hits shown). Save writes
the file under ``MONITOR_RULES`` (a relative ``.yaml`` path, no ``..`` or hidden parts; atomically)
only when ``MONITOR_RULES_WRITABLE`` is on and the text loads without error; otherwise the page offers
the YAML to copy. Workers pick a saved file up with their hot reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path, PurePosixPath
from typing import Any

from aiohttp import web

from monitor.api.app import deps_of
from monitor.models import utcnow
from monitor.rules import RulesInvalid
from monitor.web.highlight import highlight
from monitor.web.render import page
from monitor.web.rules import relative
from monitor.web.session import check_csrf, read_form
from monitor.web.state import archive_of, ruleset_of

routes = web.RouteTableDef()
MAX_TEXT = 256 * 1024
#: the largest body the console's forms need: the try-out form carries a rule file of up to ``MAX_TEXT``
#: characters, which a browser sends percent-encoded (an Arabic letter, two bytes of UTF-8, becomes six;
#: up to nine for a three-byte character), plus an article and the other fields
FORM_MAX_BODY = 9 * MAX_TEXT + 64 * 1024
NEW_RULE = """\
id: my-team.new-rule
title: A new rule
description: >
  What it finds, and what it leaves out.
severity: medium
tags: [draft]
match:
  near: ["@talk_events_strong", "@talks"]
  within: 8
examples:
  positive:
    - "Negotiations resumed in Vienna on Monday."
  negative:
    - "The minister called for talks."
"""


@dataclass
class Checked:
    errors: list[dict[str, Any]] = field(default_factory=list)
    rules: list[Any] = field(default_factory=list)
    ruleset: Any = None


def safe_path(value: str) -> str:
    """A rule file's path relative to the rules folder; ``ValueError`` when it could leave it."""
    p = PurePosixPath(value.strip().replace("\\", "/"))
    if not p.parts or p.is_absolute() or any(x in ("..", "") or x.startswith(".") for x in p.parts):
        raise ValueError(f"path: a relative path inside the rules folder, got {value!r}")
    if p.suffix not in (".yaml", ".yml") or p.name.endswith((".examples.yaml", ".examples.yml")):
        raise ValueError("path: a rule file ends in .yaml (not .examples.yaml)")
    return str(p)


def check(text: str, folder: Path, name: str) -> Checked:
    from monitor.archive.backtest import load_text_rules

    out = Checked()
    try:
        rs = load_text_rules(text, folder, name=name)
    except RulesInvalid as exc:
        out.errors = [{"file": e.file, "line": e.line, "message": e.message, "here": e.file == name}
                      for e in exc.errors]
        return out
    out.ruleset = rs
    out.rules = list(rs.rules)
    if not out.rules:
        out.errors = [{"file": name, "line": None, "message": "no rule in the text (needs `id:` or `rules:`)",
                       "here": True}]
    return out


def _examples(rs: Any) -> list[tuple[str, str, str, bool]]:
    from monitor.rules.examples import run_examples

    return [(r.rule, r.kind, r.excerpt, r.passed) for r in run_examples(rs)]


async def _form(request: web.Request) -> dict[str, str]:
    form = await read_form(request)
    return {"yaml": form.get("yaml", ""), "path": form.get("path", ""), "days": form.get("days", "7"),
            "action": form.get("action", "check")}


@routes.get("/rules/try")
async def try_page(request: web.Request) -> web.Response:
    settings = deps_of(request).settings
    text, path = NEW_RULE, "drafts/new-rule.yaml"
    rid = request.query.get("rule")
    if rid:
        try:
            rule = (await ruleset_of(request)).get(rid)
        except RulesInvalid:
            rule = None
        if rule is None:
            raise web.HTTPNotFound(text=f"no rule {rid}")
        text = await asyncio.to_thread(Path(rule.file).read_text, "utf-8")
        path = relative(settings.rules, rule.file)
    return page(request, "tryout.html", title="Try out a rule", v={"yaml": text, "path": path, "days": "7"},
                result=None, writable=settings.rules_writable, message="", hits=None, summary=None,
                has_archive=archive_of(request) is not None)


@routes.post("/rules/check")
async def check_json(request: web.Request) -> web.Response:
    """The editor's as-you-type check: JSON ``{"errors": [{line, message, file, here}], "rules": [ids]}``."""
    check_csrf(request, request.headers.get("X-CSRF-Token"))
    form = await request.post()
    text = form.get("yaml", "")
    if not isinstance(text, str) or len(text) > MAX_TEXT:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_TEXT, actual_size=len(str(text)))
    name = str(form.get("path") or "rule.yaml")
    result = await asyncio.to_thread(check, text, deps_of(request).settings.rules, name)
    return web.json_response({"errors": result.errors, "rules": [r.id for r in result.rules]})


@routes.post("/rules/try")
async def try_post(request: web.Request) -> web.Response:
    settings = deps_of(request).settings
    v = await _form(request)
    message = ""
    status = 200
    if len(v["yaml"]) > MAX_TEXT:
        raise web.HTTPRequestEntityTooLarge(max_size=MAX_TEXT, actual_size=len(v["yaml"]))
    try:
        name = safe_path(v["path"] or "drafts/new-rule.yaml")
    except ValueError as exc:
        name, message, status = "rule.yaml", str(exc), 422
    result = await asyncio.to_thread(check, v["yaml"], settings.rules, name)
    examples = await asyncio.to_thread(_examples, result.ruleset) if result.ruleset is not None else []
    hits = summary = None
    if result.errors:
        status = 422
    elif v["action"] == "backtest":
        hits, summary, message = await _backtest(request, result.ruleset, v["days"])
    elif v["action"] == "save" and not message:
        message, status = await _save(request, name, v["yaml"])
    return page(request, "tryout.html", status=status, title="Try out a rule", v=v, result=result,
                examples=examples, writable=settings.rules_writable, message=message, hits=hits,
                summary=summary, has_archive=archive_of(request) is not None)


async def _backtest(request: web.Request, rs: Any, days: str) -> tuple[list[Any] | None, Any, str]:
    from monitor.archive.backtest import BacktestHit, BacktestLimits, run_backtest

    archive = archive_of(request)
    if archive is None:
        return None, None, "No archive in this process (MONITOR_ARCHIVE is off): nothing to backtest on."
    try:
        n = min(max(float(days or 7), 0.01), 90.0)
    except ValueError:
        return None, None, f"days: a number, got {days!r}"
    hits: list[Any] = []
    summary = None
    limits = BacktestLimits(max_articles=50_000, max_seconds=20.0, max_hits=200)
    async for x in run_backtest(archive, rs, since=utcnow() - timedelta(days=n), limits=limits):
        if isinstance(x, BacktestHit):
            a = x.item.article
            hits.append({"hit": x.view(), "title": highlight(a.title, x.match.evidence, "title"),
                         "text": _excerpt(a, x.match.evidence), "lang": x.item.lang})
        else:
            summary = x
    return hits, summary, ""


def _excerpt(article: Any, evidence: Any) -> Any:
    """The summary or content around the first evidence, marked (a window, not the whole article)."""
    from monitor.models import Evidence

    for field_name in ("summary", "content"):
        text: str = getattr(article, field_name)
        evs = [e for e in evidence if e.field == field_name]
        if not evs:
            continue
        first = min(e.start for e in evs)
        lo = max(0, first - 160)
        hi = min(len(text), first + 240)
        window = text[lo:hi]
        moved = [Evidence(term=e.term, matched=e.matched, field=e.field, start=e.start - lo, end=e.end - lo)
                 for e in evs if e.start >= lo and e.end <= hi]
        return highlight(window, moved, field_name)
    return highlight(article.summary[:400], [], "summary")


async def _save(request: web.Request, name: str, text: str) -> tuple[str, int]:
    deps = deps_of(request)
    if not deps.settings.rules_writable:
        return "Saving is off here (MONITOR_RULES_WRITABLE): copy the YAML below into the rules folder.", 403
    errors = await asyncio.to_thread(_folder_errors, deps.settings.rules, name, text)
    if errors:
        return "Not saved: with this file the rules folder would not load: " + "; ".join(errors[:5]), 422
    await asyncio.to_thread(_write_atomic, deps.settings.rules / name, text)
    deps.extra.pop("web_ruleset", None)
    return f"Saved to {name}: workers load it with their next rules reload.", 200


def _folder_errors(folder: Path, name: str, text: str) -> list[str]:
    """The whole folder with the file in place must load (duplicate ids, examples files…)."""
    import shutil

    from monitor.rules import load_rules

    with tempfile.TemporaryDirectory(prefix="monitor-save-") as tmp:
        root = Path(tmp) / "rules"
        shutil.copytree(folder, root, ignore=shutil.ignore_patterns(".*"))
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
        try:
            load_rules(root)
        except RulesInvalid as exc:
            return [str(e).replace(str(root) + os.sep, "") for e in exc.errors]
    return []


def _write_atomic(target: Path, text: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tryout-", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
