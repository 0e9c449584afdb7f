"""Alerts: the rule-matching Store hook, alert messages, and the sender that drains the outbox.

Service API (all async, for the APScheduler AsyncIOScheduler on the service's event loop):

- ``drain_outbox(outbox, notifier, now=None, stop=None) -> int``: send due immediate alerts
  once; call it every few seconds and once more on SIGTERM. When ``stop`` is set it finishes
  or releases every row it claimed.
- ``scheduler.digest.run_due_digests(outbox, notifier, now=None) -> int``: send the digests
  whose time has come; call it every minute.

Messages themselves are built in scheduler/messages.py.

A channel of ``type = "webhook"`` gets a signed JSON POST instead (scheduler/webhook.py).
Channel URLs are secrets (Apprise URLs hold tokens and passwords): they are resolved from
the config only when sending, and logs and stored errors name only the channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from zoneinfo import ZoneInfo

from haitiwatch.db.alerts import FAILED, PENDING, SENT, Alert, Outbox, new_worker_id
from haitiwatch.db.articles import ArticleHook
from haitiwatch.db.errors import ConfigError, HaitiwatchError
from haitiwatch.db.near_misses import MISSES_SUFFIX
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.rule_matches import RuleHit, RuleMatchHook
from haitiwatch.scheduler.alert_bodies import AlertBodies
from haitiwatch.scheduler.apprise_send import SEND_TIMEOUT, Delivery, apprise_accepts, deliver
from haitiwatch.scheduler.assist import AssistedRules
from haitiwatch.scheduler.catalogs import DEFAULT
from haitiwatch.scheduler.config import Config, LoadedConfig
from haitiwatch.scheduler.mark_links import LinkSigner, link_signer
from haitiwatch.scheduler.messages import Message, alert_message, test_message
from haitiwatch.scheduler.rule_config import RuleConfig
from haitiwatch.scheduler.rule_scope import in_scope
from haitiwatch.scheduler.rules import RuleSet, Snippet, compile_rule, make_snippet
from haitiwatch.scheduler.secrets import channel_url, webhook_secret
from haitiwatch.scheduler.send_batch import send_batch
from haitiwatch.scheduler.webhook import (
    WebhookChannel,
    channel_test_payload,
    deliver_webhook,
    webhook_payload,
)

log = logging.getLogger(__name__)

#: Retry delays after the 1st, 2nd, ... failed attempt; the last repeats up to MAX_ATTEMPTS.
BACKOFF = (
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
    timedelta(hours=1),
)
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
#: How long a stopping sender lets sends in flight finish before releasing them; with the
#: service's stop_timeout, this stays within systemd's TimeoutStopSec (deploy/).
STOP_GRACE = 10.0
_BATCH = 50
_PARALLEL = 8


# -- the Store hook ----------------------------------------------------------------------------


def rule_match_hook(config: Config) -> ArticleHook:
    """The Store hook that records rule matches and outbox rows (rules compiled once)."""
    ruleset = RuleSet.from_queries((r.name, r.query) for r in config.rules)
    by_name = {r.name: r for r in config.rules}
    assisted = AssistedRules(config.rules)

    def match(article: ArticleRecord) -> list[RuleHit]:
        title, text = article.title, article.text
        hits = [
            RuleHit(m.rule, by_name[m.rule].mode, tuple(by_name[m.rule].channels), m.terms)
            for m in ruleset.match(title, text)
        ]
        hits += assisted.hits(title, text, {h.rule for h in hits})
        return [h for h in hits if in_scope(by_name[h.rule], article.language, article.source)]

    return RuleMatchHook(match, assisted.refresh)


# -- what sending needs from the config --------------------------------------------------------


@dataclass
class Notifier:
    """Channel URLs (resolved lazily: a missing secret fails only its own channel), rules for
    highlighting and digests, and the time zone messages show times in."""

    #: name -> Apprise URL (a secret: kept out of repr), or None: see ``errors``.
    channels: Mapping[str, str | None] = field(repr=False)
    rules: Sequence[RuleConfig] = ()
    timezone: str = "UTC"
    errors: Mapping[str, str] = field(default_factory=dict)
    timeout: float = SEND_TIMEOUT
    #: Signs the mark links every alert item carries; None: alerts carry no links.
    links: LinkSigner | None = None
    #: The channels of type "webhook" (their URL is in ``channels``): signing key, address rule.
    webhooks: Mapping[str, WebhookChannel] = field(default_factory=dict, repr=False)
    #: [web] base_url: alert items link back to the archive under it; None: no link.
    archive_url: str | None = None
    #: [alerts] templates: a folder whose files replace the package's templates by name.
    templates: Path | None = None

    @classmethod
    def from_config(cls, loaded: LoadedConfig) -> Notifier:
        urls: dict[str, str | None] = {}
        errors: dict[str, str] = {}
        webhooks: dict[str, WebhookChannel] = {}
        for name, channel in loaded.config.channels.items():
            try:
                urls[name] = channel_url(name, channel, loaded.origin)
                if channel.type == "webhook":
                    secret = webhook_secret(name, channel, loaded.origin, loaded.base_dir)
                    webhooks[name] = WebhookChannel(secret, channel.allow_private)
            except ConfigError as e:  # the message names the variable or file, not a secret
                urls[name], errors[name] = None, str(e)
        templates = loaded.config.alerts.templates
        if templates is not None:
            templates = loaded.base_dir / templates  # an absolute path stays as it is
            try:
                AlertBodies(templates).check()
            except ConfigError as e:
                raise ConfigError(f"{loaded.origin}: {e}") from e
        try:
            links = link_signer(loaded)
        except ConfigError as e:  # names the variable or file; `rules check` notes it
            log.warning("alerts carry no mark links: %s", e)
            links = None
        return cls(
            urls,
            loaded.config.rules,
            loaded.config.service.timezone,
            errors,
            links=links,
            webhooks=webhooks,
            archive_url=loaded.config.web.base_url,
            templates=templates,
        )

    @cached_property
    def bodies(self) -> AlertBodies:
        return AlertBodies(self.templates)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def language(self, rule: str) -> str:
        """The language a rule's alerts are written in (a possible miss: its rule's)."""
        name = rule.removesuffix(MISSES_SUFFIX)
        return next((r.language for r in self.rules if r.name == name), DEFAULT)

    @cached_property
    def _rulesets(self) -> dict[str, RuleSet]:
        return {r.name: RuleSet([compile_rule(r.name, r.query)]) for r in self.rules}

    def channel_problems(self) -> dict[str, str]:
        """Why each unusable channel cannot send: a secret that cannot be read, or a URL that
        Apprise does not understand (named by its scheme only: the URL is a secret)."""
        problems = dict(self.errors)
        for name, url in self.channels.items():
            if name in self.webhooks:
                continue  # validated with the config: an http(s) URL
            if url is not None and not apprise_accepts(url):
                scheme = url.split("://", 1)[0] if "://" in url else "(none)"
                problems[name] = (
                    f"channels.{name}: Apprise does not understand this URL "
                    f"(scheme {scheme!r}; see Apprise's list of services)"
                )
        return problems

    def archive_link(self, alert: Alert) -> str | None:
        """The alert's story in the web archive, when [web] base_url is set."""
        if self.archive_url is None or alert.story_id is None:
            return None
        return f"{self.archive_url.rstrip('/')}/stories/{alert.story_id}"

    def snippet(self, alert: Alert) -> Snippet:
        """A short excerpt of the article with the rule's matched terms marked."""
        ruleset = self._rulesets.get(alert.rule)
        found = ruleset.match(alert.title, alert.text) if ruleset else []
        return make_snippet(alert.text, found[0].marks if found else ())


