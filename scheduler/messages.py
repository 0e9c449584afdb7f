"""Alert messages: one alert or a digest item in plain text, Markdown (Slack) and HTML (email).

Feed text is untrusted: it is flattened, escaped for each format, and links are shown only
when they are plain http(s) URLs. With [web] public_url and a link secret configured, every
item carries two signed one-click links to mark the article relevant or not (scheduler/
mark_links.py); without them, items carry none.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from haitiwatch.db.alerts import Alert
from haitiwatch.db.near_misses import MISSES_SUFFIX

if TYPE_CHECKING:  # the Notifier carries these helpers' settings; it imports this module
    from haitiwatch.scheduler.notify import Notifier


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
    if (coverage := event_summary(alert)) is not None:
        parts.append(coverage)
    return " · ".join(parts)


def event_summary(alert: Alert) -> str | None:
    """The event's coverage besides this report ("12 more outlets, 3 languages"): further
    reports of an event alert no more, they are counted here."""
    outlets, languages = alert.event_coverage
    if outlets <= 1:
        return None
    more = outlets - 1
    return (
        f"{more} more {'outlet' if more == 1 else 'outlets'}, "
        f"{languages} {'language' if languages == 1 else 'languages'}"
    )


def item_text(alert: Alert, notifier: Notifier) -> str:
    snippet = notifier.snippet(alert).render(lambda s: s, "*", "*")
    return "\n".join(
        [
            one_line(alert.title, 300),
            meta_line(alert, notifier.zone),
            snippet,
            _terms_line(alert),
            alert.url,
            *_text_mark_links(alert, notifier),
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
            *_markdown_mark_links(alert, notifier),
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
        + _html_mark_links(alert, notifier)
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


def mark_links(alert: Alert, notifier: Notifier) -> tuple[str, str] | None:
    """Signed (relevant, not relevant) links for an alert item, or None when not configured."""
    if notifier.links is None:
        return None
    rule = alert.rule.removesuffix(MISSES_SUFFIX)  # a possible miss is marked for its rule
    return notifier.links.links(alert.article_id, rule, datetime.now(UTC))


def _text_mark_links(alert: Alert, notifier: Notifier) -> list[str]:
    pair = mark_links(alert, notifier)
    return [f"Relevant: {pair[0]}", f"Not relevant: {pair[1]}"] if pair else []


def _markdown_mark_links(alert: Alert, notifier: Notifier) -> list[str]:
    pair = mark_links(alert, notifier)
    return [f"[Relevant]({pair[0]}) · [Not relevant]({pair[1]})"] if pair else []


def _html_mark_links(alert: Alert, notifier: Notifier) -> str:
    # The addresses are shown as text too: the mail's plain-text part is made from this HTML.
    pair = mark_links(alert, notifier)
    if pair is None:
        return ""
    yes, no = (html.escape(link) for link in pair)
    return (
        f"<p>Mark for rule {html.escape(alert.rule)}:<br>"
        f'Relevant: <a href="{yes}">{yes}</a><br>'
        f'Not relevant: <a href="{no}">{no}</a></p>'
    )
