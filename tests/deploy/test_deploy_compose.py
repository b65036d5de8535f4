"""docker-compose.yml: valid against the Compose Specification's JSON schema (vendored, offline), and
semantically a working stack: every monitor service has the settings it needs (real MONITOR_* names),
dependencies exist and have health checks, Redis keeps an AOF and never evicts, Kafka runs in KRaft mode
with enough partitions for the workers, mounts exist, Prometheus scrapes every monitor service, and the
poller's feeds file points at the api service."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from deploy_support import DEPLOY, ROOT

COMPOSE = ROOT / "docker-compose.yml"
SCHEMA = Path(__file__).resolve().parent / "compose-spec.json"
MONITOR_COMMANDS = {"poller", "worker", "alerter", "api", "archiver"}
NEEDED_ENV = {"MONITOR_KAFKA_BOOTSTRAP", "MONITOR_REDIS_URL", "MONITOR_HTTP_HOST", "MONITOR_HTTP_PORT",
              "MONITOR_API_TOKEN"}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict) -> dict[str, dict]:
    return compose["services"]


@pytest.fixture(scope="module")
def monitor_services(services: dict[str, dict]) -> dict[str, dict]:
    out = {n: s for n, s in services.items()
           if isinstance(s.get("build"), dict) and s["build"].get("dockerfile") == "deploy/Dockerfile"}
    assert out, "no service is built from deploy/Dockerfile"
    return out


def env_of(service: dict) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {k: "" if v is None else str(v) for k, v in env.items()}


def command_of(service: dict) -> list[str]:
    cmd = service.get("command", [])
    return cmd.split() if isinstance(cmd, str) else list(cmd)


def depends_of(service: dict) -> dict[str, str]:
    dep = service.get("depends_on", {})
    if isinstance(dep, list):
        return dict.fromkeys(dep, "service_started")
    return {k: v.get("condition", "service_started") for k, v in dep.items()}


def test_compose_file_matches_the_compose_specification(compose: dict) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema).iter_errors(compose), key=lambda e: list(e.absolute_path))
    assert not errors, "\n".join(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors)


def test_schema_rejects_a_broken_compose_file(compose: dict) -> None:
    """The vendored schema really constrains: a misspelt service key is an error."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    broken = json.loads(json.dumps(compose))
    broken["services"]["redis"]["helthcheck"] = broken["services"]["redis"].pop("healthcheck")
    assert not jsonschema.validators.validator_for(schema)(schema).is_valid(broken)


def test_the_stack_has_every_service(services: dict[str, dict], monitor_services: dict[str, dict]) -> None:
    assert {"kafka", "redis", "prometheus", "grafana", "mailpit"} <= set(services)
    commands = [command_of(s)[0] for s in monitor_services.values()]
    assert set(commands) == MONITOR_COMMANDS, commands
    assert commands.count("worker") >= 2, "two workers share the partitions"
    assert commands.count("poller") == 1, "one poller: two would fetch every feed twice"


def test_monitor_services_have_the_settings_they_need(
    services: dict[str, dict], monitor_services: dict[str, dict]
) -> None:
    from monitor.settings import Settings

    known = {f"MONITOR_{name.upper()}" for name in Settings.model_fields}
    for name, svc in monitor_services.items():
        env = env_of(svc)
        assert set(env) >= NEEDED_ENV, f"{name} lacks {NEEDED_ENV - set(env)}"
        unknown = {k for k in env if k.startswith("MONITOR_")} - known
        assert not unknown, f"{name}: {unknown} are not settings of monitor.settings.Settings"
        assert env["MONITOR_HTTP_HOST"] == "0.0.0.0", f"{name} must listen beyond loopback in a container"
        for addr in env["MONITOR_KAFKA_BOOTSTRAP"].split(","):
            host, _, port = addr.rpartition(":")
            assert host in services and port.isdigit(), f"{name}: bootstrap {addr} is not a service:port"
        redis = urlsplit(env["MONITOR_REDIS_URL"])
        assert redis.scheme in ("redis", "rediss") and redis.hostname in services, env["MONITOR_REDIS_URL"]
        assert {"kafka", "redis"} <= set(depends_of(svc)), f"{name} must wait for kafka and redis"
        assert "healthcheck" in svc, f"{name} has no healthcheck"
        assert command_of(svc)[0] in MONITOR_COMMANDS


def test_depends_on_targets_exist_and_health_conditions_have_checks(services: dict[str, dict]) -> None:
    for name, svc in services.items():
        for target, condition in depends_of(svc).items():
            assert target in services, f"{name} depends on unknown service {target}"
            if condition == "service_healthy":
                assert "healthcheck" in services[target], f"{name} waits for {target} healthy; it has no check"
    # no cycles: the stack must be startable
    seen: set[str] = set()

    def visit(n: str, path: tuple[str, ...]) -> None:
        assert n not in path, f"depends_on cycle: {' -> '.join((*path, n))}"
        if n in seen:
            return
        for t in depends_of(services[n]):
            visit(t, (*path, n))
        seen.add(n)

    for n in services:
        visit(n, ())


