"""``monitor subscriptions …`` and ``monitor silences …``: manage alert delivery from the shell.

Two ways to reach the data, same commands: directly in Redis (``MONITOR_REDIS_URL``, through
``monitor.alerting.store``), or through a running API with ``--api URL`` (token from ``--token`` or
``MONITOR_API_TOKEN``). Options build a ``SubscriptionSpec``/``SilenceSpec`` (or ``--json FILE``, ``-``
for stdin) that is validated before anything is sent, so mistakes are reported with the field at
fault. A new webhook secret is printed once, on create and ``rotate-secret``. Exit status 1 with a
one-line reason on any error.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import re
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import click
from pydantic import BaseModel, ValidationError

from monitor.cli.safe import cell

T = TypeVar("T")


# --- backends -----------------------------------------------------------------------------------
class Backend:
    """Direct Redis access (``monitor.alerting.admin``)."""

    def __init__(self) -> None:
        from monitor.alerting.admin import Admin
        from monitor.settings import Settings

        settings = Settings()
        if not settings.redis_url:
            raise click.ClickException(
                "MONITOR_REDIS_URL is not set (the embedded Redis lives inside `monitor run`): "
                "set it, or talk to a running API with --api URL"
            )
        self.admin = Admin(settings)

    async def close(self) -> None:
        await self.admin.close()

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        try:
            return await self.admin.call(method, path, body)
        except LookupError as exc:
            raise click.ClickException(str(exc)) from exc


class ApiBackend:
    """The same calls over HTTP to a running API."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    async def close(self) -> None:
        return None

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> tuple[int, Any]:
        import aiohttp

        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        timeout = aiohttp.ClientTimeout(total=30)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as s,
                s.request(method, f"{self.url}/api/v1/{path.strip('/')}", json=body, headers=headers) as r,
            ):
                data = await r.json(content_type=None) if r.status != 204 else None
                return r.status, data
        except aiohttp.ClientError as exc:
            raise click.ClickException(f"cannot reach the API at {self.url}: {exc}") from exc


