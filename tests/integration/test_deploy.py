"""deploy/ agrees with the CLI and the config: the commands it runs exist, the ports match."""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from haitiwatch.scheduler.config import default_config_text, load_config, parse_config
from haitiwatch.scheduler.config_env import env_overrides
from tests.support import REPO, haitiwatch_script, run_cli

DEPLOY = REPO / "deploy"
UNIT = DEPLOY / "haitiwatch.service"


def unit_value(key: str) -> str:
    match = re.search(rf"^{key}=(.*)$", UNIT.read_text(), re.MULTILINE)
    assert match, f"{key} missing from {UNIT.name}"
    return match.group(1).strip()


def test_unit_runs_a_real_command_and_is_hardened() -> None:
    command = unit_value("ExecStart").split()
    assert command[0].endswith("/haitiwatch")
    help_run = run_cli(*command[1:], "--help", console_script=True)
    assert help_run.returncode == 0, help_run.stderr
    for setting in (
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "User=haitiwatch",
        "StateDirectory=haitiwatch",
        "Restart=on-failure",
        "KillSignal=SIGTERM",
    ):
        assert setting in UNIT.read_text()
    # SIGTERM stops within 30 s (service.stop_timeout 20 s + crawler close): systemd waits longer.
    assert int(unit_value("TimeoutStopSec")) >= 30
    # Exit 3 (another run holds the database) and 78 (EX_CONFIG) must not loop restarts...
    assert unit_value("RestartPreventExitStatus").split() == ["3", "78"]
    # ...and anything else stops being restarted after a burst of failed starts.
    unit_section = UNIT.read_text().split("[Service]")[0]
    assert "StartLimitIntervalSec=" in unit_section and "StartLimitBurst=" in unit_section
    for setting in ("ProtectProc=invisible", "ProcSubset=pid", "RemoveIPC=yes"):
        assert setting in UNIT.read_text()
    assert unit_value("Type") == "notify" and unit_value("WatchdogSec")
    assert unit_value("LoadCredential").startswith("haitiwatch:/etc/haitiwatch/credentials")


def unit_environment() -> dict[str, str]:
    return dict(
        line.removeprefix("Environment=").split("=", 1)
        for line in UNIT.read_text().splitlines()
        if line.startswith("Environment=")
    )


def test_the_units_install_steps_keep_the_state_in_the_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The steps at the top of the unit write the config to /etc/haitiwatch, which
    ProtectSystem=strict makes read-only: the database must land in the StateDirectory."""
    etc = tmp_path / "etc" / "haitiwatch"
    run_cli("init", etc / "haitiwatch.toml", console_script=True).check()
    environment = unit_environment()
    monkeypatch.delenv("HAITIWATCH_DATABASE_URL", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    loaded = load_config(etc / "haitiwatch.toml")
    state = Path("/var/lib") / unit_value("StateDirectory")
    assert loaded.database_url == f"sqlite:///{state}/haitiwatch.db"
    assert environment["HOME"] == str(state) == unit_value("WorkingDirectory")
    install = [line for line in UNIT.read_text().splitlines() if line.startswith("#")]
    assert not any("pip install 'haitiwatch" in line for line in install)  # not on an index
    assert any("pip install '/path/to/haitiwatch-checkout[postgres]'" in line for line in install)


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd not available")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / "haitiwatch.service"
    unit.write_text(UNIT.read_text().replace("/opt/haitiwatch/bin/haitiwatch", haitiwatch_script()))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "Unknown key" not in done.stderr and "unknown" not in done.stderr.lower(), done.stderr


def dockerfile_env(dockerfile: str) -> dict[str, str]:
    block = re.search(r"^ENV (.*?)\n(?!\s)", dockerfile, re.MULTILINE | re.DOTALL)
    assert block
    return dict(pair.split("=", 1) for pair in block.group(1).replace("\\\n", " ").split())


def test_dockerfile_health_check_and_config_agree(tmp_path: Path) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER haitiwatch$", dockerfile, re.MULTILINE), "must not run as root"
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert 'CMD ["run", "--log-json"]' in dockerfile
    assert "sed " not in dockerfile  # the image sets config keys from the environment
    # The image's variables over the shipped config: http must end up on, on its port.
    overrides = env_overrides(dockerfile_env(dockerfile))
    http = parse_config(default_config_text(), "image", overrides).service.http
    assert http.enabled and http.host == "0.0.0.0"
    health_port = re.search(r"127\.0\.0\.1:(\d+)/healthz", dockerfile)
    assert health_port and int(health_port.group(1)) == http.port
    assert re.search(rf"^EXPOSE {http.port}$", dockerfile, re.MULTILINE)


def test_compose_has_postgres_and_publishes_on_loopback_only() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    assert "image: postgres:" in compose
    assert "HAITIWATCH_DATABASE__URL: postgresql://" in compose
    ports = re.findall(r'^\s+- "([^"]+)"', compose, re.MULTILINE)
    assert ports and all(p.startswith("127.0.0.1:") for p in ports)
    default_port = parse_config(default_config_text(), "default").service.http.port
    assert f"127.0.0.1:{default_port}:{default_port}" in ports


COMPOSE_FILES = ["compose.yaml", "compose.cluster.yaml"]


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_every_compose_service_has_an_init_rotated_logs_and_a_memory_limit(name: str) -> None:
    services = yaml.safe_load((DEPLOY / name).read_text())["services"]
    for service_name, service in services.items():
        assert service.get("init") is True, f"{name}: {service_name} has no init process"
        logging = service.get("logging", {})
        assert logging.get("driver") == "json-file", f"{name}: {service_name}"
        assert {"max-size", "max-file"} <= set(logging.get("options", {})), service_name
        assert re.fullmatch(r"\d+[mg]", str(service.get("mem_limit"))), service_name


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_compose_keeps_the_database_password_out_of_urls(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compose = yaml.safe_load((DEPLOY / name).read_text())
    services = compose["services"]
    secret = compose["secrets"]["postgres_password"]["file"]
    assert (DEPLOY / secret).resolve().is_relative_to(DEPLOY / "secrets")  # .dockerignore'd
    db = services["db"]
    assert db["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    assert "POSTGRES_PASSWORD" not in db["environment"]
    for service_name, service in services.items():
        if service_name in ("db", "redis"):
            continue
        environment = service["environment"]
        assert "postgres_password" in service["secrets"]
        assert not any("PASSWORD}" in str(v) for v in environment.values()), service_name
        # The config the container reads: the password from the secret file, in the URL.
        password = tmp_path / "postgres_password"
        password.write_text("pw/from:file\n")
        monkeypatch.delenv("HAITIWATCH_DATABASE_URL", raising=False)
        monkeypatch.delenv("HAITIWATCH_CONFIG", raising=False)  # the image's built-in default
        for key, value in environment.items():
            monkeypatch.setenv(
                key, str(value).replace("/run/secrets/postgres_password", str(password))
            )
        loaded = load_config(None)
        assert loaded.database_url == "postgresql://haitiwatch:pw%2Ffrom%3Afile@db:5432/haitiwatch"


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule, close enough for these patterns: a path is out of the context when it
    or a folder above it matches a pattern (``**/`` also matching at the top)."""
    parts = path.split("/")
    prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    candidates = patterns + [p.removeprefix("**/") for p in patterns if p.startswith("**/")]
    return any(fnmatch.fnmatchcase(prefix, p) for prefix in prefixes for p in candidates)


