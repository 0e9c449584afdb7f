"""The optional daily "possible misses" digest of a rule (``audit_digest = "daily 08:00"``).

At each scheduled time the rule's best near misses among the articles first seen in the day
before it are queued in the alert outbox (db/near_misses.py: one row per story and channel,
ever), then claimed and sent like any digest. So a digest is never lost (its rows are
committed before sending; a sender that dies leaves them to the next), never sent twice (a
claim is exclusive, and a story is queued once), and a service that was down at 08:00 sends
it when it next runs.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Final

from haitiwatch.db.alerts import SENT, Alert, new_worker_id
from haitiwatch.db.archive import Archive
from haitiwatch.db.near_misses import possible_misses_key
from haitiwatch.scheduler.audit import audit_rule
from haitiwatch.scheduler.catalogs import translations
from haitiwatch.scheduler.digest import last_due, rule_zone
from haitiwatch.scheduler.messages import Message, item_html, item_markdown, item_text, md_escape
from haitiwatch.scheduler.notify import LEASE, Notifier
from haitiwatch.scheduler.notify import send_claimed as send
from haitiwatch.scheduler.rule_config import RuleConfig
from haitiwatch.scheduler.rules import compile_rule
from haitiwatch.scheduler.rules.near_miss import near_miss

#: Near misses per digest: enough to skim over coffee.
DIGEST_SIZE: Final = 10
#: Claim rows created at the boundary itself (the claim takes rows created *before* a time).
_JUST_AFTER: Final = timedelta(microseconds=1)


class PossibleMisses:
    """Queues and sends the possible-misses digests of the rules that ask for one."""

    def __init__(self, archive: Archive) -> None:
        self.archive = archive
        self.outbox = archive.outbox
        #: rule -> the scheduled time whose near misses this process has queued already.
        #: Only saves re-reading the day's articles every minute: queuing is idempotent.
        self._queued: dict[str, datetime] = {}

    async def run_due(
        self,
        notifier: Notifier,
        now: datetime | None = None,
        *,
        stop: asyncio.Event | None = None,
    ) -> int:
        """Queue and send every due possible-misses digest; return how many were sent. Once
        ``stop`` is set no further digest is claimed."""
        at = now or datetime.now(UTC)
        sent = 0
        for rule in notifier.rules:
            if not rule.audit_digest or not rule.channels:
                continue
            boundary = last_due(rule.audit_digest, rule_zone(rule, notifier), at)
            if boundary is None:
                continue
            if self._queued.get(rule.name) != boundary:
                await asyncio.to_thread(self._queue, rule, boundary)
                self._queued[rule.name] = boundary
            for channel in rule.channels:
                if stop is not None and stop.is_set():
                    return sent
                worker = new_worker_id()
                alerts = await asyncio.to_thread(
                    self.outbox.claim_digest,
                    possible_misses_key(rule.name),
                    channel,
                    boundary + _JUST_AFTER,
                    worker,
                    at,
                    LEASE,
                )
                if alerts:
                    message = misses_message(rule, alerts, notifier, boundary)
                    sent += await send(self.outbox, worker, alerts, message, notifier, at) == SENT
        return sent

    def _queue(self, rule: RuleConfig, boundary: datetime) -> int:
        day = boundary - timedelta(days=1)
        findings = audit_rule(self.archive, rule, day, DIGEST_SIZE, until=boundary)
        articles = [f.article for f in findings]
        return self.archive.near_misses.queue_possible_misses(
            rule.name, rule.channels, articles, boundary
        )


def misses_message(
    rule: RuleConfig, alerts: Sequence[Alert], notifier: Notifier, due: datetime
) -> Message:
    """One message listing the near misses, each with why it looks on topic."""
    compiled = compile_rule(rule.name, rule.query)
    when = due.astimezone(notifier.zone).strftime("%Y-%m-%d %H:%M %Z")
    t = translations(rule.language)
    title = t.ngettext(
        "[%(rule)s] possible misses %(when)s: %(count)s article the rule did not match",
        "[%(rule)s] possible misses %(when)s: %(count)s articles the rule did not match",
        len(alerts),
    ) % {"rule": rule.name, "when": when, "count": len(alerts)}
    text, markdown, html_parts = [title], [md_escape(title)], [f"<h2>{html.escape(title)}</h2>"]
    for alert in alerts:
        found = near_miss(compiled, alert.title, alert.text)
        # The reasons name the rule's own terms, so they stay as they are.
        reasons = "; ".join(found.reasons) if found else t.gettext("(the rule matches it now)")
        why = t.gettext("Why: %(reasons)s") % {"reasons": reasons}
        text += ["", item_text(alert, notifier), why]
        markdown += ["", item_markdown(alert, notifier), md_escape(why)]
        html_parts.append(item_html(alert, notifier) + f"<p>{html.escape(why)}</p>")
    body = "<html><body>" + "<hr>".join(html_parts) + "</body></html>"
    return Message(title, "\n".join(text), "\n".join(markdown), body)