def _run(ctx: click.Context, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    from monitor.alerting.channels.ssrf import UnsafeURL
    from monitor.alerting.store import StoreError

    opts = ctx.obj or {}

    async def go() -> tuple[int, Any]:
        backend = ApiBackend(opts["api"], opts.get("token")) if opts.get("api") else Backend()
        try:
            return await backend.call(method, path, body)
        finally:
            await backend.close()

    try:
        status, data = asyncio.run(go())
    except ValidationError as exc:
        raise click.ClickException(_validation(exc)) from exc
    except (StoreError, UnsafeURL, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot reach Redis: {exc}") from exc
    if status >= 400:
        detail = data.get("detail") if isinstance(data, dict) else None
        msg = data.get("error") if isinstance(data, dict) else str(data)
        raise click.ClickException(f"{status}: {msg}" + (f" ({detail})" if detail else ""))
    return data


def _validation(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors())


def _check(model: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        raise click.ClickException(_validation(exc)) from exc
    return data


def _all_pages(ctx: click.Context, kind: str) -> list[dict[str, Any]]:
    """Every subscription or silence, a page at a time."""
    items: list[dict[str, Any]] = []
    offset: int | None = 0
    while offset is not None:
        data = _run(ctx, "GET", f"{kind}?limit=500&offset={offset}")
        items += data[kind]
        offset = data.get("next_offset")
    return items


def _print(data: Any) -> None:
    click.echo(jsonlib.dumps(data, ensure_ascii=False, indent=2))


def _load_json(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        raw = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
        data = jsonlib.loads(raw)
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"--json {path}: {exc}") from exc
    if not isinstance(data, dict):
        raise click.ClickException("--json must hold a JSON object")
    return data


def _when(value: str | None) -> str | None:
    """ISO 8601, or a duration from now: 30m, 2h, 1d."""
    if value is None:
        return None
    m = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if m:
        n, unit = int(m.group(1)), m.group(2)
        delta = {
            "s": timedelta(seconds=n),
            "m": timedelta(minutes=n),
            "h": timedelta(hours=n),
            "d": timedelta(days=n),
        }[unit]
        return (datetime.now(UTC) + delta).isoformat()
    try:
        return datetime.fromisoformat(value).isoformat()
    except ValueError as exc:
        raise click.ClickException(f"not a time or duration: {value!r} (use ISO 8601 or 30m/2h/1d)") from exc


# --- subscriptions ------------------------------------------------------------------------------
def _api_options(f: Callable[..., T]) -> Callable[..., T]:
    f = click.option("--token", envvar="MONITOR_API_TOKEN", help="bearer token for --api")(f)
    return click.option("--api", metavar="URL", help="talk to a running API instead of Redis")(f)


@click.group()
@_api_options
@click.pass_context
def subscriptions(ctx: click.Context, api: str | None, token: str | None) -> None:
    """Manage alert subscriptions (Redis via MONITOR_REDIS_URL, or a running API with --api)."""
    ctx.obj = {"api": api, "token": token}


def _sub_options(f: Callable[..., T]) -> Callable[..., T]:
    opts = [
        click.option("--json", "json_file", metavar="FILE", help="the whole body as JSON ('-' = stdin)"),
        click.option("--name"),
        click.option("--channel", type=click.Choice(["redis", "webhook", "email", "chat"])),
        click.option("--url", help="webhook URL"),
        click.option("--to", multiple=True, help="email recipient (repeat)"),
        click.option("--chat-url", multiple=True, help="apprise URL (repeat)"),
        click.option("--rule", multiple=True, help="only these rule ids"),
        click.option("--tag", multiple=True, help="only alerts with any of these tags"),
        click.option("--min-severity", type=click.Choice(["info", "low", "medium", "high", "critical"])),
        click.option("--lang", multiple=True, help="only these article languages"),
        click.option("--source", multiple=True, help="only these feeds"),
        click.option(
            "--group-by",
            multiple=True,
            type=click.Choice(["rule", "source", "lang", "event_id", "severity", "tags"]),
        ),
        click.option("--group-wait", type=float),
        click.option("--group-interval", type=float),
        click.option("--repeat-interval", type=float),
        click.option("--digest", type=click.Choice(["immediate", "hourly", "daily"])),
        click.option("--immediate-from", type=click.Choice(["info", "low", "medium", "high", "critical"])),
        click.option("--quiet", metavar="HH:MM-HH:MM", help="quiet hours"),
        click.option("--tz", help="time zone of quiet hours and digests"),
        click.option("--updates/--no-updates", default=None, help="deliver cluster updates"),
        click.option("--contact", help="email told when the endpoint gets disabled"),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _spec_from(o: dict[str, Any], partial: bool) -> dict[str, Any]:
    data = _load_json(o.pop("json_file", None))
    if o.get("name"):
        data["name"] = o["name"]
    ch = o.get("channel")
    if ch or o.get("url") or o.get("to") or o.get("chat_url"):
        ch = ch or (
            "webhook" if o.get("url") else "email" if o.get("to") else "chat" if o.get("chat_url") else None
        )
        target: dict[str, Any] = {"type": ch}
        if ch == "webhook":
            target["url"] = o.get("url")
        elif ch == "email":
            target["to"] = list(o.get("to") or ())
        elif ch == "chat":
            target["urls"] = list(o.get("chat_url") or ())
        data["channel"] = target
    flt = {
        k: list(o[src])
        for k, src in (("rules", "rule"), ("tags", "tag"), ("languages", "lang"), ("sources", "source"))
        if o.get(src)
    }
    if o.get("min_severity"):
        flt["min_severity"] = o["min_severity"]
    if flt:
        data["filter"] = {**data.get("filter", {}), **flt}
    grp = {k: o[k] for k in ("group_wait", "group_interval", "repeat_interval") if o.get(k) is not None}
    if o.get("group_by"):
        grp["group_by"] = list(o["group_by"])
    if grp:
        data["grouping"] = {**data.get("grouping", {}), **grp}
    if o.get("digest") or o.get("immediate_from"):
        data["digest"] = {
            **data.get("digest", {}),
            **({"mode": o["digest"]} if o.get("digest") else {}),
            **({"immediate_from": o["immediate_from"]} if o.get("immediate_from") else {}),
        }
    if o.get("quiet"):
        start, _, end = o["quiet"].partition("-")
        data["quiet_hours"] = {"start": start, "end": end, "tz": o.get("tz") or "UTC"}
    if o.get("updates") is not None:
        data["updates"] = o["updates"]
    if o.get("contact"):
        data["contact"] = o["contact"]
    from monitor.alerting.model import SubscriptionPatch, SubscriptionSpec

    return _check(SubscriptionPatch if partial else SubscriptionSpec, data)


def _show_secret(data: dict[str, Any]) -> None:
    if data.get("secret"):
        click.echo(f"webhook signing secret (shown once, store it now): {data['secret']}", err=True)


@subscriptions.command("create")
@_sub_options
@click.pass_context
def create(ctx: click.Context, **o: Any) -> None:
    """Create a subscription, e.g. --name ops --url https://hooks.example/x --min-severity high."""
    data = _run(ctx, "POST", "subscriptions", _spec_from(o, partial=False))
    _print(data["subscription"])
    _show_secret(data)


@subscriptions.command("list")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx: click.Context, as_json: bool) -> None:
    """List subscriptions."""
    subs = _all_pages(ctx, "subscriptions")
    if as_json:
        _print(subs)
        return
    for s in subs:
        state = "enabled" if s["enabled"] else f"disabled ({s.get('disabled_reason') or 'by hand'})"
        click.echo(f"{cell(s['id'])}  {s['channel']['type']:<8} {cell(state):<10} {cell(s['name'])}")


@subscriptions.command("show")
@click.argument("sub_id")
@click.pass_context
def show(ctx: click.Context, sub_id: str) -> None:
    """Show one subscription (secrets masked)."""
    _print(_run(ctx, "GET", f"subscriptions/{sub_id}")["subscription"])


@subscriptions.command("update")
@click.argument("sub_id")
@_sub_options
@click.option("--enable/--disable", "enabled", default=None)
@click.pass_context
def update(ctx: click.Context, sub_id: str, enabled: bool | None, **o: Any) -> None:
    """Change some fields of a subscription."""
    body = _spec_from(o, partial=True)
    if enabled is not None:
        body["enabled"] = enabled
    data = _run(ctx, "PATCH", f"subscriptions/{sub_id}", body)
    _print(data["subscription"])
    _show_secret(data)


@subscriptions.command("delete")
@click.argument("sub_id")
@click.pass_context
def delete(ctx: click.Context, sub_id: str) -> None:
    """Delete a subscription."""
    _run(ctx, "DELETE", f"subscriptions/{sub_id}")
    click.echo(f"deleted {sub_id}")


@subscriptions.command("rotate-secret")
@click.argument("sub_id")
@click.pass_context
def rotate_secret(ctx: click.Context, sub_id: str) -> None:
    """New webhook signing secret; the previous one stays valid until the next rotation."""
    _show_secret(_run(ctx, "POST", f"subscriptions/{sub_id}/rotate-secret"))


@subscriptions.command("test-send")
@click.argument("sub_id")
@click.pass_context
def test_send(ctx: click.Context, sub_id: str) -> None:
    """Queue a sample alert to one subscription (the running alerter delivers it)."""
    data = _run(ctx, "POST", f"subscriptions/{sub_id}/test")
    click.echo(f"queued test delivery {data['delivery_id']} ({data['result']})")


@subscriptions.command("reencrypt")
@click.pass_context
def reencrypt(ctx: click.Context) -> None:
    """Rewrite every stored secret with the newest MONITOR_SECRET_KEY key (key rotation).

    Set MONITOR_SECRET_KEY=NEW,OLD, run this, then drop OLD. Works on Redis directly (not --api).
    """
    if (ctx.obj or {}).get("api"):
        raise click.ClickException("reencrypt works on Redis directly: drop --api, set MONITOR_REDIS_URL")
    backend = Backend()

    async def go() -> int:
        try:
            return await backend.admin.store.reencrypt()
        finally:
            await backend.close()

    click.echo(f"re-encrypted {asyncio.run(go())} subscription(s)")


# --- silences -----------------------------------------------------------------------------------
@click.group()
@_api_options
@click.pass_context
def silences(ctx: click.Context, api: str | None, token: str | None) -> None:
    """Manage silences: matching alerts are recorded, not delivered."""
    ctx.obj = {"api": api, "token": token}


def _sil_options(f: Callable[..., T]) -> Callable[..., T]:
    for o in reversed(
        [
            click.option("--rule", multiple=True),
            click.option("--tag", multiple=True),
            click.option("--source", multiple=True),
            click.option("--starts", help="ISO 8601 or a duration from now (default now)"),
            click.option("--ends", help="ISO 8601 or a duration from now, e.g. 2h"),
            click.option("--comment"),
            click.option("--by", "created_by", help="who (free text)"),
        ]
    ):
        f = o(f)
    return f


def _silence_body(o: dict[str, Any], partial: bool) -> dict[str, Any]:
    from monitor.alerting.model import SilencePatch, SilenceSpec

    body: dict[str, Any] = {k: list(o[k[:-1]]) for k in ("rules", "tags", "sources") if o.get(k[:-1])}
    for key, opt in (("starts_at", "starts"), ("ends_at", "ends")):
        if o.get(opt):
            body[key] = _when(o[opt])
    if o.get("comment") is not None:
        body["comment"] = o["comment"]
    if o.get("created_by") and not partial:
        body["created_by"] = o["created_by"]
    return _check(SilencePatch if partial else SilenceSpec, body)


@silences.command("create")
@_sil_options
@click.pass_context
def sil_create(ctx: click.Context, **o: Any) -> None:
    """Create a silence, e.g. --rule ceasefire.talks --ends 2h --comment 'known story'."""
    _print(_run(ctx, "POST", "silences", _silence_body(o, partial=False))["silence"])


@silences.command("list")
@click.pass_context
def sil_list(ctx: click.Context) -> None:
    """List silences."""
    for s in _all_pages(ctx, "silences"):
        what = " ".join(f"{k}={','.join(s[k])}" for k in ("rules", "tags", "sources") if s[k])
        click.echo(f"{cell(s['id'])}  {s['starts_at']} → {s['ends_at']}  {cell(what)}  {cell(s['comment'])}")


@silences.command("show")
@click.argument("sil_id")
@click.pass_context
def sil_show(ctx: click.Context, sil_id: str) -> None:
    """Show one silence."""
    _print(_run(ctx, "GET", f"silences/{sil_id}")["silence"])


@silences.command("update")
@click.argument("sil_id")
@_sil_options
@click.pass_context
def sil_update(ctx: click.Context, sil_id: str, **o: Any) -> None:
    """Change a silence (e.g. --ends 30m to end it sooner)."""
    _print(_run(ctx, "PATCH", f"silences/{sil_id}", _silence_body(o, partial=True))["silence"])


@silences.command("delete")
@click.argument("sil_id")
@click.pass_context
def sil_delete(ctx: click.Context, sil_id: str) -> None:
    """Delete a silence."""
    _run(ctx, "DELETE", f"silences/{sil_id}")
    click.echo(f"deleted {sil_id}")
