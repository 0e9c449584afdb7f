"""Alerts: the rule-matching Store hook, alert messages, and the sender that drains the outbox.

Service API (all async, for the APScheduler AsyncIOScheduler on the service's event loop):

- ``drain_outbox(outbox, notifier, now=None) -> int``: send due immediate alerts once; call it
  every few seconds and once more on SIGTERM.
- ``scheduler.digest.run_due_digests(outbox, notifier, now=None) -> int``: send the digests
  whose time has come; call it every minute.

Channel URLs are secrets (Apprise URLs hold tokens and passwords): they are resolved from
the config only when sending, and logs and stored errors name only the channel.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from crawler.rules import RuleSet, Snippet, compile_rule, make_snippet
from db.alerts import FAILED, PENDING, SENT, Alert, Outbox, new_worker_id
from db.articles import ArticleHook
from db.errors import ConfigError
from db.rule_matches import RuleHit, RuleMatchHook
from scheduler.assist import AssistedRules
from scheduler.config import Config, LoadedConfig, RuleConfig, channel_url

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
SEND_TIMEOUT = 30.0
_BATCH = 50
_PARALLEL = 8


# -- the Store hook ----------------------------------------------------------------------------


def compile_rules(rules: Sequence[RuleConfig]) -> RuleSet:
    return RuleSet(compile_rule(r.name, r.query) for r in rules)


def rule_match_hook(config: Config) -> ArticleHook:
    """The Store hook that records rule matches and outbox rows (rules compiled once)."""
    ruleset = compile_rules(config.rules)
    by_name = {r.name: r for r in config.rules}
    assisted = AssistedRules(config.rules)

    def match(title: str, text: str) -> list[RuleHit]:
        hits = [
            RuleHit(m.rule, by_name[m.rule].mode, tuple(by_name[m.rule].channels), m.terms)
            for m in ruleset.match(title, text)
        ]
        return hits + assisted.hits(title, text, {h.rule for h in hits})

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

    @classmethod
    def from_config(cls, loaded: LoadedConfig) -> Notifier:
        urls: dict[str, str | None] = {}
        errors: dict[str, str] = {}
        for name, channel in loaded.config.channels.items():
            try:
                urls[name] = channel_url(name, channel, loaded.origin)
            except ConfigError as e:  # the message names the variable or file, not a secret
                urls[name], errors[name] = None, str(e)
        return cls(urls, loaded.config.rules, loaded.config.service.timezone, errors)

    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def _rulesets(self) -> dict[str, RuleSet]:
        return {r.name: RuleSet([compile_rule(r.name, r.query)]) for r in self.rules}

    def channel_problems(self) -> dict[str, str]:
        """Why each unusable channel cannot send: a secret that cannot be read, or a URL that
        Apprise does not understand (named by its scheme only: the URL is a secret)."""
        problems = dict(self.errors)
        for name, url in self.channels.items():
            if url is not None and not apprise_accepts(url):
                scheme = url.split("://", 1)[0] if "://" in url else "(none)"
                problems[name] = (
                    f"channels.{name}: Apprise does not understand this URL "
                    f"(scheme {scheme!r}; see Apprise's list of services)"
                )
        return problems

    def snippet(self, alert: Alert, width: int = 240) -> Snippet:
        """A short excerpt of the article with the rule's matched terms marked."""
        ruleset = self._rulesets.get(alert.rule)
        found = ruleset.match(alert.title, alert.text) if ruleset else []
        return make_snippet(alert.text, found[0].marks if found else (), width=width)


def apprise_accepts(url: str) -> bool:
    """Whether Apprise makes at least one notification target of ``url``. Apprise's own error
    log, which would quote the whole URL and its secret, is silenced meanwhile."""
    import apprise  # slow import (~0.8 s of plugins): only when needed

    apprise_log = logging.getLogger("apprise")
    was_disabled, apprise_log.disabled = apprise_log.disabled, True
    try:
        targets = apprise.Apprise()
        return bool(targets.add(url)) and len(targets) > 0
    finally:
        apprise_log.disabled = was_disabled


# -- messages ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Message:
    """One message in the three forms targets take: plain text, Markdown, HTML."""

    title: str
    text: str
    markdown: str
    html: str


