"""Alerts delivered to real servers on loopback: Slack's webhook payload (Apprise's real Slack
plugin, pointed at a local receiver), email through aiosmtpd, Apprise's generic JSON webhook.
Outages (500s, refused connections), permanent failures, per-target retries, SIGKILL mid-send
and restart, digests across their time boundary."""

from __future__ import annotations

import asyncio
import email
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from apprise.plugins.slack import NotifySlack

from haitiwatch.db.alerts import FAILED, PENDING, SENDING, SENT, Outbox
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.digest import run_due_digests
from haitiwatch.scheduler.notify import Notifier, drain_outbox, rule_match_hook
from tests.support import REPO, run_cli
from tests.support.receiver import Receiver

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
SLACK = "slack://T1ABCDEFG/B1ABCDEFG/abcdefghijklmnopqrstuvwx/?blocks=yes"
EVIL_TITLE = "Kenyan police in Haïti <!channel> *bold* & <@U123> [x](https://evil.example)"
TEXT = (
    "Hundreds of Kenyan police officers landed in Port-au-Prince on Tuesday, the first "
    "contingent of the Multinational Security Support mission. <script>alert(1)</script> "
    "@channel @here officials said. "
) * 3
RULES = """
[[rules]]
name = "mission"
query = '"multinational security support" OR (kenyan* NEAR/10 "port-au-prince")'
channels = ["desk"]

[[rules]]
name = "gangs"
query = "gangs NEAR/5 haiti"
channels = ["desk"]
mode = "digest"
digest = "daily 07:00"
timezone = "America/Port-au-Prince"
"""


# -- loopback servers -------------------------------------------------------------------------


