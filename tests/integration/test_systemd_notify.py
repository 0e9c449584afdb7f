"""`haitiwatch run` under systemd's Type=notify: READY=1 once started (a standby scheduler
too, which also answers /healthz), WATCHDOG=1 from its loop, STOPPING=1 on SIGTERM, received
on a real unix datagram socket as systemd would."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from haitiwatch.scheduler.sdnotify import SystemdNotifier, watchdog_interval
from tests.integration.test_cluster import cluster_config
from tests.support import write_config
from tests.support.redis import redis_url  # noqa: F401
from tests.support.server import Site
from tests.support.service import ServiceProcess, free_port, http_get


@pytest.fixture
def notify_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    """systemd's end: a datagram socket named by $NOTIFY_SOCKET for the processes started."""
    path = tmp_path / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as receiver:
        receiver.bind(str(path))
        receiver.settimeout(60)
        monkeypatch.setenv("NOTIFY_SOCKET", str(path))
        yield receiver


def next_message(receiver: socket.socket) -> dict[str, str]:
    return dict(line.split("=", 1) for line in receiver.recv(4096).decode().splitlines())


def messages_until(receiver: socket.socket, key: str) -> list[dict[str, str]]:
    seen = [next_message(receiver)]
    while key not in seen[-1]:
        seen.append(next_message(receiver))
    return seen


def test_the_service_says_ready_feeds_the_watchdog_and_says_stopping(
    tmp_path: Path, notify_socket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WATCHDOG_USEC", "200000")  # WatchdogSec=0.2s: fed every 0.1 s
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    service = ServiceProcess(write_config(tmp_path, []))
    try:
        first = messages_until(notify_socket, "READY")
        assert first[-1]["STATUS"] == "running (role all): 0 sources", service.log()
        fed = [next_message(notify_socket) for _ in range(3)]
        assert all(m == {"WATCHDOG": "1"} for m in fed), fed
        service.send(signal.SIGTERM)
        assert "STOPPING" in messages_until(notify_socket, "STOPPING")[-1]
        assert service.proc.wait(timeout=60) == 0
    finally:
        service.kill()


@pytest.mark.postgres
@pytest.mark.slow
def test_a_standby_scheduler_is_ready_and_healthy_while_it_waits(
    tmp_path: Path,
    site: Site,
    pg_url: str,
    redis_url: str,  # noqa: F811
    processes: list[ServiceProcess],
    notify_socket: socket.socket,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = cluster_config(tmp_path, site, 0, pg_url, redis_url)
    monkeypatch.setenv("HAITIWATCH_SERVICE__HTTP__ENABLED", "true")
    monkeypatch.setenv("HAITIWATCH_SERVICE__HTTP__PORT", str(active_port := free_port()))
    processes.append(active := ServiceProcess(config, "--role", "scheduler"))
    running = messages_until(notify_socket, "READY")[-1]
    assert running["STATUS"] == "running (role scheduler): 0 sources", active.log()
    monkeypatch.setenv("HAITIWATCH_SERVICE__HTTP__PORT", str(standby_port := free_port()))
    processes.append(standby := ServiceProcess(config, "--role", "scheduler"))
    ready = messages_until(notify_socket, "READY")[-1]
    assert ready["STATUS"] == "standby: waiting for the scheduler lease", standby.log()
    status, body = http_get(f"http://127.0.0.1:{standby_port}/healthz")
    assert status == 200 and "standby" in body, standby.log()
    assert http_get(f"http://127.0.0.1:{active_port}/healthz")[0] == 200
    code, _seconds = standby.stop()
    assert code == 0 and active.proc.poll() is None


def test_the_watchdog_interval_is_half_the_units_and_only_for_its_process() -> None:
    pid = os.getpid()
    assert watchdog_interval({"WATCHDOG_USEC": "60000000"}, pid) == 30.0
    assert watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(pid)}, pid) == 30
    assert watchdog_interval({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}, pid) is None
    assert watchdog_interval({"WATCHDOG_USEC": "0"}, pid) is None
    assert watchdog_interval({}, pid) is None


def test_outside_systemd_nothing_is_sent_and_an_abstract_socket_is_understood() -> None:
    assert not SystemdNotifier.from_environ({}).ready("running")
    assert SystemdNotifier.from_environ({"NOTIFY_SOCKET": "@hw"}).address == "\0hw"
