"""Chat channel: Slack, Telegram, Microsoft Teams, Discord and the rest through ``apprise`` URLs.

The message is a short plain-text rendering (``render.text_summary``). apprise reports only success or
failure, so a failure is retried on the normal schedule; an URL apprise does not understand is a
permanent error (fix the subscription). apprise is imported on first use (it is slow to import).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from monitor.alerting.channels.base import Channel, DeliveryError
from monitor.alerting.model import ChatTarget
from monitor.alerting.render import subject, text_summary

if TYPE_CHECKING:
    from monitor.alerting.model import Delivery, Subscription


class ChatChannel(Channel):
    name = "chat"

    async def send(self, delivery: Delivery, subscription: Subscription) -> None:
        import apprise

        target = subscription.channel
        if not isinstance(target, ChatTarget):
            raise DeliveryError("not a chat subscription", retryable=False)
        ap = apprise.Apprise()
        for url in target.urls:
            if not ap.add(url.get_secret_value()):
                raise DeliveryError("chat: apprise does not accept one of the URLs", retryable=False)
        ok = await ap.async_notify(body=text_summary(delivery), title=subject(delivery, limit=250))
        if not ok:
            raise DeliveryError("chat: apprise reported a failed notification")
