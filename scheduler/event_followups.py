"""The optional follow-up alert of an event (a rule's ``event_followup = "2h"``).

An event alerts once (its first matching article). When it then gains coverage (a new outlet
or language) and has no new article for the rule's quiet period, one follow-up says what was
added: "<first report's title>: 12 more outlets, 3 languages since the alert", with the event
page and the new articles. Each minute the scheduler reads the waiting events (one query,
db/event_followups.py), decides which are due (crawler/event_followups.py, pure), queues
their rows in the alert outbox (at most one per rule, event and channel, ever) and sends them
like any alert: never lost (committed before sending), never twice (claimed by one sender;
a restart finds the row queued and adds none).
"""

from __future__ import annotations

import asyncio
import html
from datetime import UTC, datetime, timedelta
from typing import Final

from haitiwatch.crawler.event_followups import FollowupSummary, due_followups, summarise
from haitiwatch.db.alerts import SENT, Alert, new_worker_id
from haitiwatch.db.archive import Archive
from haitiwatch.db.event_followups import AlertedEvent
from haitiwatch.scheduler.messages import Message, md_escape, one_line, safe_link, words
from haitiwatch.scheduler.notify import LEASE, Notifier, send_claimed

#: How long after its quiet period an event is still looked at: a service down for longer
#: sends no follow-up for the coverage it missed (the event page shows it).
LOOKBACK: Final = timedelta(days=2)
#: The new articles a follow-up lists (the counts cover them all).
LISTED: Final = 10


async def run_due_followups(
    archive: Archive,
    notifier: Notifier,
    now: datetime | None = None,
    *,
    stop: asyncio.Event | None = None,
) -> int:
    """Queue the due follow-ups and send every queued one; return how many were sent. Once
    ``stop`` is set no further follow-up is sent (the rest stay queued)."""
    at = now or datetime.now(UTC)
    quiet = {r.name: r.event_followup for r in notifier.rules if r.event_followup and r.channels}
    if quiet:
        waiting = await asyncio.to_thread(
            archive.event_followups.waiting,
            list(quiet),
            at - max(quiet.values()) - LOOKBACK,
            at - min(quiet.values()) + timedelta(microseconds=1),
        )
        due = due_followups(waiting, quiet, at)
        if due:
            await asyncio.to_thread(archive.event_followups.queue, due, at)
    worker = new_worker_id()
    claimed = await asyncio.to_thread(archive.outbox.claim_followups, worker, at, LEASE)
    sent = 0
    for n, alert in enumerate(claimed):
        if stop is not None and stop.is_set():
            rest = [a.id for a in claimed[n:]]
            await asyncio.to_thread(archive.outbox.release, rest, worker)
            break
        event = await asyncio.to_thread(
            archive.event_followups.alerted, alert.rule, alert.channel, alert.event_id or -1
        )
        message = followup_message(alert, event, notifier)
        sent += await send_claimed(archive.outbox, worker, [alert], message, notifier, at) == SENT
    return sent


def followup_message(alert: Alert, event: AlertedEvent | None, notifier: Notifier) -> Message:
    """The message: "<first report's title>: 12 more outlets, 3 languages since the alert",
    the event page (with [web] base_url) and the articles added since, in the rule's language."""
    t = words(alert, notifier)
    summary = summarise(event) if event else FollowupSummary(0, 1, ())
    first = event.reports[0].title if event and event.reports else alert.title
    more = t.ngettext("%(count)s more outlet", "%(count)s more outlets", summary.new_outlets)
    spoken = t.ngettext("%(count)s language", "%(count)s languages", summary.languages)
    coverage = f"{more % {'count': summary.new_outlets}}, {spoken % {'count': summary.languages}}"
    headline = t.gettext("%(title)s: %(coverage)s since the alert") % {
        "title": one_line(first, 200),
        "coverage": coverage,
    }
    title = one_line(f"[{alert.rule}] {headline}", 250)
    page = _event_page(notifier, alert.event_id)
    new_heading = t.gettext("New reports since the alert:")
    listed = summary.added[:LISTED]
    text, markdown = [headline], [md_escape(headline)]
    body = [f"<h2>{html.escape(headline)}</h2>"]
    if page is not None:
        in_archive = t.gettext("In the archive")
        text.append(f"{in_archive}: {page}")
        markdown.append(f"[{md_escape(in_archive)}]({page})")
        body.append(f'<p><a href="{html.escape(page)}">{html.escape(in_archive)}</a></p>')
    text += ["", new_heading]
    markdown += ["", md_escape(new_heading)]
    body.append(f"<p>{html.escape(new_heading)}</p><ul>")
    for report in listed:
        meta = f"{report.outlet}, {report.language or t.gettext('language unknown')}"
        name, link = one_line(report.title, 200), safe_link(report.url)
        text.append(f"- {name} ({meta}) {report.url}")
        shown = f"[{md_escape(name)}]({link})" if link else md_escape(name)
        markdown.append(f"• {shown} ({md_escape(meta)})")
        anchor = (
            f'<a href="{html.escape(link)}">{html.escape(name)}</a>' if link else html.escape(name)
        )
        body.append(f"<li>{anchor} ({html.escape(meta)})</li>")
    if len(summary.added) > LISTED:
        rest = t.gettext("…and %(count)s more") % {"count": len(summary.added) - LISTED}
        text.append(rest)
        markdown.append(md_escape(rest))
        body.append(f"<li>{html.escape(rest)}</li>")
    body.append("</ul>")
    return Message(
        title,
        "\n".join(text),
        "\n".join(markdown),
        "<html><body>" + "".join(body) + "</body></html>",
    )


def _event_page(notifier: Notifier, event_id: int | None) -> str | None:
    if notifier.archive_url is None or event_id is None:
        return None
    return f"{notifier.archive_url.rstrip('/')}/events/{event_id}"
