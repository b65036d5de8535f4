"""Logging set-up: readable lines on a terminal, JSON lines elsewhere.

Log records may carry ``article_id``, ``rule`` and ``alert_id`` via ``extra=``; the JSON formatter
emits them as fields. Secrets never reach a log line: settings are logged through ``Settings`` whose
secret fields are ``SecretStr``, and URLs are logged without userinfo (``redact_url``).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import orjson

from monitor.redisfull import RedisFullHint

CONTEXT_FIELDS = ("article_id", "rule", "alert_id", "feed", "subscription", "channel", "component")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                doc[name] = value
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(doc, default=str).decode()


def redact_url(url: str) -> str:
    """The URL without user:password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<invalid url>"
    if parts.username or parts.password:
        host = parts.hostname or ""
        if parts.port:
            host = f"{host}:{parts.port}"
        parts = parts._replace(netloc=host)
    return urlunsplit(parts)


def setup(level: str = "INFO", json_logs: bool | None = None) -> None:
    if json_logs is None:
        json_logs = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S"))
    handler.addFilter(RedisFullHint())  # a full Redis says what to do, wherever it is logged
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # mode/aiokafka are chatty at INFO; keep them at WARNING unless we debug.
    if level.upper() != "DEBUG":
        for noisy in ("mode", "aiokafka", "kafka"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
