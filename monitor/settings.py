"""The one Settings object.

Every knob of monitor is a field here, read from the environment with the prefix ``MONITOR_`` (and from a
``.env`` file in the working directory when there is one). Nothing else in the code reads ``os.environ``:
the CLI builds one ``Settings`` and passes it down. Secrets are ``SecretStr`` so they never print.

When ``kafka_bootstrap`` and ``redis_url`` are both unset, ``monitor run`` starts the embedded broker and
Redis (see ``monitor.embedded``) and fills them in with ``with_services``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: The repository (or installed tree) that holds ``rules/`` and ``seeds/`` next to the package.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("monitor", appauthor=False))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="MONITOR_", env_file=".env", extra="ignore", frozen=True, populate_by_name=True
    )

    # --- services -------------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None, description="host:port[,host:port]; unset = start the embedded broker"
    )
    redis_url: str | None = Field(default=None, description="redis://…; unset = start the embedded Redis")
    data_dir: Path = Field(default_factory=_default_data_dir, description="embedded services keep data here")
    kafka_idempotence: bool | None = Field(
        default=None,
        description="producer idempotence; default: on for a real cluster, off for the embedded broker",
    )
    redis_check_durability: bool = Field(
        default=True, description="refuse a Redis whose maxmemory-policy evicts keys"
    )

    # --- topics ---------------------------------------------------------------------------------
    topic_articles: str = "articles"
    topic_alerts: str = "alerts"
    topic_dead_letter: str = "dead-letter"
    topic_partitions: int = Field(default=4, ge=1)
    topic_replication: int = Field(default=1, ge=1)

    # --- consumer groups ----------------------------------------------------------------------
    app_id: str = "monitor"
    alerter_group: str = "monitor-alerter"
    broker_session_timeout: float = Field(default=6.0, description="seconds; short for the embedded broker")
    broker_heartbeat_interval: float = 1.0
    broker_rebalance_timeout: float = 2.0
    broker_fetch_max_wait: float = Field(
        default=0.03, description="seconds a consumer fetch waits for new records while they flow (a floor on latency)"
    )
    broker_fetch_max_wait_idle: float = Field(
        default=1.0,
        description="seconds an idle consumer's fetch waits (embedded broker: naps between short fetches)",
    )
    broker_fetch_idle_after: float = Field(
        default=5.0, ge=0, description="seconds without records before a consumer counts as idle"
    )
    worker_batch: int = Field(default=200, ge=1, description="articles the processor takes per batch")
    worker_batch_within: float = Field(
        default=0.0, ge=0,
        description="seconds to wait for more articles after the first of a batch (0: take those waiting)",
    )

    # --- inputs ---------------------------------------------------------------------------------
    feeds: Path = Field(default=PROJECT_ROOT / "seeds" / "feeds.yaml", description="feeds YAML file")
    rules: Path = Field(default=PROJECT_ROOT / "rules", description="rules folder")
    rules_reload: bool = Field(default=True, description="watch the rules folder and hot-reload")
    learned: Literal["off", "veto", "both"] | None = Field(
        default=None, description="the learned check's mode (off, veto, both) instead of the one the rules "
        "folder's learned file names; unset: as named (docs/rules.md, The learned check)")
    rules_reload_interval: float = 2.0

    # --- polling (ingest) -----------------------------------------------------------------------
    poll_interval: float = Field(default=300.0, description="default seconds between polls of a feed")
    poll_interval_min: float = Field(default=60.0, description="floor of the adaptive interval")
    poll_interval_max: float = Field(default=3600.0, description="ceiling of the adaptive interval")
    fetch_connect_timeout: float = 10.0
    fetch_read_timeout: float = 20.0
    fetch_deadline: float = Field(default=30.0, description="total seconds per feed fetch")
    fetch_max_bytes: int = Field(default=10 * 1024 * 1024, description="body cap after decompression")
    fetch_max_redirects: int = 5
    fetch_per_host: int = Field(default=2, description="concurrent fetches per host")
    fetch_concurrency: int = Field(default=50, description="concurrent fetches in all")
    fetch_user_agent: str = "monitor/0.1 (+https://example.invalid/monitor)"
    fulltext_max_bytes: int = 2 * 1024 * 1024
    seen_ttl_days: int = Field(default=30, description="how long an article id stays 'seen'")
    telegram_min_interval: float = Field(
        default=30.0, gt=0, description="seconds between polls of one Telegram channel, at least"
    )
    telegram_max_pages: int = Field(default=5, ge=1, description="preview pages read back per poll")
    telegram_page_delay: float = Field(default=1.0, ge=0, description="seconds between preview pages")
    sitemap_max_children: int = Field(default=20, ge=1, description="sitemaps read from one index")
    sitemap_max_depth: int = Field(default=2, ge=1, description="levels of sitemap indexes followed")
    sitemap_max_urls: int = Field(default=50_000, ge=1, description="URLs read from one sitemap file")
    sitemap_max_new: int = Field(default=100, ge=1, description="new URLs published per poll, newest first")
    sitemap_max_age_days: float = Field(default=2.0, gt=0, description="older dated URLs are skipped")
    public_url: str | None = Field(
        default=None, description="this process's public base URL; set = WebSub push subscriptions"
    )
    websub_lease: int = Field(default=10 * 86400, ge=60, description="lease seconds asked of WebSub hubs")
    websub_fallback_interval: float = Field(
        default=3600.0, gt=0, description="poll interval of a feed with a live WebSub subscription"
    )

    # --- alerting -------------------------------------------------------------------------------
    alerts_recent: int = Field(default=1000, description="alerts kept for GET /api/v1/alerts")
    webhook_allow: list[str] = Field(
        default_factory=list, description="CIDRs/hosts webhooks and chat may reach despite the SSRF guard"
    )
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: SecretStr | None = None
    smtp_tls: Literal["none", "starttls", "tls"] = "none"
    smtp_from: str = "monitor@localhost"
    delivery_concurrency: int = 16

    # --- HTTP -----------------------------------------------------------------------------------
    http_host: str = Field(default="127.0.0.1", description="bind address of the HTTP API")
    http_port: int = Field(default=8080, description="0 = a free port")
    api_token: SecretStr | None = Field(default=None, description="bearer token for the API")
    rules_writable: bool = Field(
        default=False, description="the web console may save rule files into MONITOR_RULES"
    )

    # --- console / logs -------------------------------------------------------------------------
    log_level: str = Field(default="WARNING", description="log level on stderr (-v sets INFO)")
    log_json: bool | None = Field(default=None, description="JSON logs; default: when not on a terminal")

    # --- alerting (extra) ---
    poison_tries: int = Field(
        default=3, ge=1,
        description="tries of an alert or delivery that makes a handler fail (not an outage) before dead-letter",
    )
    journal: bool = Field(
        default=True, description="embedded broker: hold articles in Redis until every stage is done (kill -9 safe)"
    )
    delivery_retry_schedule: list[float] = Field(
        default_factory=lambda: [0.0, 5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0, 36000.0],
        description="seconds before attempt 1, 2, …; after the last failed attempt a delivery is dead",
    )
    delivery_log_ttl: int = Field(
        default=3 * 86400, ge=60, description="notification-log TTL in seconds (>= the retry horizon)"
    )
    delivery_claim_idle: float = Field(
        default=60.0, gt=0, description="seconds before another alerter claims an unacknowledged delivery"
    )
    delivery_endpoint_concurrency: int = Field(default=4, ge=1, description="in-flight sends per endpoint")
    delivery_endpoint_queue: int = Field(default=1000, ge=1, description="deliveries held per endpoint")
    delivery_batch: int = Field(default=100, ge=1, description="deliveries an endpoint worker takes at once")
    delivery_disable_after: float = Field(
        default=3 * 86400.0, description="seconds of continuous failure before a subscription is disabled"
    )
    delivery_consumer: str | None = Field(
        default=None, description="consumer name in the delivery group; default: host name (unique per alerter)"
    )
    stream_notify: bool = Field(default=True, description="PUBLISH a notice after each stream delivery")
    webhook_connect_timeout: float = 5.0
    webhook_timeout: float = 15.0
    smtp_timeout: float = 30.0
    api_max_body: int = Field(default=256 * 1024, description="largest API request body in bytes")

    # --- derived ----------------------------------------------------------------------------------
    @property
    def embedded(self) -> bool:
        """True when monitor must start its own broker and Redis."""
        return self.kafka_bootstrap is None and self.redis_url is None

    @property
    def idempotence(self) -> bool:
        if self.kafka_idempotence is not None:
            return self.kafka_idempotence
        return not self.embedded_broker

    embedded_broker: bool = Field(default=False, description="set internally when the broker is ours")

    def with_services(self, kafka_bootstrap: str, redis_url: str) -> Settings:
        """A copy pointing at (embedded) services; idempotence stays off for the embedded broker."""
        return self.model_copy(
            update={"kafka_bootstrap": kafka_bootstrap, "redis_url": redis_url, "embedded_broker": True}
        )

    @property
    def kafka_servers(self) -> str:
        if not self.kafka_bootstrap:
            raise RuntimeError("kafka_bootstrap is not set (embedded services not started?)")
        return self.kafka_bootstrap

    @property
    def redis(self) -> str:
        if not self.redis_url:
            raise RuntimeError("redis_url is not set (embedded services not started?)")
        return self.redis_url

    # --- archive (monitor.archive, docs/archive.md) -----------------------------------------------
    archive: bool = Field(default=True, description="keep a searchable archive of every article processed")
    archive_url: SecretStr | None = Field(
        default=None, description="postgresql://… for a shared archive; unset = SQLite under MONITOR_DATA_DIR"
    )
    archive_days: float = Field(default=30.0, gt=0, description="days an article stays in the archive")
    archive_group: str = Field(default="monitor-archiver", description="consumer group of the archiver")
    archive_batch: int = Field(default=500, ge=1, le=10000, description="records the archiver writes at once")
    archive_query_timeout: float = Field(
        default=2.0, gt=0, le=60, description="seconds a search may run before it answers 400 (too broad)"
    )
    archive_prune_interval: float = Field(default=3600.0, gt=0, description="seconds between retention prunes")

    # --- clustering -------------------------------------------------------------------------------
    copy_threshold: float = Field(
        default=0.8, gt=0.0, le=1.0, description="Jaccard similarity (word shingles) that makes a copy"
    )
    copy_window_hours: float = Field(default=48.0, gt=0, description="how long an article can be copied")
    copy_shingle_words: int = Field(default=5, ge=1, le=16, description="words per shingle")
    event_window_hours: float = Field(default=6.0, gt=0, description="default event length from its start")
    volume_bucket_seconds: float = Field(default=300.0, gt=0, description="counter bucket for volume rules")
    volume_retention_hours: float = Field(default=26.0, gt=0, description="how long volume counts are kept")
    cluster_redis_prefix: str = Field(default="monitor:cluster", description="Redis key prefix of clustering")

    # --- ingest (extra) ---
    ingest_redis_prefix: str = Field(
        default="monitor:ingest:", description="Redis key prefix of feed state and seen article ids"
    )
    poll_restart_spread: float = Field(
        default=30.0, ge=0, description="seconds over which feeds found overdue at start are spread"
    )
    poll_retry_after_max: float = Field(
        default=86400.0, gt=0, description="longest Retry-After honoured (seconds); longer values are capped"
    )

    # --- hardening (docs/security.md) ---
    chat_services: list[str] = Field(
        default_factory=lambda: [
            "slack", "discord", "msteams", "workflow", "workflows", "tgram", "gchat",
            "mmost", "mmosts", "matrix", "matrixs", "rocket", "rockets", "zulip", "ntfy", "ntfys",
        ],
        description="apprise services (URL schemes) chat subscriptions may use",
    )
    chat_connect_timeout: float = Field(default=5.0, gt=0, description="seconds to connect to a chat service")
    chat_timeout: float = Field(default=15.0, gt=0, description="seconds a chat send may take in all")
    chat_max_response: int = Field(default=64 * 1024, ge=1024, description="bytes of a chat reply read at most")
    max_subscriptions: int = Field(default=1000, ge=1, description="subscriptions that may exist at once")
    max_silences: int = Field(default=1000, ge=1, description="silences that may exist at once")
    max_filter_items: int = Field(default=100, ge=1, description="entries per filter/silence list")
    dead_maxlen: int = Field(default=10000, ge=100, description="entries kept in the dead-delivery stream")
    embedded_redis_maxmemory: str = Field(default="256mb", description="maxmemory of the embedded Redis")
    secret_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s), comma-separated, newest first: encrypt secrets stored in Redis",
    )

    @field_validator("api_token", "secret_key", mode="before")
    @classmethod
    def _blank_is_unset(cls, v: object) -> object:
        """``MONITOR_API_TOKEN=`` (empty or blank) means no token, not an empty one."""
        raw = v.get_secret_value() if isinstance(v, SecretStr) else v
        return None if isinstance(raw, str) and not raw.strip() else v
