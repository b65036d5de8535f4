"""Email through a real local SMTP server (aiosmtpd): Arabic round trip, header injection, retry semantics."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

import pytest
from aiosmtpd.controller import Controller

from monitor.alerting import keys
from monitor.alerting.channels.base import DeliveryError
from monitor.alerting.channels.email import EmailChannel, HeaderInjection, serialise_checked
from monitor.alerting.model import Delivery, Digest, EmailTarget, Subscription, SubscriptionSpec
from monitor.alerting.render import FSI, PDI, clean_header
from monitor.alerting.service import AlertService
from monitor.embedded import free_port

from .helpers import make_alert, wait_for
from .test_service import running

EXPECTED_HEADERS = {
    "from",
    "to",
    "subject",
    "message-id",
    "date",
    "auto-submitted",
    "x-monitor-delivery",
    "content-type",
    "mime-version",
}

INJECTIONS = [
    "Hello\r\nBcc: victim@evil.example",
    "Hello\nBcc: victim@evil.example",
    "=?utf-8?q?hi=0D=0ABcc:_victim@evil.example?=",
    "=?UTF-8?B?SGkNCkJjYzogdmljdGltQGV2aWwuZXhhbXBsZQ==?=",
    "Hi\u2028Bcc: victim@evil.example",
    "Hi\u2029X-Evil: 1",
    "Hi\x85Bcc: victim@evil.example",
    "Hi\x00\x0bBcc: victim@evil.example",
    "=?=?utf-8?q??=?=Bcc: x@evil.example",
    "A" * 5000 + "\r\nBcc: victim@evil.example",
]


class Handler:
    def __init__(self) -> None:
        self.messages: list[tuple[list[str], bytes]] = []
        self.replies: list[str] = []

    async def handle_DATA(self, server, session, envelope):
        if self.replies:
            return self.replies.pop(0)
        self.messages.append((list(envelope.rcpt_tos), envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Handler, int]]:
    handler = Handler()
    port = free_port()
    ctl = Controller(handler, hostname="127.0.0.1", port=port)
    ctl.start()
    yield handler, port
    ctl.stop()


@pytest.fixture
def mail_settings(settings, smtp):
    return settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp[1],
            "smtp_tls": "none",
            "smtp_from": "alerts@monitor.example",
        }
    )


def _sub(to=("ops@example.com",), **kw) -> Subscription:
    return Subscription(id="mail1", name="mail", channel=EmailTarget(to=to), **kw)


def _parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=default)  # type: ignore[return-value]


async def test_arabic_subject_and_body_round_trip(mail_settings, redis, smtp):
    handler, _ = smtp
    title = "غارة على قاعدة التنف: مقتل ٣ جنود"
    alert = make_alert(1, title=title, lang="ar", source="الجزيرة")
    d = Delivery(id="d" * 24, subscription="mail1", channel="email", alerts=(alert,))
    await EmailChannel(mail_settings, redis).send(d, _sub())
    ((rcpts, raw),) = handler.messages
    msg = _parse(raw)
    assert rcpts == ["ops@example.com"]
    assert title in str(msg["Subject"])
    assert msg["Message-ID"] == f"<{'d' * 24}@monitor.example>"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert f"{FSI}{title}{PDI}" in text
    assert title in html and 'dir="rtl"' in html and "<bdi" in html
    assert {k.lower() for k in msg} == EXPECTED_HEADERS


@pytest.mark.parametrize("title", INJECTIONS)
async def test_injection_in_feed_title_adds_no_header(mail_settings, redis, smtp, title):
    handler, _ = smtp
    alert = make_alert(1, title=title, source="evil\r\nX-Source: 1")
    d = Delivery(id="e" * 24, subscription="mail1", channel="email", alerts=(alert,))
    await EmailChannel(mail_settings, redis).send(d, _sub())
    ((rcpts, raw),) = handler.messages
    msg = _parse(raw)
    assert rcpts == ["ops@example.com"]
    assert {k.lower() for k in msg} == EXPECTED_HEADERS
    assert "victim" not in (msg["Bcc"] or "")
    assert len(str(msg["Subject"])) <= 200


def test_html_escapes_feed_strings() -> None:
    from monitor.alerting.render import html_body

    a = make_alert(1, title="<script>alert(1)</script><img src=x onerror=y>", source="<b>src</b>")
    out = html_body(Delivery(id="x", subscription="s", channel="email", alerts=(a,)))
    assert "<script>" not in out and "&lt;script&gt;" in out and "<img" not in out and "<b>src" not in out


def test_serialise_check_catches_an_added_header() -> None:
    msg = EmailMessage()
    msg["Subject"] = "ok"
    msg.set_content("x")
    serialise_checked(msg)
    assert clean_header("a\r\nb=?x?=c\u2028d") == "a b x c d"

    class Sneaky(EmailMessage):
        def as_bytes(self, *a, **k):  # what CVE-2024-6923 does: a header appears on serialising
            return b"Bcc: victim@evil.example\r\n" + super().as_bytes(*a, **k)

    bad = Sneaky()
    bad["Subject"] = "ok"
    bad.set_content("x")
    with pytest.raises(HeaderInjection):
        serialise_checked(bad)


async def test_4xx_is_retried_5xx_is_not(mail_settings, redis, smtp):
    handler, _ = smtp
    ch = EmailChannel(mail_settings, redis)
    d = Delivery(id="f" * 24, subscription="mail1", channel="email", alerts=(make_alert(1),))
    handler.replies = ["451 4.3.0 try later"]
    with pytest.raises(DeliveryError) as e4:
        await ch.send(d, _sub())
    assert e4.value.retryable
    handler.replies = ["554 5.7.1 rejected"]
    with pytest.raises(DeliveryError) as e5:
        await ch.send(d, _sub())
    assert not e5.value.retryable


async def test_unreachable_server_is_retryable(settings, redis):
    s = settings.model_copy(update={"smtp_host": "127.0.0.1", "smtp_port": free_port()})
    with pytest.raises(DeliveryError) as e:
        await EmailChannel(s, redis).send(
            Delivery(id="g" * 24, subscription="m", channel="email", alerts=(make_alert(1),)), _sub()
        )
    assert e.value.retryable


async def test_digest_groups_by_rule_through_the_service(mail_settings, redis, metrics, smtp):
    handler, _ = smtp
    svc = AlertService(mail_settings, redis, metrics=metrics)
    await svc.store.create(
        SubscriptionSpec(
            name="digest", channel=EmailTarget(to=("ops@example.com",)), digest=Digest(mode="hourly")
        )
    )
    alerts = [make_alert(i, rule="r1" if i % 2 else "r2") for i in range(6)]
    await svc.handle(alerts)
    # the digest is due at the end of the hour: bring it forward (what the clock would do)
    members = await redis.zrange(keys.SCHED, 0, -1)
    assert len(members) == 1
    await redis.zadd(keys.SCHED, {members[0]: 0})
    async with running(svc):
        await wait_for(lambda: len(handler.messages) == 1)
        await asyncio.sleep(0.2)
    msg = _parse(handler.messages[0][1])
    text = msg.get_body(("plain",)).get_content()
    assert text.count("== ") == 2 and "(3)" in text
    assert "6 digest" in str(msg["Subject"])


async def test_disabled_endpoint_tells_its_contact(mail_settings, redis, metrics, smtp, receiver):
    from monitor.alerting.model import WebhookTarget

    handler, _ = smtp
    svc = AlertService(mail_settings, redis, metrics=metrics)
    sub, secret = await svc.store.create(
        SubscriptionSpec(name="gone", channel=WebhookTarget(url=receiver.url), contact="owner@example.com")
    )
    receiver.secrets.append(secret)
    receiver.statuses = [(410, {})]
    async with running(svc):
        await svc.handle([make_alert(1)])
        await wait_for(lambda: len(handler.messages) == 1)
    ((rcpts, raw),) = handler.messages
    msg = _parse(raw)
    assert rcpts == ["owner@example.com"] and "disabled" in str(msg["Subject"])
    assert sub.id in msg.get_body(("plain",)).get_content()
