"""Secrets at rest: webhook signing secrets and chat URLs are stored encrypted when a key is set.

In: ``Settings.secret_key`` (``MONITOR_SECRET_KEY``), one or more Fernet keys separated by commas,
newest first (``cryptography``'s ``MultiFernet``: encrypts with the first, decrypts with any). Out:
``seal``/``open_`` on the plain JSON data of a subscription: every secret string becomes
``enc:v1:<Fernet token>`` (AES-128-CBC + HMAC-SHA256, authenticated) and back. The rest of a
subscription (name, filter, options) stays readable, so the stored JSON remains inspectable.

Rotation (docs/security.md): put a new key first and keep the old one after it; everything stays
readable; ``Store.reencrypt`` (``monitor subscriptions reencrypt``) rewrites every subscription with the
newest key; then drop the old key. Values stored before a key was set (plain text) are read as they
are and sealed on their next write or re-encryption.

Errors: ``SecretsLocked`` when a stored value is sealed but no key (or no matching key) is configured —
not retryable: configure the key that sealed it.
"""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import SecretStr

PREFIX = "enc:v1:"


class SecretsLocked(RuntimeError):
    """A sealed secret cannot be opened with the configured keys. Not retryable."""

    retryable = False


def new_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    def __init__(self, key: SecretStr | str | None) -> None:
        raw = key.get_secret_value() if isinstance(key, SecretStr) else key
        parts = [k.strip() for k in (raw or "").split(",") if k.strip()]
        try:
            self._f = MultiFernet([Fernet(k) for k in parts]) if parts else None
        except ValueError as exc:
            raise ValueError(
                "MONITOR_SECRET_KEY must be Fernet keys (32 url-safe base64 bytes), comma-separated"
            ) from exc

    @property
    def enabled(self) -> bool:
        return self._f is not None

    def seal_value(self, value: str) -> str:
        if self._f is None or value.startswith(PREFIX):
            return value
        return PREFIX + self._f.encrypt(value.encode()).decode()

    def open_value(self, value: str) -> str:
        if not value.startswith(PREFIX):
            return value
        if self._f is None:
            raise SecretsLocked("a stored secret is encrypted and MONITOR_SECRET_KEY is not set")
        try:
            return self._f.decrypt(value[len(PREFIX) :].encode()).decode()
        except InvalidToken as exc:
            raise SecretsLocked("a stored secret does not open with any MONITOR_SECRET_KEY key") from exc

    def rotate_value(self, value: str) -> str:
        """Re-encrypt with the newest key (plain values get sealed)."""
        if self._f is None:
            return value
        if value.startswith(PREFIX):
            return PREFIX + self._f.rotate(value[len(PREFIX) :].encode()).decode()
        return self.seal_value(value)

    def _map(self, data: dict[str, Any], fn: Any) -> dict[str, Any]:
        channel = data.get("channel")
        if not isinstance(channel, dict):
            return data
        out = dict(channel)
        for field in ("secrets", "urls"):
            if isinstance(out.get(field), list):
                out[field] = [fn(v) if isinstance(v, str) else v for v in out[field]]
        return {**data, "channel": out}

    def seal(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._map(data, self.seal_value)

    def open_(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._map(data, self.open_value)

    def rotate(self, data: dict[str, Any]) -> dict[str, Any]:
        return self._map(data, self.rotate_value)