def one_line(value: str, limit: int = 200) -> str:
    """Feed text made safe for a subject or header: one line, no controls, bounded."""
    flat = " ".join("".join(c if c.isprintable() else " " for c in value).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~])")
_MENTION = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)


def md_escape(value: str) -> str:
    """CommonMark-escape feed text (Apprise turns it into Slack mrkdwn with &, <, > as
    entities, so no link or <!channel> mention can be injected); break @channel/@here."""
    return _MENTION.sub("@\u2060", _MD_SPECIAL.sub(r"\\\1", value))


def safe_link(url: str) -> str | None:
    return url if re.match(r"^https?://[^\s<>\"']+$", url) else None


def meta_line(alert: Alert, zone: ZoneInfo) -> str:
    moment = alert.published or alert.first_seen
    when = moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")
    parts = [alert.outlet, when, alert.language or "language unknown"]
    if alert.story_outlets > 1:
        parts.append(f"{alert.story_outlets} outlets carry this story")
    return " · ".join(parts)


def item_text(alert: Alert, notifier: Notifier) -> str:
    snippet = notifier.snippet(alert).render(lambda s: s, "*", "*")
    return "\n".join(
        [
            one_line(alert.title, 300),
            meta_line(alert, notifier.zone),
            snippet,
            _terms_line(alert),
            alert.url,
        ]
    )


def item_markdown(alert: Alert, notifier: Notifier) -> str:
    title, link = md_escape(one_line(alert.title, 300)), safe_link(alert.url)
    heading = f"**[{title}]({link})**" if link else f"**{title}**"
    snippet = notifier.snippet(alert).render(md_escape, "**", "**")
    return "\n".join(
        [
            heading,
            md_escape(meta_line(alert, notifier.zone)),
            snippet,
            md_escape(_terms_line(alert)),
        ]
    )


def item_html(alert: Alert, notifier: Notifier) -> str:
    title, link = html.escape(one_line(alert.title, 300)), safe_link(alert.url)
    heading = f'<a href="{html.escape(link)}">{title}</a>' if link else title
    snippet = notifier.snippet(alert).render(html.escape, "<mark><b>", "</b></mark>")
    shown_link = html.escape(alert.url)
    return (
        f'<h3 style="margin-bottom:4px">{heading}</h3>'
        f'<p style="color:#555;margin:0">{html.escape(meta_line(alert, notifier.zone))}</p>'
        f"<p>{snippet}</p>"
        f'<p style="color:#555">{html.escape(_terms_line(alert))}<br>{shown_link}</p>'
    )


def _terms_line(alert: Alert) -> str:
    if alert.score is not None:  # the query did not match: say why the rule alerted anyway
        return f"Rule {alert.rule}: its learned model scored this {alert.score:.2f}"
    terms = ", ".join(alert.terms[:8])
    return f"Rule {alert.rule}" + (f" matched: {terms}" if terms else "")


def alert_message(alert: Alert, notifier: Notifier) -> Message:
    """The message for one immediate alert."""
    title = one_line(f"[{alert.rule}] {alert.title}", 250)
    return Message(
        title,
        item_text(alert, notifier),
        item_markdown(alert, notifier),
        f"<html><body>{item_html(alert, notifier)}</body></html>",
    )


def test_message(channel: str, now: datetime) -> Message:
    text = f"haitiwatch test message for channel {channel} at {now.isoformat(timespec='seconds')}"
    return Message(
        f"haitiwatch test ({channel})", text, md_escape(text), f"<p>{html.escape(text)}</p>"
    )


# -- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """The outcome of sending one message to one channel's targets."""

    targets: dict[str, str]  # target index -> "sent" | a short, secret-free failure
    error: str | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and all(v == SENT for v in self.targets.values())


_HTTP_STATUS = re.compile(r"error=(\d{3})|\b(?:HTTP|status)\D{0,3}(\d{3})", re.IGNORECASE)


