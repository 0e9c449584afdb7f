"""Alert messages: one alert or a digest item in plain text, Markdown (Slack) and HTML (email).
Text and HTML bodies come from Jinja2 templates (scheduler/alert_bodies.py); Markdown is
built here. Our own words are in the rule's language (``language`` in [[rules]]): marked for
the shared catalogs (scheduler/catalogs.py) and translated with ``words(...)``.

Feed text is untrusted: it is flattened, escaped for each format, and links are shown only
when they are plain http(s) URLs. With [web] base_url and a link secret configured, every
item carries two signed one-click links to mark the article relevant or not (scheduler/
mark_links.py); without them, items carry none.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from babel.support import NullTranslations
from markupsafe import Markup

from haitiwatch.db.alerts import Alert
from haitiwatch.db.near_misses import MISSES_SUFFIX
from haitiwatch.scheduler.catalogs import translations

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


def words(alert: Alert, notifier: Notifier) -> NullTranslations:
    """The catalog of the language the alert's rule writes in."""
    return translations(notifier.language(alert.rule))


def meta_line(alert: Alert, notifier: Notifier) -> str:
    t = words(alert, notifier)
    moment = alert.published or alert.first_seen
    when = moment.astimezone(notifier.zone).strftime("%Y-%m-%d %H:%M %Z")
    parts = [alert.outlet, when, alert.language or t.gettext("language unknown")]
    if alert.story_outlets > 1:
        count = alert.story_outlets
        parts.append(
            t.ngettext(
                "%(count)s outlet carries this story", "%(count)s outlets carry this story", count
            )
            % {"count": count}
        )
    if (coverage := event_summary(alert, t)) is not None:
        parts.append(coverage)
    return " · ".join(parts)


@dataclass(frozen=True, slots=True)
class ItemView:
    """What the templates show of one alert (scheduler/alert_templates/item.*): feed text made
    one-line and bounded; ``snippet_html`` is already escaped, with the matches marked."""

    rule: str
    title: str
    link: str | None
    url: str
    meta: str
    snippet_text: str
    snippet_html: Markup
    terms: str
    archive_url: str | None
    marks: tuple[str, str] | None
    also: str = ""


def item_view(alert: Alert, notifier: Notifier, also: str = "") -> ItemView:
    snippet = notifier.snippet(alert)
    return ItemView(
        rule=alert.rule,
        title=one_line(alert.title, 300),
        link=safe_link(alert.url),
        url=alert.url,
        meta=meta_line(alert, notifier),
        snippet_text=snippet.render(lambda s: s, "*", "*"),
        # Every piece of feed text is escaped by render(); only the marks are markup.
        snippet_html=Markup(snippet.render(html.escape, "<mark><b>", "</b></mark>")),  # noqa: S704
        terms=_terms_line(alert, notifier),
        archive_url=notifier.archive_link(alert),
        marks=mark_links(alert, notifier),
        also=also,
    )


def event_summary(alert: Alert, t: NullTranslations) -> str | None:
    """The event's coverage besides this report ("12 more outlets, 3 languages"): further
    reports of an event alert no more, they are counted here."""
    outlets, languages = alert.event_coverage
    if outlets <= 1:
        return None
    more = t.ngettext("%(count)s more outlet", "%(count)s more outlets", outlets - 1)
    spoken = t.ngettext("%(count)s language", "%(count)s languages", languages)
    return f"{more % {'count': outlets - 1}}, {spoken % {'count': languages}}"


def item_text(alert: Alert, notifier: Notifier) -> str:
    language = notifier.language(alert.rule)
    return notifier.bodies.render("item.txt", language, item=item_view(alert, notifier))


def item_html(alert: Alert, notifier: Notifier) -> str:
    language = notifier.language(alert.rule)
    return notifier.bodies.render("item.html", language, item=item_view(alert, notifier))


def item_markdown(alert: Alert, notifier: Notifier) -> str:
    title, link = md_escape(one_line(alert.title, 300)), safe_link(alert.url)
    heading = f"**[{title}]({link})**" if link else f"**{title}**"
    snippet = notifier.snippet(alert).render(md_escape, "**", "**")
    archive = notifier.archive_link(alert)
    in_archive = md_escape(words(alert, notifier).gettext("In the archive"))
    return "\n".join(
        [
            heading,
            md_escape(meta_line(alert, notifier)),
            snippet,
            md_escape(_terms_line(alert, notifier)),
            *([f"[{in_archive}]({archive})"] if archive else []),
            *_markdown_mark_links(alert, notifier),
        ]
    )


def _terms_line(alert: Alert, notifier: Notifier) -> str:
    t = words(alert, notifier)
    if alert.score is not None:  # the query did not match: say why the rule alerted anyway
        return t.gettext("Rule %(rule)s: its learned model scored this %(score)s") % {
            "rule": alert.rule,
            "score": f"{alert.score:.2f}",
        }
    terms = ", ".join(alert.terms[:8])
    if not terms:
        return t.gettext("Rule %(rule)s") % {"rule": alert.rule}
    return t.gettext("Rule %(rule)s matched: %(terms)s") % {"rule": alert.rule, "terms": terms}


def alert_message(alert: Alert, notifier: Notifier) -> Message:
    """The message for one immediate alert."""
    title = one_line(f"[{alert.rule}] {alert.title}", 250)
    view, language = item_view(alert, notifier), notifier.language(alert.rule)
    return Message(
        title,
        notifier.bodies.render("alert.txt", language, item=view),
        item_markdown(alert, notifier),
        notifier.bodies.render("alert.html", language, item=view),
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


def _markdown_mark_links(alert: Alert, notifier: Notifier) -> list[str]:
    pair = mark_links(alert, notifier)
    if pair is None:
        return []
    t = words(alert, notifier)
    relevant, not_relevant = md_escape(t.gettext("Relevant")), md_escape(t.gettext("Not relevant"))
    return [f"[{relevant}]({pair[0]}) · [{not_relevant}]({pair[1]})"]
