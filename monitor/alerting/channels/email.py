"""Email channel: one message per delivery (digests and groups list their alerts by rule) over SMTP.

aiosmtplib with ``Settings.smtp_tls`` (none, starttls, tls) and optional auth. A text part (feed strings
in bidi isolates) and an HTML part (escaped, ``dir``/``<bdi>`` for Arabic), see ``render``.
``Message-ID`` is ``<delivery id@sender domain>``, stable across retries so clients thread/dedup.

Header injection (CVE-2024-6923 is unfixed in this Python 3.11.7: an encoded word in a header can smuggle
``Bcc:``): every header value built from feed text goes through ``render.clean_header`` (controls,
U+2028/2029 and ``=?``/``?=`` removed, length capped); then the serialised message is parsed again
and must carry exactly the headers we set, else the delivery fails for good (``HeaderInjection``).
The bytes that passed the check are the bytes sent.

Errors: SMTP 4xx (and network errors, timeouts) are retried; 5xx are not.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP, default
from email.utils import formatdate
from typing import TYPE_CHECKING

import aiosmtplib

from monitor.alerting.channels.base import Channel, DeliveryError
from monitor.alerting.model import EmailTarget
from monitor.alerting.render import clean_header, html_body, subject, text_summary

if TYPE_CHECKING:
    from monitor.alerting.model import Delivery, Subscription
    from monitor.settings import Settings


class HeaderInjection(DeliveryError):
    def __init__(self, message: str) -> None:
        super().__init__(message, retryable=False)


def _domain(sender: str) -> str:
    return clean_header(sender.rpartition("@")[2].strip(">"), 200) or "monitor.invalid"


def serialise_checked(msg: EmailMessage) -> bytes:
    """The message as bytes, after checking a re-parse yields exactly the headers that were set."""
    expected = sorted(k.lower() for k in msg)
    raw = msg.as_bytes(policy=SMTP)
    parsed = BytesParser(policy=default).parsebytes(raw)
    got = sorted(k.lower() for k in parsed)
    if got != expected:
        raise HeaderInjection(
            f"email: header set changed after serialising ({sorted(set(got) - set(expected))})"
        )
    if str(parsed["Subject"] or "") != str(msg["Subject"] or ""):
        raise HeaderInjection("email: subject changed after serialising")
    return raw


def build_message(
    settings: Settings,
    delivery: Delivery,
    to: tuple[str, ...],
    subject_line: str | None = None,
    text: str | None = None,
    html: str | None = None,
) -> EmailMessage:
    msg = EmailMessage(policy=default)
    msg["From"] = settings.smtp_from
    msg["To"] = ", ".join(to)
    msg["Subject"] = clean_header(subject_line if subject_line is not None else subject(delivery))
    msg["Message-ID"] = f"<{delivery.id}@{_domain(settings.smtp_from)}>"
    msg["Date"] = formatdate(usegmt=True)
    msg["Auto-Submitted"] = "auto-generated"
    msg["X-Monitor-Delivery"] = delivery.id
    msg.set_content(text if text is not None else text_summary(delivery), subtype="plain", charset="utf-8")
    msg.add_alternative(html if html is not None else html_body(delivery), subtype="html", charset="utf-8")
    return msg


async def smtp_send(settings: Settings, raw: bytes, to: tuple[str, ...]) -> None:
    """Send bytes; raise ``DeliveryError`` (4xx/network retryable, 5xx not)."""
    tls = settings.smtp_tls
    try:
        await aiosmtplib.send(
            raw,
            sender=settings.smtp_from,
            recipients=list(to),
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_user,
            password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
            use_tls=tls == "tls",
            start_tls=tls == "starttls",
            timeout=settings.smtp_timeout,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [e.code for e in exc.recipients]
        retry = bool(codes) and all(400 <= c < 500 for c in codes)
        raise DeliveryError(f"email: recipients refused {codes}", retryable=retry) from exc
    except aiosmtplib.SMTPResponseException as exc:
        raise DeliveryError(
            f"email: SMTP {exc.code} {exc.message[:200]}", retryable=400 <= exc.code < 500
        ) from exc
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise DeliveryError(f"email: {type(exc).__name__}: {str(exc)[:200]}") from exc


class EmailChannel(Channel):
    name = "email"

    async def send(self, delivery: Delivery, subscription: Subscription) -> None:
        target = subscription.channel
        if not isinstance(target, EmailTarget):
            raise DeliveryError("not an email subscription", retryable=False)
        raw = serialise_checked(build_message(self.settings, delivery, target.to))
        await smtp_send(self.settings, raw, target.to)


async def send_notice(settings: Settings, sub: Subscription, reason: str) -> None:
    """Tell a subscription's contact that it was disabled (best effort, one attempt)."""
    from monitor.alerting.model import Delivery
    from monitor.models import stable_id

    assert sub.contact
    d = Delivery(id=stable_id("notice", sub.id, reason), subscription=sub.id, channel="email", kind="notice")
    text = (
        f"Your monitor subscription {sub.id} ({sub.name}) was disabled after delivery failures.\n"
        f"Reason: {reason}\nRe-enable it (and replay missed alerts) once the endpoint works again.\n"
    )
    msg = build_message(
        settings,
        d,
        (sub.contact,),
        subject_line=f"[monitor] subscription {sub.name} disabled",
        text=text,
        html=f"<pre>{__import__('html').escape(text)}</pre>",
    )
    await smtp_send(settings, serialise_checked(msg), (sub.contact,))
