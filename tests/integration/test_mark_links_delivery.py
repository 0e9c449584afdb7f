"""Signed mark links in real alerts: an email through aiosmtpd and a Slack webhook body carry
them; following one records the mark once; forged, expired and replayed links change nothing."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haitiwatch.db.alerts import Outbox
from haitiwatch.db.archive import Archive
from haitiwatch.db.marks import Marks
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import LoadedConfig, load_config
from haitiwatch.scheduler.digest import digest_message
from haitiwatch.scheduler.mark_links import LinkSigner, link_signer
from haitiwatch.scheduler.notify import Notifier, drain_outbox, rule_match_hook
from haitiwatch.scheduler.web import create_app
from tests.integration import test_alerts_delivery as delivery
from tests.integration.test_alerts_delivery import NOW, RULES, SLACK, Inbox, record
from tests.support import run_cli
from tests.support.receiver import Receiver
from tests.support.web import free_port, get, serve

# The loopback SMTP server and Slack receiver of the alert delivery tests.
smtp = delivery.smtp
slack = delivery.slack
SECRET = "mark-link-secret-0123456789abcdef"


@dataclass
class Setup:
    loaded: LoadedConfig
    store: Store
    url: str


def write_config(tmp_path: Path, public_url: str, channel: str) -> Path:
    config = tmp_path / "hw.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///hw.db"\n\n[web]\npublic_url = "{public_url}"\n'
        f'link_secret_env = "HW_TEST_LINK_SECRET"\n\n[channels.desk]\nurl = "{channel}"\n{RULES}',
        "utf-8",
    )
    return config


@pytest.fixture
def setup(
    tmp_path: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> Iterator[Setup]:
    monkeypatch.setenv("HW_TEST_LINK_SECRET", SECRET)
    _, smtp_port = smtp
    port = free_port()
    mail = (
        f"mailto://127.0.0.1:{smtp_port}?to=desk@example.org&from=hw@example.org&user=u&pass=secret"
    )
    loaded = load_config(write_config(tmp_path, f"http://127.0.0.1:{port}", mail))
    store = Store.open(loaded.database_url, [rule_match_hook(loaded.config)])
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/f")], NOW)
    store.save_article(record(), NOW)
    for _ in serve(create_app(Archive(store), loaded, "127.0.0.1"), port):
        yield Setup(loaded, store, f"http://127.0.0.1:{port}")


def follow(link: str) -> tuple[int, str, dict[str, str]]:
    """GET the link, as a person (or a mail scanner) does: status, page, the form's fields."""
    status, _, body = get(link)
    page = body.decode()
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', page))
    return status, page, {k: html.unescape(v) for k, v in fields.items()}


def press(setup: Setup, fields: dict[str, str]) -> tuple[int, str]:
    import urllib.error
    import urllib.request

    data = urllib.parse.urlencode(fields).encode()
    try:
        with urllib.request.urlopen(setup.url + "/mark", data=data, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def current_marks(setup: Setup) -> list[tuple[str, str, str]]:
    return [(m.rule, m.verdict, m.origin) for m in Marks(setup.store.engine).list_marks()]


def test_email_link_records_once_and_refuses_forgeries(
    setup: Setup, smtp: tuple[Inbox, int]
) -> None:
    inbox, _ = smtp
    notifier = Notifier.from_config(setup.loaded)
    assert asyncio.run(drain_outbox(Outbox(setup.store.engine), notifier, NOW)) == 1
    [mail] = inbox.messages
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in mail.walk()
        if not p.is_multipart()
    }
    assert SECRET not in str(mail)
    relevant = re.search(r"^Relevant: (\S+)", parts["text/plain"], re.M)
    irrelevant = re.search(r"^Not relevant: (\S+)", parts["text/plain"], re.M)
    assert relevant and irrelevant and relevant.group(1).startswith(setup.url + "/mark?")
    assert html.escape(relevant.group(1)) in parts["text/html"]

    status, page, fields = follow(relevant.group(1))  # a scanner's prefetch records nothing
    assert status == 200 and "Nothing is recorded until you press the button" in page
    assert current_marks(setup) == [] and SECRET not in page
    status, page = press(setup, fields)
    assert status == 200 and "Recorded: article" in page
    assert current_marks(setup) == [("mission", "relevant", "link")]
    status, page = press(setup, fields)  # replayed
    assert status == 200 and "Already recorded" in page
    assert current_marks(setup) == [("mission", "relevant", "link")]

    forged = fields | {"v": "irrelevant"}
    assert follow(relevant.group(1).replace("v=relevant", "v=irrelevant"))[0] == 403
    status, page = press(setup, forged)
    assert status == 403 and "signature" in page and SECRET not in page
    signer = link_signer(setup.loaded)
    assert signer is not None
    made = datetime.now(UTC) - signer.lifetime - timedelta(minutes=1)
    stale = signer.link(int(fields["a"]), "mission", "irrelevant", made)
    status, page, _ = follow(stale)
    assert status == 403 and "expired" in page
    assert current_marks(setup) == [("mission", "relevant", "link")]

    status, page, fields = follow(irrelevant.group(1))  # the other link: a change of mind
    assert press(setup, fields)[0] == 200
    assert current_marks(setup) == [("mission", "irrelevant", "link")]


def test_slack_body_carries_links_that_record(setup: Setup, slack: Receiver) -> None:
    signer = link_signer(setup.loaded)
    notifier = Notifier({"desk": SLACK}, setup.loaded.config.rules, "UTC", links=signer)
    assert asyncio.run(drain_outbox(Outbox(setup.store.engine), notifier, NOW)) == 1
    [(_, payload)] = slack.posts
    body = payload["attachments"][0]["blocks"][1]["text"]["text"]
    found = re.search(r"<(http://127\.0\.0\.1:\d+/mark\?[^|>]+)\|Not relevant>", body)
    assert found, body
    status, _, fields = follow(html.unescape(found.group(1)))
    assert status == 200 and press(setup, fields)[0] == 200
    assert current_marks(setup) == [("mission", "irrelevant", "link")]


def test_digest_items_carry_links(setup: Setup) -> None:
    signer = LinkSigner(setup.url, SECRET.encode())
    notifier = Notifier({"desk": None}, setup.loaded.config.rules, "UTC", links=signer)
    alerts = Outbox(setup.store.engine).list_alerts()
    message = digest_message("mission", alerts, notifier, NOW)
    assert message.text.count("Relevant: " + setup.url + "/mark?") == len(alerts) == 1
    assert "[Not relevant](" in message.markdown and "Not relevant: <a href=" in message.html


def test_without_public_url_alerts_carry_no_links_and_rules_check_notes_it(
    tmp_path: Path, receiver: Receiver
) -> None:
    config = tmp_path / "hw.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///hw.db"\n[channels.desk]\nurl = "json://127.0.0.1:9/x"\n{RULES}'
    )
    loaded = load_config(config)
    assert Notifier.from_config(loaded).links is None
    run = run_cli("rules", "check", config=config).check()
    assert "note: alerts carry no mark links (set web.base_url and" in run.stdout
    write_config(tmp_path, "https://news.example.org", "json://127.0.0.1:9/x")
    run = run_cli("rules", "check", config=config, env={"HW_TEST_LINK_SECRET": ""}).check()
    assert (
        "note: alerts carry no mark links: web.link_secret_env: environment variable "
        "HW_TEST_LINK_SECRET is empty" in run.stdout
    )
    run = run_cli("rules", "check", config=config, env={"HW_TEST_LINK_SECRET": SECRET}).check()
    assert "mark links" not in run.stdout and SECRET not in run.stdout
