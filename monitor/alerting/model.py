"""Subscriptions, silences and deliveries: the alerting shapes stored in Redis and served by the API.

All models are frozen and forbid unknown fields. A ``Subscription`` says which alerts (``Filter``) go to
which one channel (``RedisTarget``, ``WebhookTarget``, ``EmailTarget``, ``ChatTarget``, told apart by
``type``) and how (``Grouping``, ``Digest``, ``QuietHours``, ``updates``). A ``Silence`` stops matching
alerts from being delivered (they are recorded). A ``Delivery`` is one message to one subscription: one
alert, or a group/digest of several; its id is deterministic (see ``delivery_id``) and doubles as the
webhook ``webhook-id``, the email ``Message-ID`` and the Redis stream ``id`` field.

Secrets (webhook signing secrets, chat URLs) are ``SecretStr``: masked whenever a model is dumped, except
with ``context={"reveal": True}``, which only the store (and the create/rotate responses) use.
"""

from __future__ import annotations

import re
import secrets
from base64 import b64encode
from datetime import datetime, time
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    SerializationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from monitor.models import Alert, Severity, stable_id, utcnow

ChannelName = Literal["redis", "webhook", "email", "chat"]
GroupField = Literal["rule", "source", "lang", "event_id", "severity", "tags"]
_ID = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
_EMAIL = re.compile(r"[^@\s<>\",;:\x00-\x1f\x7f]{1,64}@[A-Za-z0-9.-]{1,253}")  # fullmatch: no trailing \n


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


