"""Chat channel: Slack, Telegram, Microsoft Teams, Discord and the rest through ``apprise`` URLs.

The message is a short plain-text rendering (``render.text_summary``). Each URL must pass
``chatguard.check_chat_url`` (allowed service, no method/timeout/TLS options, the address guard for a
host the URL names) before every send, and every request apprise makes runs inside
``chatguard.guarded`` (address guard on every connection, no redirects, our timeouts, a response-size
limit, a deadline). Each send runs in a thread of its own — not apprise's shared pool — so one stalled
endpoint never holds up another subscription's chat messages; the dispatcher's per-endpoint queues
bound how many such threads one endpoint can have (``delivery_endpoint_concurrency``).

apprise reports only success or failure, so a failure is retried on the normal schedule; an URL that
apprise does not understand or the guard refuses is a permanent error (fix the subscription). apprise
is imported on first use (it is slow to import).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from typing import TYPE_CHECKING

from monitor.alerting.channels.base import Channel, DeliveryError
from monitor.alerting.channels.chatguard import check_chat_url, guarded
from monitor.alerting.channels.ssrf import UnsafeURL
from monitor.alerting.model import ChatTarget
from monitor.alerting.render import subject, text_summary

if TYPE_CHECKING:
    from collections.abc import Callable

    from monitor.alerting.model import Delivery, Subscription


async def in_own_thread(fn: Callable[[], bool], name: str) -> bool:
    """Run ``fn`` in a new daemon thread (never a shared pool) and await its result."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[bool] = loop.create_future()

    def settle(ok: bool | None, exc: BaseException | None) -> None:
        if fut.done():
            return
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(bool(ok))

    def run() -> None:
        result: tuple[bool | None, BaseException | None]
        try:
            result = (fn(), None)
        except BaseException as exc:  # handed to the awaiting task
            result = (None, exc)
        with contextlib.suppress(RuntimeError):  # the loop is gone (shutdown): nobody waits any more
            loop.call_soon_threadsafe(settle, *result)

    threading.Thread(target=run, name=name, daemon=True).start()
    return await fut


class ChatChannel(Channel):
    name = "chat"

    async def send(self, delivery: Delivery, subscription: Subscription) -> None:
        target = subscription.channel
        if not isinstance(target, ChatTarget):
            raise DeliveryError("not a chat subscription", retryable=False)
        try:
            plugins = [check_chat_url(u.get_secret_value(), self.settings) for u in target.urls]
        except UnsafeURL as exc:
            raise DeliveryError(f"chat: {exc}", retryable=False) from exc
        body, title = text_summary(delivery), subject(delivery, limit=250)

        def notify_all() -> bool:
            ok = True
            with guarded(self.settings):
                for plugin in plugins:
                    plugin.request_rate_per_sec = 0  # pacing is the dispatcher's business
                    ok = bool(plugin.notify(body=body, title=title)) and ok
            return ok

        grace = self.settings.chat_timeout + 5.0
        try:
            ok = await asyncio.wait_for(in_own_thread(notify_all, f"chat-{subscription.id}"), grace)
        except TimeoutError as exc:
            raise DeliveryError("chat: timed out") from exc
        if not ok:
            raise DeliveryError("chat: the chat service refused or did not answer in time")
