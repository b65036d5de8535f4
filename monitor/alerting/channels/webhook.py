"""Webhook channel: POST the delivery JSON, signed the Standard Webhooks way.

Headers: ``webhook-id`` (the deterministic delivery id, so receivers dedup), ``webhook-timestamp`` (unix
seconds), ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of "id.timestamp.body">``, one per active
secret, space-separated, so a receiver holding either secret verifies during a rotation).

Limits: connect 5 s, total 15 s, at most 64 KB of the response read, no redirects followed, the SSRF guard
on the URL before every request and on every resolved address (``ssrf.GuardedResolver``).

Status semantics (reported as ``DeliveryError``; the dispatcher schedules): 2xx delivered; 410 disable
the subscription; 429/502/503/504 back off, honouring ``Retry-After``; 3xx a failure, not retried;
other 4xx/5xx and network errors retried.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from base64 import b64decode, b64encode
from collections.abc import Sequence
from typing import TYPE_CHECKING

import aiohttp

from monitor.alerting.channels.base import Channel, DeliveryError
from monitor.alerting.channels.ssrf import GuardedResolver, UnsafeURL, check_url
from monitor.alerting.model import WebhookTarget
from monitor.httputil import parse_retry_after

if TYPE_CHECKING:
    from monitor.alerting.model import Delivery, Subscription

BACKOFF_STATUSES = frozenset({429, 502, 503, 504})
MAX_RESPONSE = 64 * 1024


def _key(secret: str) -> bytes:
    return b64decode(secret.removeprefix("whsec_"))


def signature_headers(msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]) -> dict[str, str]:
    signed = f"{msg_id}.{timestamp}.".encode() + body
    sigs = ["v1," + b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode() for s in secrets]
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp), "webhook-signature": " ".join(sigs)}


def classify(status: int, retry_after: float | None = None) -> DeliveryError | None:
    """None when delivered; otherwise the error that tells the dispatcher what to do."""
    if 200 <= status < 300:
        return None
    if status == 410:
        return DeliveryError("webhook: 410 Gone, endpoint disabled", retryable=False, disable=True)
    if status in BACKOFF_STATUSES:
        return DeliveryError(f"webhook: HTTP {status}, backing off", retry_after=retry_after)
    if 300 <= status < 400:
        return DeliveryError(f"webhook: HTTP {status} redirect (not followed)", retryable=False)
    return DeliveryError(f"webhook: HTTP {status}")


class WebhookChannel(Channel):
    name = "webhook"

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._session: aiohttp.ClientSession | None = None

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            s = self.settings
            connector = aiohttp.TCPConnector(
                resolver=GuardedResolver(s.webhook_allow),
                limit=max(100, s.delivery_concurrency * 8),
                ttl_dns_cache=60,
            )
            timeout = aiohttp.ClientTimeout(
                total=s.webhook_timeout,
                connect=s.webhook_connect_timeout,
                sock_connect=s.webhook_connect_timeout,
            )
            self._session = aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False)
        return self._session

    async def send(self, delivery: Delivery, subscription: Subscription) -> None:
        target = subscription.channel
        if not isinstance(target, WebhookTarget):
            raise DeliveryError("not a webhook subscription", retryable=False)
        try:
            check_url(target.url, self.settings.webhook_allow)
        except UnsafeURL as exc:
            raise DeliveryError(f"webhook: {exc}", retryable=False) from exc
        body = delivery.wire()
        headers = signature_headers(
            delivery.id, int(time.time()), body, [s.get_secret_value() for s in target.secrets]
        )
        headers["content-type"] = "application/json"
        headers["user-agent"] = "monitor-webhooks/1"
        try:
            async with self.session().post(
                target.url, data=body, headers=headers, allow_redirects=False
            ) as r:
                await r.content.read(MAX_RESPONSE)
                status, retry_after = r.status, parse_retry_after(r.headers.get("Retry-After"))
        except TimeoutError as exc:
            raise DeliveryError("webhook: timed out") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise DeliveryError(f"webhook: {type(exc).__name__}: {str(exc)[:200]}") from exc
        err = classify(status, retry_after)
        if err is not None:
            raise err

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
