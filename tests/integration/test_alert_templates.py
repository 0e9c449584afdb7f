"""Email and digest bodies from Jinja2 templates: the package's own, or a deployment's files
that replace them by name ([alerts] templates); autoescaped HTML; a link back to the archive.
Delivered to a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import asyncio
import email
import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import Message as EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from haitiwatch.db.alerts import Alert, Outbox
from haitiwatch.db.errors import ConfigError
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import LoadedConfig, parse_config
from haitiwatch.scheduler.digest import digest_message
from haitiwatch.scheduler.messages import alert_message
from haitiwatch.scheduler.notify import Notifier, drain_outbox, rule_match_hook

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
EVIL = "Kenyan police <script>alert(1)</script> & <b>landing</b>"
TEXT = "The Multinational Security Support mission landed in Port-au-Prince. " * 4


class Inbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def setup(tmp_path: Path, channel_url: str, templates: Path | None) -> LoadedConfig:
    alerts = f'[alerts]\ntemplates = "{templates}"\n' if templates else ""
    text = f"""
{alerts}
[web]
public_url = "https://news.example.org"

[channels.desk]
url = "{channel_url}"

[[rules]]
name = "mission"
query = '"multinational security support"'
channels = ["desk"]
"""
    config = parse_config(text, "hw.toml")
    db = f"sqlite:///{tmp_path / 'hw.db'}"
    return LoadedConfig(config=config, origin="hw.toml", base_dir=tmp_path, database_url=db)


def alert(n: int = 1, story: int | None = 7) -> Alert:
    return Alert(
        id=n, rule="mission", channel="desk", mode="digest", status="sending", attempts=1,
        created_at=NOW, next_attempt_at=NOW, sent_at=None, last_error=None, targets={},
        article_id=n, title=EVIL, url=f"https://nation.example/{n}", outlet="nation",
        published=NOW - timedelta(hours=n), first_seen=NOW, language="fr", text=TEXT,
        story_id=story, terms=("Multinational Security Support",),
    )  # fmt: skip


def test_an_overriding_template_is_used_for_email_escaped(
    tmp_path: Path, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "alert.html").write_text(
        '<html><body><p class="ours">{{ item.title }}</p>'
        '<a href="{{ item.archive_url }}">archive</a> {{ item.snippet_html }}</body></html>'
    )
    mail = f"mailto://127.0.0.1:{port}?to=desk@example.org&from=hw@example.org"
    loaded = setup(tmp_path, mail, folder)
    store = Store.open(loaded.database_url, [rule_match_hook(loaded.config)])
    try:
        store.sync_sources([SourceSpec("nation", "feed", "https://nation.example/f")], NOW)
        url = "https://nation.example/1"
        store.save_article(
            ArticleRecord(
                source="nation", url=url, canonical_url=url, title=EVIL, text=TEXT,
                text_origin="page", guid="1", guid_key="nation|1", content_hash="1" * 32,
                outlet="nation.example", published=NOW, language="fr",
            ),
            NOW,
        )  # fmt: skip
        story = next(iter(store.iter_articles())).story
        sent = asyncio.run(drain_outbox(Outbox(store.engine), Notifier.from_config(loaded), NOW))
        assert sent == 1
    finally:
        store.close()
    [message] = inbox.messages
    parts = {
        p.get_content_type(): p.get_payload(decode=True).decode()
        for p in message.walk()
        if not p.is_multipart()
    }
    page = parts["text/html"]
    assert '<p class="ours">Kenyan police &lt;script&gt;alert(1)&lt;/script&gt; &amp; ' in page
    assert "<script>" not in page and "<b>landing" not in page
    assert f'href="https://news.example.org/stories/{story}"' in page
    assert "<mark><b>Multinational Security Support</b></mark>" in page


def test_the_package_templates_link_back_to_the_archive(tmp_path: Path) -> None:
    notifier = Notifier.from_config(setup(tmp_path, "json://127.0.0.1:9/x", None))
    message = alert_message(alert(), notifier)
    assert "In the archive: https://news.example.org/stories/7" in message.text
    assert '<a href="https://news.example.org/stories/7">In the archive</a>' in message.html
    assert "&lt;script&gt;" in message.html and "<script>" not in message.html
    assert "(https://news.example.org/stories/7)" in message.markdown
    digest = digest_message("mission", [alert(1, 7), alert(2, 8)], notifier, NOW)
    assert digest.html.count("<hr>") == 2 and "<script>" not in digest.html
    assert digest.text.startswith("[mission] digest 2026-11-16 15:00 UTC: 2 stories")
    assert "The archive: https://news.example.org" in digest.text


def test_a_digest_template_replaced_by_name_keeps_the_others(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "digest.txt").write_text(
        "{{ title }} ({{ items|length }})\n{% for item in items %}- {{ item.title }}\n{% endfor %}"
    )
    notifier = Notifier.from_config(setup(tmp_path, "json://127.0.0.1:9/x", folder))
    digest = digest_message("mission", [alert(1, 7), alert(2, 8)], notifier, NOW)
    assert digest.text.splitlines() == [
        "[mission] digest 2026-11-16 15:00 UTC: 2 stories (2)",
        f"- {EVIL}",  # a text body is not HTML: nothing to escape
        f"- {EVIL}",
    ]
    assert "<h2>[mission] digest" in digest.html  # the package's digest.html


@pytest.mark.parametrize(
    ("name", "body", "expected"),
    [
        ("alert.html", "{% if item.title %}", r"alert\.html line 1: .*endif"),
        ("item.txt", "{{ item.title }}\n{{ item.nothing_like_this }}", r"item\.txt line 2: "),
    ],
)
def test_a_broken_override_is_a_config_error(
    tmp_path: Path, name: str, body: str, expected: str
) -> None:
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / name).write_text(body)
    loaded = setup(tmp_path, "json://127.0.0.1:9/x", folder)
    with pytest.raises(ConfigError, match=r"^hw\.toml: alerts\.templates: .*" + expected):
        Notifier.from_config(loaded)


def test_a_missing_templates_folder_is_a_config_error(tmp_path: Path) -> None:
    loaded = setup(tmp_path, "json://127.0.0.1:9/x", tmp_path / "nowhere")
    with pytest.raises(
        ConfigError, match=r"hw\.toml: alerts\.templates: .*nowhere is not a folder"
    ):
        Notifier.from_config(loaded)
