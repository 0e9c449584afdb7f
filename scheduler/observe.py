"""Observability: structured logs, Prometheus metrics, and the /healthz + /metrics endpoint."""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

from haitiwatch.db.records import CrawlTotals
from haitiwatch.scheduler.logfilter import STANDARD_FIELDS, redact_logs


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and any `extra=` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in STANDARD_FIELDS})
        if record.exc_text:
            out["exception"] = record.exc_text
        return json.dumps(out, default=str, ensure_ascii=False)


def setup_logging(level: int, json_format: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if json_format
        else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    redact_logs()
    root.setLevel(level)
    # Scrapy and Twisted are chatty at INFO; their warnings still come through.
    for noisy in ("scrapy", "twisted", "apscheduler", "aiohttp.access", "alembic"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


class Metrics:
    """The service's Prometheus metrics, in their own registry (no global state)."""

    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # *_created: noise here
        self.registry = CollectorRegistry()
        r = self.registry
        self.polls = Counter(
            "haitiwatch_polls_total", "Source polls by outcome", ["outcome"], registry=r
        )
        self.articles = Counter(
            "haitiwatch_articles_total", "Articles stored by outcome", ["outcome"], registry=r
        )
        self.last_success = Gauge(
            "haitiwatch_source_last_success_timestamp_seconds",
            "Last successful poll of a source (Unix time)",
            ["source"],
            registry=r,
        )
        self.failures = Gauge(
            "haitiwatch_source_consecutive_failures",
            "Consecutive failed polls of a source",
            ["source"],
            registry=r,
        )
        self.storage_refused = Counter(
            "haitiwatch_storage_refused_total",
            "Polls some of whose writes the database refused (disk full)",
            registry=r,
        )
        self.in_flight = Gauge("haitiwatch_polls_in_flight", "Polls running now", registry=r)
        self.scheduled = Gauge(
            "haitiwatch_scheduled_jobs", "Jobs waiting in the scheduler", registry=r
        )
        self.outbox = Gauge("haitiwatch_outbox_pending", "Alerts waiting to be sent", registry=r)
        self.duration = Histogram(
            "haitiwatch_poll_duration_seconds",
            "Time from feed request to last page stored",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
            registry=r,
        )

    def record_poll(
        self, source: str, totals: CrawlTotals, seconds: float, failures: int, now: datetime
    ) -> None:
        outcome = (
            "error"
            if totals.sources_failed
            else "not_modified"
            if totals.sources_not_modified
            else "ok"
        )
        self.polls.labels(outcome).inc()
        for name in ("new", "duplicate", "updated"):
            if value := getattr(totals, name):
                self.articles.labels(name).inc(value)
        if not totals.sources_failed:
            self.last_success.labels(source).set(now.timestamp())
        self.failures.labels(source).set(failures)
        self.duration.observe(seconds)

    def forget_source(self, source: str) -> None:
        for gauge in (self.last_success, self.failures):
            with contextlib.suppress(KeyError):
                gauge.remove(source)


HealthCheck = Callable[[], Awaitable[tuple[bool, str]]]


async def start_http(
    host: str,
    port: int,
    metrics: Metrics,
    health: HealthCheck,
    extra: Callable[[web.Application], None] | None = None,
) -> web.AppRunner:
    """Serve /healthz and /metrics (and whatever ``extra`` mounts) on host:port."""

    async def healthz(_request: web.Request) -> web.Response:
        ok, detail = await health()
        return web.json_response({"ok": ok, "detail": detail}, status=200 if ok else 503)

    async def metrics_view(_request: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    if extra is not None:
        extra(app)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