# -- sending -----------------------------------------------------------------------------------


def backoff(attempts: int) -> timedelta:
    return BACKOFF[min(attempts, len(BACKOFF)) - 1] if attempts > 0 else BACKOFF[0]


def record_outcome(
    outbox: Outbox, alerts: Sequence[Alert], worker: str, delivery: Delivery, now: datetime
) -> str:
    """Write a delivery's outcome on the claimed rows: sent, retry later, or failed."""
    ids = [a.id for a in alerts]
    attempts = max(a.attempts for a in alerts)
    if delivery.ok:
        status, error, retry_at = SENT, None, None
    elif delivery.permanent or attempts >= MAX_ATTEMPTS:
        status, retry_at = FAILED, None
        error = f"{delivery.error} (gave up after {attempts} attempts)"
        if delivery.permanent:
            error = f"{delivery.error} (permanent)"
    else:
        status, error, retry_at = PENDING, delivery.error, now + backoff(attempts)
    outbox.finish(ids, worker, status, now, delivery.targets, error, retry_at)
    return status


async def send_claimed(
    outbox: Outbox,
    worker: str,
    alerts: Sequence[Alert],
    message: Message,
    notifier: Notifier,
    now: datetime,
) -> str:
    """Send one message for claimed rows of one channel and record the outcome. If cancelled
    (shutdown) before the outcome is known, the rows are released to be sent again."""
    channel = alerts[0].channel
    try:
        if channel not in notifier.channels:
            delivery = Delivery({}, f"channel {channel} is not in the config", permanent=True)
        elif channel in notifier.errors:
            delivery = Delivery({}, notifier.errors[channel], permanent=False)
        elif channel in notifier.webhooks:
            payload = webhook_payload(alerts, notifier, channel, now)
            delivery = await deliver_webhook(notifier, channel, payload)
        else:
            done = alerts[0].targets
            delivery = await deliver(notifier.channels[channel], message, done, notifier.timeout)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(outbox.release, [a.id for a in alerts], worker))
        raise
    # The message went out: its outcome is written even if we are cancelled meanwhile, or the
    # rows would be claimed and sent again once their lease ends.
    recording = asyncio.ensure_future(
        asyncio.to_thread(record_outcome, outbox, alerts, worker, delivery, now)
    )
    try:
        status = await asyncio.shield(recording)
    except asyncio.CancelledError:
        await asyncio.wait([recording])
        raise
    level = logging.INFO if status == SENT else logging.WARNING
    log.log(
        level,
        "alert %s to channel %s: %s%s",
        [a.id for a in alerts],
        channel,
        status,
        f" ({delivery.error})" if delivery.error else "",
    )
    return status