def test_the_build_context_leaves_out_the_venv_git_caches_and_secrets() -> None:
    ignore = REPO / ".dockerignore"
    patterns = [
        line.strip()
        for line in ignore.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for path in (
        ".venv/lib/python3.11/site-packages/x.py",
        ".git/objects/ab",
        "crawler/__pycache__/feeds.cpython-311.pyc",
        ".mypy_cache/3.11/x.json",
        ".pytest_cache/v",
        "tests/data/feeds/a.xml",
        "deploy/secrets/postgres_password",
        "deploy/.env",
        "hw.db",
    ):
        assert dockerignored(path, patterns), path
    # What the Dockerfile copies stays in.
    copied = re.findall(r"^COPY (?!--from)(.+) \S+$", (DEPLOY / "Dockerfile").read_text(), re.M)
    for sources in copied:
        for source in sources.split():
            assert not dockerignored(source, patterns), source
            assert (REPO / source).exists(), source


def test_pyproject_console_script_matches_the_unit() -> None:
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == {"haitiwatch": "haitiwatch.scheduler.entry:main"}


def test_cluster_compose_runs_a_scheduler_pair_and_workers_on_postgres_and_redis() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.cluster.yaml").read_text())
    services = compose["services"]
    assert services["db"]["image"].startswith("postgres:")
    assert services["redis"]["image"].startswith("redis:")
    assert "noeviction" in services["redis"]["command"]  # queue entries are never dropped
    scheduler, worker = services["scheduler"], services["worker"]
    # The standby answers the image's health check (200, "standby"): none is disabled.
    assert "healthcheck" not in scheduler and "healthcheck" not in worker
    assert scheduler["command"][:3] == ["run", "--role", "scheduler"]
    assert worker["command"][:3] == ["run", "--role", "worker"]
    assert scheduler["deploy"]["replicas"] == 2  # one active, one standby
    assert worker["deploy"]["replicas"] >= 2
    for service in (scheduler, worker):
        env = service["environment"]
        assert env["HAITIWATCH_DATABASE__URL"].startswith("postgresql://")
        assert env["HAITIWATCH_REDIS_URL"].startswith("redis://redis:")
        help_run = run_cli(*service["command"], "--help", console_script=True)
        assert help_run.returncode == 0, help_run.stderr
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert all(str(p).startswith("127.0.0.1:") for p in published)
