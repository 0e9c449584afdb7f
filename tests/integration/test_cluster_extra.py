"""Cluster mode's packages (redis, scrapy-redis) are the `cluster` extra: without them, a
cluster role says which extra to install instead of a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import run_cli, write_config
from tests.support.service import free_port

pytestmark = pytest.mark.slow

WITHOUT_REDIS = "import sys\nsys.modules['redis'] = None  # as if not installed\n"


def test_a_cluster_role_without_the_extra_names_it(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    with config.open("a") as f:
        f.write(f'\n[cluster]\nredis_url = "redis://127.0.0.1:{free_port()}/0"\n')
    for role in ("worker", "scheduler"):
        done = run_cli("run", "--role", role, config=config, prelude=WITHOUT_REDIS, timeout=60)
        assert done.returncode == 2, done.stderr
        assert "needs the cluster extra (redis is not installed)" in done.stderr, done.stderr
        assert "pip install 'haitiwatch[cluster]'" in done.stderr
        assert "Traceback" not in done.stderr


def test_a_single_machine_needs_no_cluster_package(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    run_cli("sources", config=config, prelude=WITHOUT_REDIS).check()