async def drain_outbox(
    outbox: Outbox,
    notifier: Notifier,
    now: datetime | None = None,
    *,
    stop: asyncio.Event | None = None,
    grace: float = STOP_GRACE,
) -> int:
    """Send every due immediate alert once; return how many were sent.

    Claims rows (pending and due, or left 'sending' by a sender whose lease ran out) so that
    concurrent senders never send the same row; sends up to 8 at a time; records per-target
    outcomes; transient failures are retried later with backoff, permanent ones are marked
    failed. Safe to call every few seconds; ``now`` defaults to the current UTC time.

    Stopping (``stop`` set, or this task cancelled) claims nothing more, releases the rows
    claimed but not started at once, and gives sends in flight ``grace`` seconds to finish
    and record their outcome (scheduler/send_batch.py): no row is left 'sending'.
    """
    stop = stop or asyncio.Event()
    sent = 0
    while not stop.is_set():
        at = now or datetime.now(UTC)
        worker = new_worker_id()
        claimed = await _claim(outbox, worker, at)

        async def release(alerts: list[Alert], worker: str = worker) -> None:
            await asyncio.to_thread(outbox.release, [a.id for a in alerts], worker)

        async def send(alert: Alert, worker: str = worker, at: datetime = at) -> bool:
            message = alert_message(alert, notifier)
            return await send_claimed(outbox, worker, [alert], message, notifier, at) == SENT

        sent += await send_batch(claimed, send, release, parallel=_PARALLEL, stop=stop, grace=grace)
        if len(claimed) < _BATCH:
            break
    return sent


async def _claim(outbox: Outbox, worker: str, at: datetime) -> list[Alert]:
    """Claim a batch; if cancelled meanwhile, the claim still ends in its thread: give its
    rows back before stopping, or they would wait 'sending' for their lease to end."""
    claiming = asyncio.ensure_future(
        asyncio.to_thread(outbox.claim_immediate, worker, at, LEASE, _BATCH)
    )
    try:
        return await asyncio.shield(claiming)
    except asyncio.CancelledError:
        await asyncio.wait([claiming])
        if not claiming.cancelled() and claiming.exception() is None:
            ids = [a.id for a in claiming.result()]
            await asyncio.shield(asyncio.to_thread(outbox.release, ids, worker))
        raise


async def send_test(notifier: Notifier, channel: str) -> Delivery:
    """Send a test message to a channel (``haitiwatch alerts test CHANNEL``)."""
    if channel not in notifier.channels:
        known = ", ".join(sorted(notifier.channels)) or "none"
        # A name from the command line: a usage error, not a config error.
        raise HaitiwatchError(f"no channel named {channel!r} (known: {known})")
    if channel in notifier.errors:
        raise ConfigError(notifier.errors[channel])
    if channel in notifier.webhooks:
        return await deliver_webhook(
            notifier, channel, channel_test_payload(channel, datetime.now(UTC))
        )
    message = test_message(channel, datetime.now(UTC))
    return await deliver(notifier.channels[channel], message, timeout=notifier.timeout)