def _reveal(value: SecretStr | None, info: SerializationInfo) -> str | None:
    if value is None:
        return None
    ctx = info.context or {}
    return value.get_secret_value() if ctx.get("reveal") else "**********"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` + base64 of 32 random bytes (spec: 24..64)."""
    return "whsec_" + b64encode(secrets.token_bytes(32)).decode()


# --- filters and options ------------------------------------------------------------------------
class Filter(Frozen):
    """Which alerts a subscription wants. Empty lists match everything; fields are ANDed."""

    rules: tuple[str, ...] = ()
    tags: tuple[str, ...] = Field(default=(), description="any of these tags")
    min_severity: Severity | None = None
    languages: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()


class Grouping(Frozen):
    """Alertmanager-style grouping. All zero (the default) = every alert is sent on its own at once.

    ``group_by`` fields form the group key; a new group is sent ``group_wait`` seconds after its first
    alert; later alerts of a group that was sent are sent together at most every ``group_interval``
    seconds; a group idle for ``repeat_interval`` seconds is forgotten (its next alert starts a new group).
    """

    group_by: tuple[GroupField, ...] = ()
    group_wait: float = Field(default=0.0, ge=0, le=86400)
    group_interval: float = Field(default=0.0, ge=0, le=86400)
    repeat_interval: float = Field(default=4 * 3600.0, ge=0, le=30 * 86400)

    @property
    def active(self) -> bool:
        return bool(self.group_by) or self.group_wait > 0 or self.group_interval > 0


class Digest(Frozen):
    """Immediate delivery, or an hourly/daily digest; alerts at ``immediate_from`` or above skip it."""

    mode: Literal["immediate", "hourly", "daily"] = "immediate"
    immediate_from: Severity | None = "critical"


class QuietHours(Frozen):
    """A daily window (in ``tz``) during which deliveries wait for its end, unless severe enough."""

    start: time
    end: time
    tz: str = "UTC"
    override_from: Severity | None = "critical"

    @field_validator("tz")
    @classmethod
    def _tz(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {v!r}") from exc
        return v


# --- channel targets ----------------------------------------------------------------------------
class RedisTarget(Frozen):
    """XADD to the subscription's own stream ``monitor:{sub:<id>}:stream`` (+ a PUBLISH notice)."""

    type: Literal["redis"] = "redis"
    retention_hours: float = Field(default=7 * 24.0, gt=0, description="entries older are trimmed")


class WebhookTarget(Frozen):
    """POST signed JSON to ``url``. ``secrets``: newest first, at most two active (rotation)."""

    type: Literal["webhook"] = "webhook"
    url: Annotated[str, Field(min_length=8, max_length=2048)]
    secrets: tuple[SecretStr, ...] = Field(default=(), max_length=2)

    @field_serializer("secrets")
    def _ser(self, v: tuple[SecretStr, ...], info: SerializationInfo) -> list[str | None]:
        return [_reveal(s, info) for s in v]

    @field_validator("url")
    @classmethod
    def _scheme(cls, v: str) -> str:
        if not v.lower().startswith(("http://", "https://")):
            raise ValueError("webhook url must be http(s)")
        return v


class EmailTarget(Frozen):
    type: Literal["email"] = "email"
    to: tuple[str, ...] = Field(min_length=1, max_length=20)

    @field_validator("to")
    @classmethod
    def _addr(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for a in v:
            if not _EMAIL.fullmatch(a):
                raise ValueError(f"not a plain email address: {a!r}")
        return v


class ChatTarget(Frozen):
    """apprise URLs (``slack://…``, ``tgram://…``, ``msteams://…``, ``discord://…``)."""

    type: Literal["chat"] = "chat"
    urls: tuple[SecretStr, ...] = Field(min_length=1, max_length=10)

    @field_serializer("urls")
    def _ser(self, v: tuple[SecretStr, ...], info: SerializationInfo) -> list[str | None]:
        return [_reveal(s, info) for s in v]


Target = Annotated[RedisTarget | WebhookTarget | EmailTarget | ChatTarget, Field(discriminator="type")]


# --- subscriptions and silences -----------------------------------------------------------------
class SubscriptionSpec(Frozen):
    """What a client sends to create (or fully describe) a subscription."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    filter: Filter = Filter()
    channel: Target
    grouping: Grouping = Grouping()
    digest: Digest = Digest()
    quiet_hours: QuietHours | None = None
    updates: bool = Field(default=True, description="deliver cluster updates (Alert.kind == 'update')")
    enabled: bool = True
    contact: str | None = Field(default=None, description="email told when the endpoint is disabled")

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        if v is not None and not _EMAIL.fullmatch(v):
            raise ValueError("contact must be a plain email address")
        return v


class SubscriptionPatch(Frozen):
    """A partial update: only the fields given change. ``channel`` replaces the whole target."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    filter: Filter | None = None
    channel: Target | None = None
    grouping: Grouping | None = None
    digest: Digest | None = None
    quiet_hours: QuietHours | None = None
    updates: bool | None = None
    enabled: bool | None = None
    contact: str | None = None


class Subscription(SubscriptionSpec):
    id: _ID
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    disabled_reason: str = ""

    @property
    def channel_name(self) -> ChannelName:
        return self.channel.type

    def storage_json(self) -> bytes:
        return self.model_dump_json(context={"reveal": True}).encode()

    def patched(self, patch: SubscriptionPatch) -> Subscription:
        data = self.model_dump(context={"reveal": True}, exclude_unset=False)
        full = patch.model_dump(context={"reveal": True})
        for k in patch.model_fields_set:
            data[k] = full[k]
        if patch.enabled:
            data["disabled_reason"] = ""
        data["updated_at"] = utcnow()
        return Subscription.model_validate(data)


class Silence(Frozen):
    """Alerts matching every non-empty matcher between ``starts_at`` and ``ends_at`` are not delivered."""

    id: _ID
    rules: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    starts_at: datetime = Field(default_factory=utcnow)
    ends_at: datetime
    comment: Annotated[str, Field(max_length=1000)] = ""
    created_by: Annotated[str, Field(max_length=200)] = ""

    @model_validator(mode="after")
    def _check(self) -> Silence:
        if not (self.rules or self.tags or self.sources):
            raise ValueError("a silence needs at least one of rules, tags, sources")
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self

    def active(self, now: datetime) -> bool:
        return self.starts_at <= now < self.ends_at

    def matches(self, alert: Alert) -> bool:
        if self.rules and alert.rule not in self.rules:
            return False
        if self.tags and not set(self.tags) & set(alert.tags):
            return False
        sources = set(alert.sources) | ({alert.article.source} if alert.article.source else set())
        return not (self.sources and not set(self.sources) & sources)


class SilenceSpec(Frozen):
    rules: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    starts_at: datetime | None = None
    ends_at: datetime
    comment: Annotated[str, Field(max_length=1000)] = ""
    created_by: Annotated[str, Field(max_length=200)] = ""


class SilencePatch(Frozen):
    rules: tuple[str, ...] | None = None
    tags: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    comment: Annotated[str, Field(max_length=1000)] | None = None


# --- deliveries ---------------------------------------------------------------------------------
def delivery_id(subscription_id: str, alert: Alert, channel: str) -> str:
    """hash(subscription, canonical article id, rule id + version, channel); updates add the alert id."""
    extra = alert.id if alert.kind == "update" else ""
    return stable_id(
        "delivery", subscription_id, alert.article.id, f"{alert.rule}@{alert.rule_version}", channel, extra
    )


class Delivery(Frozen):
    """One message to one subscription. ``members``: the per-alert delivery ids it covers."""

    id: str
    subscription: str
    channel: ChannelName
    kind: Literal["alert", "group", "digest", "test", "notice"] = "alert"
    alerts: tuple[Alert, ...] = ()
    members: tuple[str, ...] = ()
    group_key: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    replay: bool = False

    _raw: bytes | None = PrivateAttr(default=None)

    @classmethod
    def from_stored(cls, raw: bytes) -> Delivery:
        d = cls.model_validate_json(raw)
        d._raw = raw
        return d

    def to_bytes(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    def with_alerts(self, alerts: tuple[Alert, ...], members: tuple[str, ...]) -> Delivery:
        """A sealed batch: its collected alerts and member delivery ids."""
        return Delivery.model_validate({**self.model_dump(), "alerts": alerts, "members": members})

    def wire(self) -> bytes:
        """The JSON body every channel carries (webhook body, Redis stream ``payload``): this model as
        JSON, i.e. ``id`` (the delivery id), ``subscription``, ``channel``, ``kind``, ``alerts``,
        ``members``, ``group_key``, ``created_at``, ``replay``. The stored bytes are reused as they are."""
        return self._raw if self._raw is not None else self.to_bytes()
