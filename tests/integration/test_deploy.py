"""deploy/ agrees with the CLI and the config: the commands it runs exist, the ports match."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from haitiwatch.scheduler.config import default_config_text, parse_config
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
    # Exit code 3 (another run holds the database) must not loop restarts.
    assert unit_value("RestartPreventExitStatus") == "3"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd not available")
def test_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    unit = tmp_path / "haitiwatch.service"
    unit.write_text(UNIT.read_text().replace("/opt/haitiwatch/bin/haitiwatch", haitiwatch_script()))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr


def test_dockerfile_health_check_and_config_agree(tmp_path: Path) -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert re.search(r"^USER haitiwatch$", dockerfile, re.MULTILINE), "must not run as root"
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert 'CMD ["run", "--log-json"]' in dockerfile
    # Apply the Dockerfile's own sed to the shipped config: http must end up on, on its port.
    sed = re.search(r"sed -i -e '([^']+)'", dockerfile)
    assert sed
    config_file = tmp_path / "haitiwatch.toml"
    config_file.write_text(default_config_text())
    subprocess.run(["sed", "-i", "-e", sed.group(1), str(config_file)], check=True)
    http = parse_config(config_file.read_text(), str(config_file)).service.http
    assert http.enabled and http.host == "0.0.0.0"
    health_port = re.search(r"127\.0\.0\.1:(\d+)/healthz", dockerfile)
    assert health_port and int(health_port.group(1)) == http.port
    assert re.search(rf"^EXPOSE {http.port}$", dockerfile, re.MULTILINE)


def test_compose_has_postgres_and_publishes_on_loopback_only() -> None:
    compose = (DEPLOY / "compose.yaml").read_text()
    assert "image: postgres:" in compose
    assert "HAITIWATCH_DATABASE_URL: postgresql://" in compose
    ports = re.findall(r'^\s+- "([^"]+)"', compose, re.MULTILINE)
    assert ports and all(p.startswith("127.0.0.1:") for p in ports)
    default_port = parse_config(default_config_text(), "default").service.http.port
    assert f"127.0.0.1:{default_port}:{default_port}" in ports
    assert "POSTGRES_PASSWORD: ${POSTGRES_PASSWORD:?" in compose  # no default password


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
    assert scheduler["command"][:3] == ["run", "--role", "scheduler"]
    assert worker["command"][:3] == ["run", "--role", "worker"]
    assert scheduler["deploy"]["replicas"] == 2  # one active, one standby
    assert worker["deploy"]["replicas"] >= 2
    for service in (scheduler, worker):
        env = service["environment"]
        assert env["HAITIWATCH_DATABASE_URL"].startswith("postgresql://")
        assert env["HAITIWATCH_REDIS_URL"].startswith("redis://redis:")
        help_run = run_cli(*service["command"], "--help", console_script=True)
        assert help_run.returncode == 0, help_run.stderr
    published = [p for s in services.values() for p in s.get("ports", [])]
    assert all(str(p).startswith("127.0.0.1:") for p in published)
    assert "${POSTGRES_PASSWORD:?" in services["db"]["environment"]["POSTGRES_PASSWORD"]
