"""What `bench_cluster.py scale` reads of the processes it runs: CPU and memory of each process
tree (/proc), PostgreSQL's counters (pg_stat_database, WAL) and Redis's (INFO)."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy import Engine, text

# -- processes: CPU and memory from /proc -----------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2 :].split()  # from field 3 (state) on


def process_tree(root: int) -> list[int]:
    """``root`` and every live descendant."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int(_stat_fields(int(entry.name))[1])
            except (OSError, ValueError):
                continue  # exited while we looked
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = _stat_fields(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICK


def memory_kib(pid: int, field: str) -> int:
    """A field of /proc/<pid>/status in KiB (VmRSS, RssAnon, RssShmem), 0 once gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def machine_busy_seconds() -> float:
    """CPU time used by everything on the machine (other users too), from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK  # minus idle and iowait


# -- database and Redis counters --------------------------------------------------------------

PG_COUNTERS = ("xact_commit", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated")


def pg_counters(engine: Engine) -> dict[str, float]:
    with engine.connect() as conn:
        conn.execute(text("select pg_stat_clear_snapshot()"))
        row = conn.execute(
            text(
                f"select {', '.join(PG_COUNTERS)}, "
                "pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0') as wal_bytes "
                "from pg_stat_database where datname = current_database()"
            )
        ).one()
    return {key: float(value) for key, value in row._mapping.items()}


def redis_counters(client: Redis) -> dict[str, float]:
    stats: dict[str, Any] = client.info("commandstats")
    calls = {name.removeprefix("cmdstat_"): float(v["calls"]) for name, v in stats.items()}
    calls["total"] = float(client.info("stats")["total_commands_processed"])
    return calls


def postmaster_pid(engine: Engine) -> int:
    with engine.connect() as conn:
        backend = int(conn.scalar(text("select pg_backend_pid()")) or 0)
    return int(_stat_fields(backend)[1])


@dataclass
class Sample:
    at: float
    cpu: dict[str, float]
    pg: dict[str, float]
    redis: dict[str, float]


def take_sample(roles: dict[str, int], engine: Engine, client: Redis) -> Sample:
    cpu = {role: cpu_seconds(process_tree(pid)) for role, pid in roles.items()}
    cpu["machine"] = machine_busy_seconds()
    return Sample(time.time(), cpu, pg_counters(engine), redis_counters(client))


def tree_memory_mib(root: int) -> float:
    """Private memory of a process tree, plus the largest shared part (PostgreSQL's buffers)."""
    pids = process_tree(root)
    private = sum(memory_kib(pid, "RssAnon") + memory_kib(pid, "RssFile") for pid in pids)
    return (private + max(memory_kib(pid, "RssShmem") for pid in pids)) / 1024