@pytest.fixture
def slack(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """Apprise's real Slack plugin, posting to the loopback receiver instead of hooks.slack.com."""
    monkeypatch.setattr(NotifySlack, "webhook_url", receiver.url("/services"))
    return receiver


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=accept_desk_login,
        auth_require_tls=False,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def accept_desk_login(server: Any, session: Any, envelope: Any, mechanism: str, auth: Any) -> Any:
    from aiosmtpd.smtp import AuthResult

    return AuthResult(success=(auth.login, auth.password) == (b"u", b"secret"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- the archive ------------------------------------------------------------------------------


def record(n: int = 1, **changes: object) -> ArticleRecord:
    base = ArticleRecord(
        source="outlet",
        url=f"https://outlet.example/{n}",
        canonical_url=f"https://outlet.example/{n}",
        title=EVIL_TITLE,
        text=TEXT,
        text_origin="page",
        guid=str(n),
        guid_key=f"outlet|{n}",
        content_hash=f"{n:032d}",
        outlet="outlet.example",
        published=NOW - timedelta(minutes=5),
        language="en",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def open_store(tmp_path: Path, channels: str = 'url = "json://127.0.0.1:9/x"') -> Store:
    config = parse_config(f"[channels.desk]\n{channels}\n{RULES}", "test.toml")
    store = Store.open(f"sqlite:///{tmp_path / 'hw.db'}", [rule_match_hook(config)])
    specs = [SourceSpec(n, "feed", f"https://{n}.example/f") for n in ("outlet", "other")]
    store.sync_sources(specs, NOW)
    return store


def notifier(url: str | None, **kwargs: Any) -> Notifier:
    config = parse_config(f'[channels.desk]\nurl = "json://127.0.0.1:9/x"\n{RULES}', "test.toml")
    return Notifier({"desk": url}, config.rules, "America/Port-au-Prince", **kwargs)


def drain(store: Store, note: Notifier, at: datetime = NOW) -> int:
    return asyncio.run(drain_outbox(Outbox(store.engine), note, at))


def statuses(store: Store) -> list[tuple[str, int, str | None]]:
    return [(a.status, a.attempts, a.last_error) for a in Outbox(store.engine).list_alerts()]


# -- tests ------------------------------------------------------------------------------------


def test_slack_gets_blocks_with_feed_text_escaped(tmp_path: Path, slack: Receiver) -> None:
    store = open_store(tmp_path)
    store.save_article(record(), NOW)
    assert drain(store, notifier(SLACK)) == 1
    [(path, payload)] = slack.posts
    assert path == "/services/T1ABCDEFG/B1ABCDEFG/abcdefghijklmnopqrstuvwx"
    header, section = payload["attachments"][0]["blocks"][:2]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert "[mission] Kenyan police in Haïti &lt;!channel&gt;" in header["text"]["text"]
    body = section["text"]["text"]
    assert section["text"]["type"] == "mrkdwn"
    assert "<https://outlet.example/1|" in body  # the link, in Slack's own syntax
    assert "*Multinational Security Support*" in body  # the matched terms, bold
    for injected in ("<!channel>", "<@U123>", "<script>", "<https://evil.example"):
        assert injected not in json.dumps(payload), injected
    assert "&lt;!channel&gt;" in body and "&lt;script&gt;" in body
    assert "@channel" not in body  # broken with a word joiner
    assert "outlet · " in body and "· en" in body
    assert statuses(store) == [(SENT, 1, None)]
    assert drain(store, notifier(SLACK), NOW + timedelta(hours=1)) == 0  # nothing twice
    assert len(slack.posts) == 1


def test_email_has_text_and_html_parts(tmp_path: Path, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    store = open_store(tmp_path)
    store.save_article(record(), NOW)
    url = f"mailto://127.0.0.1:{port}?to=desk@example.org&from=hw@example.org&user=u&pass=secret"
    assert drain(store, notifier(url)) == 1
    [mail] = inbox.messages
    subject = str(email.header.make_header(email.header.decode_header(mail["Subject"])))
    assert subject.startswith("[mission] Kenyan police in Haïti")
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert set(parts) == {"text/plain", "text/html"}
    assert "<mark><b>Multinational Security Support</b></mark>" in parts["text/html"]
    assert "&lt;script&gt;" in parts["text/html"] and "<script>" not in parts["text/html"]
    assert 'href="https://outlet.example/1"' in parts["text/html"]
    assert "https://outlet.example/1" in parts["text/plain"]
    assert "Multinational Security Support" in parts["text/plain"]


def test_outage_retries_with_backoff_then_recovers(tmp_path: Path, receiver: Receiver) -> None:
    store = open_store(tmp_path)
    store.save_article(record(), NOW)
    receiver.statuses = [500]
    note = notifier("json://" + receiver.url("/hook")[7:])
    assert drain(store, note) == 0
    [(status, attempts, error)] = statuses(store)
    assert (status, attempts) == (PENDING, 1) and "HTTP 500" in (error or "")
    assert drain(store, note, NOW + timedelta(seconds=10)) == 0  # backing off: not yet due
    assert len(receiver.posts) == 1
    assert drain(store, note, NOW + timedelta(seconds=31)) == 1
    assert statuses(store) == [(SENT, 2, None)]
    assert receiver.posts[-1][1]["title"].startswith("[mission]")


def test_connection_refused_is_transient(tmp_path: Path, receiver: Receiver) -> None:
    store = open_store(tmp_path)
    store.save_article(record(), NOW)
    assert drain(store, notifier(f"json://127.0.0.1:{free_port()}/hook")) == 0
    assert statuses(store)[0][:2] == (PENDING, 1)
    fixed = notifier("json://" + receiver.url("/hook")[7:])
    assert drain(store, fixed, NOW + timedelta(minutes=1)) == 1


def test_client_errors_are_permanent_and_listed(tmp_path: Path, receiver: Receiver) -> None:
    store = open_store(tmp_path)
    store.save_article(record(), NOW)
    receiver.statuses = [404]
    assert drain(store, notifier("json://" + receiver.url("/gone")[7:])) == 0
    [(status, _, error)] = statuses(store)
    assert status == FAILED and "HTTP 404" in (error or "") and "permanent" in (error or "")
    assert (
        drain(store, notifier("json://" + receiver.url("/gone")[7:]), NOW + timedelta(days=1)) == 0
    )
    config = tmp_path / "hw.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///hw.db"\n[channels.desk]\nurl = "json://127.0.0.1:9/x"\n{RULES}'
    )
    run = run_cli("alerts", "--status", "failed", "--format", "json", config=config).check()
    [listed] = json.loads(run.stdout)
    assert listed["status"] == FAILED and "HTTP 404" in listed["error"]
    assert "127.0.0.1" not in run.stdout  # errors never carry the channel URL


def test_only_failed_targets_are_retried(tmp_path: Path, receiver: Receiver) -> None:
    store = open_store(tmp_path)
    store.save_article(record(), NOW)
    receiver.statuses = [200, 503]  # target 0 accepts, target 1 is down
    base = "json://" + receiver.url("")[7:]
    note = notifier(f"{base}/a, {base}/b")
    assert drain(store, note) == 0
    assert [p for p, _ in receiver.posts] == ["/a", "/b"]
    assert drain(store, note, NOW + timedelta(minutes=1)) == 1
    assert [p for p, _ in receiver.posts] == ["/a", "/b", "/b"]


def test_missing_secret_fails_its_channel_without_leaking(tmp_path: Path) -> None:
    config = parse_config(f'[channels.desk]\nurl_env = "HW_TEST_UNSET_URL"\n{RULES}', "t.toml")
    from haitiwatch.scheduler.config import LoadedConfig

    loaded = LoadedConfig(
        config=config, origin="t.toml", base_dir=tmp_path, database_url="sqlite://"
    )
    note = Notifier.from_config(loaded)
    assert "HW_TEST_UNSET_URL" in note.errors["desk"]
    store = open_store(tmp_path)
    store.save_article(record(), NOW)
    assert drain(store, note) == 0
    assert statuses(store)[0][0] == PENDING and "HW_TEST_UNSET_URL" in (statuses(store)[0][2] or "")


_KILLED_SENDER = """
import asyncio, sys
from apprise.plugins.slack import NotifySlack
NotifySlack.webhook_url = sys.argv[2]
from haitiwatch.db.alerts import Outbox
from haitiwatch.db.database import create_db_engine
from haitiwatch.scheduler.notify import Notifier, drain_outbox
asyncio.run(drain_outbox(Outbox(create_db_engine(sys.argv[1])), Notifier({"desk": sys.argv[3]})))
"""


def test_sigkill_mid_send_then_restart_sends_once(tmp_path: Path, slack: Receiver) -> None:
    store = open_store(tmp_path)
    store.save_article(record(), NOW - timedelta(minutes=1))
    slack.delay = 60  # the server holds the request: the sender is mid-send when killed
    sender = subprocess.Popen(
        [
            sys.executable,
            "-c",
            _KILLED_SENDER,
            f"sqlite:///{tmp_path / 'hw.db'}",
            slack.url("/services"),
            SLACK,
        ],
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        assert slack.arrived.wait(30), "the sender never sent"
        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
    finally:
        sender.kill()
    assert statuses(store)[0][0] == SENDING  # claimed, outcome unknown
    slack.delay = 0
    now = datetime.now(UTC)
    assert drain(store, notifier(SLACK), now) == 0  # the dead sender's lease still holds
    assert drain(store, notifier(SLACK), now + timedelta(minutes=3)) == 1  # lease over: resent
    assert statuses(store)[0][:2] == (SENT, 2)
    assert drain(store, notifier(SLACK), now + timedelta(hours=1)) == 0  # and never again
    assert len(slack.posts) == 2


def test_digest_waits_for_its_time_and_groups_stories(tmp_path: Path, receiver: Receiver) -> None:
    store = open_store(tmp_path)
    haiti = timedelta(hours=-5)  # America/Port-au-Prince in November
    day = datetime(2026, 11, 16, tzinfo=UTC) - haiti  # local midnight, in UTC
    gangs = "Gangs attacked Haiti's capital overnight, residents said. " * 5
    store.save_article(
        record(1, title="Older gangs story", text=gangs, published=day + timedelta(hours=5)),
        day + timedelta(hours=6, minutes=50),
    )
    store.save_article(
        record(
            2,
            title="Newer gangs story",
            text=gangs + " Update.",
            published=day + timedelta(hours=6),
        ),
        day + timedelta(hours=6, minutes=55),
    )
    copy = record(
        3,
        source="other",
        outlet="other.example",
        title="Copy",
        text=gangs + " Update.",
        content_hash=f"{2:032d}",
        published=day + timedelta(hours=6),
    )
    store.save_article(copy, day + timedelta(hours=6, minutes=58))
    store.save_article(
        record(4, title="After seven", text=gangs + " Later.", published=day),
        day + timedelta(hours=7, minutes=10),
    )
    note, outbox = notifier("json://" + receiver.url("/digest")[7:]), Outbox(store.engine)
    assert asyncio.run(run_due_digests(outbox, note, day + timedelta(hours=6, minutes=59))) == 0
    assert asyncio.run(run_due_digests(outbox, note, day + timedelta(hours=7, minutes=20))) == 1
    [(_, payload)] = receiver.posts
    assert payload["title"] == "[gangs] digest 2026-11-16 07:00 EST: 2 stories"
    body = payload["message"]
    assert body.index("Newer gangs story") < body.index("Older gangs story")
    assert "2 outlets carry this story" in body and "After seven" not in body
    assert asyncio.run(run_due_digests(outbox, note, day + timedelta(hours=12))) == 0
    assert asyncio.run(run_due_digests(outbox, note, day + timedelta(days=1, hours=7))) == 1
    assert "After seven" in receiver.posts[-1][1]["message"]
    assert [s for s, _, _ in statuses(store)] == [SENT] * 3


def test_alerts_test_and_rules_test_commands(tmp_path: Path, receiver: Receiver) -> None:
    store = open_store(tmp_path)
    store.save_article(record(), NOW)
    store.close()
    config = tmp_path / "hw.toml"
    channel = "json://" + receiver.url("/t")[7:]
    config.write_text(
        f'[database]\nurl = "sqlite:///hw.db"\n[channels.desk]\nurl_env = "HW_DESK"\n{RULES}'
    )
    run = run_cli("alerts", "test", "desk", config=config, env={"HW_DESK": channel}).check()
    assert "target 0: sent" in run.stdout and not run.refused
    assert receiver.posts[0][1]["title"] == "haitiwatch test (desk)"
    run = run_cli("rules", "test", "mission", "--since", "all", config=config).check()
    assert "rule mission: 1 of 1 articles match" in run.stdout
    assert "Multinational Security Support" in run.stdout and "outlet" in run.stdout
    bad = tmp_path / "bad.toml"
    bad.write_text('[[rules]]\nname = "broken"\nquery = """\nkenya\n  OR (haiti\n"""\n')
    run = run_cli("rules", "check", config=bad)
    assert run.returncode == 78
    assert "rule 'broken'" in run.stderr and "line 2, column 6" in run.stderr


def test_rules_check_fails_on_a_channel_url_apprise_cannot_parse(tmp_path: Path) -> None:
    config = tmp_path / "hw.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///hw.db"\n'
        '[channels.desk]\nurl = "json://127.0.0.1:9/hook"\n'
        '[channels.typo]\nurl = "slakc://T1SECRET/B1SECRET/tokensecret"\n'
        '[[rules]]\nname = "mission"\nquery = "haiti"\nchannels = ["desk", "typo"]\n'
    )
    run = run_cli("rules", "check", config=config)
    assert run.returncode == 1, run.stdout
    assert "channels.typo: Apprise does not understand this URL (scheme 'slakc'" in run.stdout
    assert "channels.desk" not in run.stdout
    assert "SECRET" not in run.stdout + run.stderr
    config.write_text(config.read_text().replace('"desk", "typo"', '"desk"'))
    run = run_cli("rules", "check", config=config)
    assert run.returncode == 1, "a spare channel that cannot send is a problem too"
    assert "channel typo: channels.typo: Apprise does not understand" in run.stdout
    config.write_text(config.read_text().replace("slakc://", "slack://"))
    run = run_cli("rules", "check", config=config).check()
    assert "1 rules OK" in run.stdout
