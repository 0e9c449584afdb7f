"""`haitiwatch status`: the one screen an operator looks at."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

from rich.console import Console
from rich.table import Table

from haitiwatch.db.archive import Archive
from haitiwatch.db.records import SourceHealth
from haitiwatch.db.service_state import LEASE_TTL


def render_status(console: Console, archive: Archive, now: datetime) -> None:
    state = archive.state
    lease = state.lease()
    if lease is not None and now - lease.heartbeat_at <= LEASE_TTL:
        age = int((now - lease.heartbeat_at).total_seconds())
        since = lease.acquired_at.isoformat(timespec="seconds")
        console.print(
            f"[green]running[/]: pid {lease.pid} on {lease.hostname}, since {since} "
            f"(heartbeat {age} s ago)"
        )
    elif lease is not None:
        console.print(
            f"[red]not running[/]: last heartbeat from pid {lease.pid} on "
            f"{lease.hostname} at {lease.heartbeat_at.isoformat(timespec='seconds')}"
        )
    else:
        console.print("[yellow]not running[/]")
    workers = state.workers(now, LEASE_TTL)
    if workers:  # cluster mode
        where = Counter(w.hostname for w in workers)
        hosts = ", ".join(f"{n} on {host}" for host, n in sorted(where.items()))
        console.print(f"cluster workers: {len(workers)} alive ({hosts})", highlight=False)
    hour = state.activity_since(now - timedelta(hours=1))
    fetches = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(hour.fetches.items()))
    console.print(
        f"last hour: fetches: {fetches or 'none'}; articles: {hour.articles_new} new, "
        f"{hour.articles_updated} updated",
        highlight=False,
    )
    states = state.source_states()
    upcoming = sorted((s.next_due, s.name) for s in states.values() if s.next_due)
    if upcoming:
        due, name = upcoming[0]
        console.print(f"next poll: {name} at {due.isoformat(timespec='seconds')}", highlight=False)
    console.print(item_failures_line(archive.source_health()), highlight=False)
    if not hour.failing:
        console.print("failing sources: none")
        return
    table = Table("failing source", "failures", "since", "last error", title=None)
    for name, failures, error in hour.failing:
        began = states[name].failing_since
        table.add_row(
            name,
            str(failures),
            began.isoformat(timespec="seconds") if began else "-",
            (error or "")[:90],
        )
    console.print(table)


def item_failures_line(health: Iterable[SourceHealth]) -> str:
    """Items that failed alone (no record could be made of them; the source itself was fine),
    per source, most first. Their errors are logged, not stored: the line says where to look."""
    failed = sorted((-h.items_failed, h.name) for h in health if h.items_failed)
    if not failed:
        return "items failed alone: none"
    total = -sum(n for n, _ in failed)
    per_source = ", ".join(f"{name} {-n}" for n, name in failed)
    return f"items failed alone: {total} ({per_source}; the log has each error)"
