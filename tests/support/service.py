"""Run `haitiwatch run` as a real background process for service tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from tests.support import _GUARD, _MAIN, REPO, _fresh_file, _pythonpath


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """`haitiwatch --config F run` behind the loopback-only network guard."""

    def __init__(self, config: Path, *args: str, prelude: str = "") -> None:
        """``prelude``: Python run after the network guard, before main (as ``run_cli``'s)."""
        self.log_path = config.parent / f"run-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        env = {
            **os.environ,
            "HW_TEST_NET_LOG": str(_fresh_file(config.parent, "net")),
            "HW_TEST_RUSAGE": str(_fresh_file(config.parent, "rusage")),
            "PYTHONPATH": _pythonpath(),
        }
        env.pop("HAITIWATCH_DATABASE_URL", None)
        argv = ["--config", str(config), "-v", "run", "--workers", "0", *args]
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _GUARD + prelude + "\n" + _MAIN, *argv],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
        )

    def log(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text()

    def send(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 30) -> tuple[int, float]:
        """Send a signal and wait: (exit code, seconds it took)."""
        started = time.monotonic()
        self.proc.send_signal(signum)
        code = self.proc.wait(timeout=timeout)
        self._log.close()
        return code, time.monotonic() - started

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()


def wait_for(condition: Callable[[], bool], timeout: float, what: str, poll: float = 0.2) -> float:
    """Wait until ``condition()``; returns the seconds waited, fails with ``what`` on timeout."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def http_get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # loopback only
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""
