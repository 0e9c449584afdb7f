"""An event's follow-up alert (``event_followup`` on a rule), through the real Store on SQLite
and PostgreSQL and a real SMTP server (aiosmtpd): an event alerted, two more outlets report
it, and once the quiet period has passed exactly one follow-up counts them, across restarts.
The clock is injected: every save and every run says what time it is."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from email.header import decode_header, make_header
from email.message import Message as EmailMessage
from pathlib import Path

from haitiwatch.crawler.event_matcher import EventMatcher
from haitiwatch.db.archive import Archive
from haitiwatch.db.event_index import EventIndex
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import LoadedConfig, load_config
from haitiwatch.scheduler.event_followups import run_due_followups
from haitiwatch.scheduler.notify import Notifier, drain_outbox, rule_match_hook
from tests.integration import test_alerts_delivery as delivery
from tests.integration.test_alerts_delivery import Inbox
from tests.integration.test_events import NOW, OUTLETS, report
from tests.unit.test_events import CHOLERA, VOTE_EN, VOTE_FR, VOTE_REWORDED

smtp = delivery.smtp  # the loopback SMTP server of the alert delivery tests

QUIET = timedelta(hours=2)


def setup(tmp_path: Path, db_url: str, port: int, followup: str | None = "2h") -> LoadedConfig:
    config = tmp_path / "hw.toml"
    mail = f"mailto://127.0.0.1:{port}?to=desk@example.org&from=hw@example.org&user=u&pass=secret"
    option = f'event_followup = "{followup}"\n' if followup else ""
    config.write_text(
        f'[database]\nurl = "{db_url}"\n\n[web]\npublic_url = "https://news.example.org"\n\n'
        f'[channels.desk]\nurl = "{mail}"\n\n'
        f'[[rules]]\nname = "haiti"\nquery = "haiti OR haïti"\nchannels = ["desk"]\n{option}',
        "utf-8",
    )
    return load_config(config)


class Service:
    """What the running service holds: the Store, the archive and the notifier. Closing it
    and making another is a restart."""

    def __init__(self, loaded: LoadedConfig) -> None:
        self.store = Store.open(
            loaded.database_url,
            [rule_match_hook(loaded.config)],
            events=EventIndex(EventMatcher()),
        )
        self.store.sync_sources(
            [SourceSpec(n, "feed", f"https://{n}.example/feed") for n in OUTLETS], NOW
        )
        self.archive = Archive(self.store)
        self.notifier = Notifier.from_config(loaded)

    def save(
        self, outlet: str, slug: str, item: tuple[str, str], language: str, at: datetime
    ) -> None:
        self.store.save_article(report(outlet, slug, item, language), at)

    def alerts(self, at: datetime) -> int:
        return asyncio.run(drain_outbox(self.archive.outbox, self.notifier, at))

    def followups(self, at: datetime) -> int:
        return asyncio.run(run_due_followups(self.archive, self.notifier, at))

    def close(self) -> None:
        self.store.close()


async def stopped_run(service: Service, at: datetime) -> int:
    stop = asyncio.Event()
    stop.set()
    return await run_due_followups(service.archive, service.notifier, at, stop=stop)


def event_of(loaded: LoadedConfig, outlet: str) -> int | None:
    store = Store.open(loaded.database_url)
    try:
        return next(a.event for a in store.iter_articles() if outlet in a.url)
    finally:
        store.close()


def subject(message: EmailMessage) -> str:
    return str(make_header(decode_header(message["Subject"])))


def bodies(message: EmailMessage) -> list[str]:
    parts = [p for p in message.walk() if not p.is_multipart()]
    return [p.get_payload(decode=True).decode() for p in parts]


def test_one_followup_counts_the_coverage_added_after_the_alert_across_restarts(
    tmp_path: Path, db_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    loaded = setup(tmp_path, db_url, port)
    service = Service(loaded)
    service.save("wire", "vote", VOTE_EN, "en", NOW)
    assert service.alerts(NOW) == 1
    service.save("lenouvelliste", "vote", VOTE_FR, "fr", NOW + timedelta(minutes=10))
    last = NOW + timedelta(minutes=20)
    service.save("daily", "kenya-force", VOTE_REWORDED, "en", last)
    service.save("health", "cholera", CHOLERA, "en", last)  # another event: its own alert
    assert service.alerts(last) == 1
    assert service.followups(last + QUIET - timedelta(seconds=1)) == 0  # not quiet yet
    service.close()

    service = Service(loaded)  # a restart before the quiet period ends
    assert service.followups(last + QUIET) == 1
    assert service.followups(last + QUIET + timedelta(minutes=1)) == 0
    service.close()
    service = Service(loaded)  # and another after it was sent
    assert service.followups(last + QUIET + timedelta(hours=1)) == 0
    service.close()

    assert len(inbox.messages) == 3  # the vote's alert, cholera's alert, the follow-up
    followup = inbox.messages[2]
    assert subject(followup) == (
        f"[haiti] {VOTE_EN[0]}: 2 more outlets, 2 languages since the alert"
    )
    # The email's HTML part (Apprise makes the text part from it, without the addresses).
    html = next(body for body in bodies(followup) if "<html>" in body)
    assert f'href="https://news.example.org/events/{event_of(loaded, "wire")}"' in html
    assert 'href="https://lenouvelliste.example/vote"' in html
    assert 'href="https://daily.example/kenya-force"' in html
    assert "cholera" not in html and 'href="https://wire.example/vote"' not in html


def test_a_restart_between_queueing_and_sending_sends_once(
    tmp_path: Path, db_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    loaded = setup(tmp_path, db_url, port)
    service = Service(loaded)
    service.save("wire", "vote", VOTE_EN, "en", NOW)
    service.alerts(NOW)
    service.save("lenouvelliste", "vote", VOTE_FR, "fr", NOW + timedelta(minutes=5))
    due = NOW + timedelta(minutes=5) + QUIET
    # Queued and claimed, then the service is stopping (SIGTERM): the row goes back, unsent.
    assert asyncio.run(stopped_run(service, due)) == 0
    service.close()
    service = Service(loaded)
    assert service.followups(due + timedelta(minutes=1)) == 1
    assert service.followups(due + timedelta(hours=1)) == 0
    service.close()
    assert [subject(m) for m in inbox.messages][1:] == [
        f"[haiti] {VOTE_EN[0]}: 1 more outlet, 2 languages since the alert"
    ]


def test_no_followup_without_new_coverage(
    tmp_path: Path, db_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    service = Service(setup(tmp_path, db_url, port))
    service.save("wire", "vote", VOTE_EN, "en", NOW)
    service.alerts(NOW)
    # The same outlet in the same language again is no new coverage.
    service.save("wire", "vote-update", VOTE_REWORDED, "en", NOW + timedelta(minutes=5))
    assert service.followups(NOW + timedelta(days=1)) == 0
    service.close()
    assert len(inbox.messages) == 1


def test_no_followup_when_the_rule_does_not_ask_for_one(
    tmp_path: Path, db_url: str, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    service = Service(setup(tmp_path, db_url, port, followup=None))
    service.save("wire", "vote", VOTE_EN, "en", NOW)
    service.alerts(NOW)
    service.save("lenouvelliste", "vote", VOTE_FR, "fr", NOW + timedelta(minutes=5))
    assert service.followups(NOW + timedelta(days=1)) == 0
    service.close()
    assert len(inbox.messages) == 1