async def deliver(
    url: str | None,
    message: Message,
    done: Mapping[str, str] | None = None,
    timeout: float = SEND_TIMEOUT,
) -> Delivery:
    """Send ``message`` to every target of an Apprise URL, except targets already ``sent``
    in ``done``. Each target gets the body format it prefers (HTML for email, Markdown for
    Slack, text otherwise)."""
    import apprise  # slow import (~0.8 s of plugins): only when sending

    targets = apprise.Apprise()
    if url is None or not targets.add(url) or len(targets) == 0:
        return Delivery({}, "Apprise does not understand this channel's URL", permanent=True)
    outcomes: dict[str, str] = {}
    permanent = False
    for index, plugin in enumerate(targets):
        key = str(index)
        if (done or {}).get(key) == SENT:
            outcomes[key] = SENT
            continue
        outcome, is_permanent = await _send_one(apprise, plugin, message, timeout)
        outcomes[key] = outcome
        permanent = permanent or is_permanent
    failed = [f"target {k}: {v}" for k, v in outcomes.items() if v != SENT]
    return Delivery(outcomes, "; ".join(failed) or None, permanent)


async def _send_one(
    apprise: Any, plugin: Any, message: Message, timeout: float
) -> tuple[str, bool]:
    formats = plugin.notify_format
    preferred = formats[0] if isinstance(formats, tuple) else formats
    body_format, body = {
        apprise.NotifyFormat.HTML: (apprise.NotifyFormat.HTML, message.html),
        apprise.NotifyFormat.MARKDOWN: (apprise.NotifyFormat.MARKDOWN, message.markdown),
    }.get(preferred, (apprise.NotifyFormat.TEXT, message.text))
    single = apprise.Apprise()
    single.add(plugin)
    result = await single.async_notify(
        body=body, title=message.title, body_format=body_format, timeout=timeout
    )
    service = str(getattr(plugin, "service_name", "target"))
    for service_result in result:
        if not service_result:
            return _failure(service, service_result)
    return (SENT, False) if result else (f"{service}: not sent", False)


def _failure(service: str, service_result: Any) -> tuple[str, bool]:
    """A short reason (service, status, HTTP code) and whether retrying is pointless."""
    status = getattr(service_result.status, "name", "FAILURE").lower()
    code = None
    for attempt in service_result.attempts:
        for entry in attempt:
            if found := _HTTP_STATUS.search(entry.message):
                code = int(found.group(1) or found.group(2))
    reason = f"{service}: {status}" + (f" (HTTP {code})" if code else "")
    # 4xx means the request itself is wrong (bad token, removed webhook): retrying won't help.
    return reason, code is not None and 400 <= code < 500 and code not in (408, 429)


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
        else:
            done = alerts[0].targets
            delivery = await deliver(notifier.channels[channel], message, done, notifier.timeout)
    except asyncio.CancelledError:
        await asyncio.shield(asyncio.to_thread(outbox.release, [a.id for a in alerts], worker))
        raise
    status = await asyncio.to_thread(record_outcome, outbox, alerts, worker, delivery, now)
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
    lease: timedelta = LEASE,
) -> int:
    """Send every due immediate alert once; return how many were sent.

    Claims rows (pending and due, or left 'sending' by a sender whose lease ran out) so that
    concurrent senders never send the same row; sends up to 8 at a time; records per-target
    outcomes; transient failures are retried later with backoff, permanent ones are marked
    failed. Safe to call every few seconds and on SIGTERM; ``now`` defaults to the current
    UTC time.
    """
    limit = asyncio.Semaphore(_PARALLEL)
    sent = 0

    async def one(worker: str, alert: Alert, at: datetime) -> bool:
        async with limit:
            message = alert_message(alert, notifier)
            return await send_claimed(outbox, worker, [alert], message, notifier, at) == SENT

    while True:
        at = now or datetime.now(UTC)
        worker = new_worker_id()
        claimed = await asyncio.to_thread(outbox.claim_immediate, worker, at, lease, _BATCH)
        results = await asyncio.gather(*(one(worker, alert, at) for alert in claimed))
        sent += sum(results)
        if len(claimed) < _BATCH:
            return sent


async def send_test(notifier: Notifier, channel: str, now: datetime | None = None) -> Delivery:
    """Send a test message to a channel (``haitiwatch alerts test CHANNEL``)."""
    if channel not in notifier.channels:
        known = ", ".join(sorted(notifier.channels)) or "none"
        raise ConfigError(f"no channel named {channel!r} (known: {known})")
    if channel in notifier.errors:
        raise ConfigError(notifier.errors[channel])
    message = test_message(channel, now or datetime.now(UTC))
    return await deliver(notifier.channels[channel], message, timeout=notifier.timeout)
