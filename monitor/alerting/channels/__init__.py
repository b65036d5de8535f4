"""The channel registry: channel name -> class. The one place a channel is registered.

Each channel lives in its own module beside this one and implements ``base.Channel``. The target
(configuration) models are in ``monitor.alerting.model`` (``RedisTarget``, ``WebhookTarget``, …).
"""

from __future__ import annotations

from monitor.alerting.channels.base import Channel, DeliveryError
from monitor.alerting.channels.chat import ChatChannel
from monitor.alerting.channels.email import EmailChannel
from monitor.alerting.channels.redis_stream import RedisStreamChannel
from monitor.alerting.channels.webhook import WebhookChannel

CHANNELS: dict[str, type[Channel]] = {
    "redis": RedisStreamChannel,
    "webhook": WebhookChannel,
    "email": EmailChannel,
    "chat": ChatChannel,
}

__all__ = ["CHANNELS", "Channel", "DeliveryError"]