def test_redis_keeps_an_aof_and_never_evicts(services: dict[str, dict]) -> None:
    redis = services["redis"]
    cmd = command_of(redis)
    opts = {cmd[i]: cmd[i + 1] for i in range(len(cmd) - 1) if cmd[i].startswith("--")}
    assert opts.get("--appendonly") == "yes"
    assert opts.get("--appendfsync") == "everysec"
    assert opts.get("--maxmemory-policy") == "noeviction"
    assert any(v.endswith(":/data") for v in redis.get("volumes", [])), "Redis data must be on a volume"
    assert "healthcheck" in redis


def test_kafka_runs_in_kraft_mode_with_partitions_for_the_workers(
    services: dict[str, dict], monitor_services: dict[str, dict]
) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    env = env_of(kafka)
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any("ZOOKEEPER" in k for k in env)
    assert len(env["CLUSTER_ID"]) == 22, "a KRaft cluster id is 16 bytes in base64url (22 characters)"
    advertised = env["KAFKA_ADVERTISED_LISTENERS"]
    workers = 0
    for svc in monitor_services.values():
        menv = env_of(svc)
        assert all(a in advertised for a in menv["MONITOR_KAFKA_BOOTSTRAP"].split(","))
        partitions = int(menv.get("MONITOR_TOPIC_PARTITIONS", "4"))
        assert partitions >= 4
        workers += command_of(svc)[0] == "worker"
    assert partitions >= workers, "more workers than partitions leaves workers idle"
    assert int(env.get("KAFKA_NUM_PARTITIONS", "1")) == partitions, "an implicitly created topic must match"
    assert "healthcheck" in kafka


def test_images_are_pinned(services: dict[str, dict]) -> None:
    for name, svc in services.items():
        if "image" in svc and "build" not in svc:
            image = svc["image"]
            tag = image.rsplit(":", 1)[-1] if ":" in image.split("/")[-1] else ""
            assert tag and tag != "latest" and any(c.isdigit() for c in tag), f"{name}: pin {image}"


def test_bind_mounts_exist(services: dict[str, dict]) -> None:
    for name, svc in services.items():
        for vol in svc.get("volumes", []):
            source = vol.split(":")[0] if isinstance(vol, str) else vol.get("source", "")
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"


def test_poller_reads_the_seed_feed_from_the_api(
    services: dict[str, dict], monitor_services: dict[str, dict]
) -> None:
    from monitor.ingest.feeds import load_feeds

    feeds_file = DEPLOY / "feeds.compose.yaml"
    feeds = load_feeds(feeds_file)
    assert feeds and all(f.enabled for f in feeds)
    api = next(s for s in monitor_services.values() if command_of(s)[0] == "api")
    api_name = next(n for n, s in services.items() if s is api)
    url = urlsplit(feeds[0].url)
    assert (url.hostname, url.port, url.path) == (api_name, int(env_of(api)["MONITOR_HTTP_PORT"]), "/seeds/feed.xml")
    poller = next(s for s in monitor_services.values() if command_of(s)[0] == "poller")
    target = env_of(poller)["MONITOR_FEEDS"]
    assert f"./deploy/feeds.compose.yaml:{target}:ro" in poller["volumes"]
    assert api_name in depends_of(poller), "the poller starts once the api serves the seed feed"


def test_prometheus_scrapes_every_monitor_service(
    services: dict[str, dict], monitor_services: dict[str, dict]
) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    targets = {t for job in config["scrape_configs"] for sc in job.get("static_configs", [])
               for t in sc["targets"]}
    for name, svc in monitor_services.items():
        assert f"{name}:{env_of(svc)['MONITOR_HTTP_PORT']}" in targets, f"Prometheus does not scrape {name}"
    assert any(t.startswith("host.docker.internal:") for t in targets), "a job for `monitor run` on the host"
    prom = services["prometheus"]
    assert any(v.startswith("./deploy/prometheus:") for v in prom["volumes"])
    assert "host.docker.internal:host-gateway" in prom.get("extra_hosts", [])


def test_grafana_is_provisioned(services: dict[str, dict]) -> None:
    graf = services["grafana"]
    mounts = {v.split(":")[0]: v.split(":")[1] for v in graf["volumes"] if v.startswith(".")}
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
    dash_mount = mounts["./deploy/grafana/dashboards"]
    prov = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/monitor.yml").read_text(encoding="utf-8"))
    assert [p["options"]["path"] for p in prov["providers"]] == [dash_mount]
    ds = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8"))
    (source,) = ds["datasources"]
    assert urlsplit(source["url"]).hostname in services and source["uid"] == "prometheus"
    home = env_of(graf).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH", "")
    if home:
        assert home.startswith(dash_mount + "/")
        assert (DEPLOY / "grafana/dashboards" / home.rsplit("/", 1)[1]).exists()


def test_alerter_mails_to_the_mail_catcher(services: dict[str, dict], monitor_services: dict[str, dict]) -> None:
    alerter = next(s for s in monitor_services.values() if command_of(s)[0] == "alerter")
    env = env_of(alerter)
    assert env["MONITOR_SMTP_HOST"] in services
    assert "mailpit" in depends_of(alerter)
