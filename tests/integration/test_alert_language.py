"""Alerts and digests in the rule's language (``language`` in [[rules]]): our own words
translated from the shared catalogs, feed text as published. An immediate alert for a French
rule delivered through a real SMTP server (aiosmtpd) and Apprise's real Slack plugin (to the
loopback receiver); a digest in Haitian Creole; an unknown language is a config error."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from haitiwatch.db.alerts import Alert, Outbox
from haitiwatch.db.errors import ConfigError
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.alert_bodies import AlertBodies
from haitiwatch.scheduler.config import LoadedConfig, load_config, parse_config
from haitiwatch.scheduler.digest import MAX_DETAILED, digest_message
from haitiwatch.scheduler.notify import Notifier, drain_outbox, rule_match_hook
from haitiwatch.scheduler.possible_misses import misses_message
from tests.integration import test_alerts_delivery as delivery
from tests.integration.test_alerts_delivery import NOW, SLACK, Inbox, record
from tests.support.receiver import Receiver

# The loopback SMTP server and Slack receiver of the alert delivery tests.
smtp = delivery.smtp
slack = delivery.slack

FRENCH_RULE = """
[[rules]]
name = "mission"
query = '"multinational security support"'
channels = ["desk"]
language = "fr"
"""
#: Our English words an alert or digest may carry; none may be left in a translated one.
ENGLISH = (
    "In the archive", "The archive", "Relevant", "Not relevant", "Mark for rule", "Rule mission",
    "matched", "] digest", " stories", "more:", "Also:", "outlets carry", "language unknown",
)  # fmt: skip


def french_setup(tmp_path: Path, channel: str, monkeypatch: pytest.MonkeyPatch) -> LoadedConfig:
    monkeypatch.setenv("HW_TEST_LINK_SECRET", "mark-link-secret-0123456789abcdef")
    config = tmp_path / "hw.toml"
    config.write_text(
        '[database]\nurl = "sqlite:///hw.db"\n\n[web]\npublic_url = "https://news.example.org"\n'
        f'link_secret_env = "HW_TEST_LINK_SECRET"\n\n[channels.desk]\nurl = "{channel}"\n'
        f"{FRENCH_RULE}",
        "utf-8",
    )
    return load_config(config)


def send_one_alert(loaded: LoadedConfig) -> None:
    store = Store.open(loaded.database_url, [rule_match_hook(loaded.config)])
    try:
        store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/f")], NOW)
        store.save_article(record(), NOW)
        notifier = Notifier.from_config(loaded)
        assert asyncio.run(drain_outbox(Outbox(store.engine), notifier, NOW)) == 1
    finally:
        store.close()


def assert_french(body: str) -> None:
    for label in ("Dans les archives", "Pertinent", "Non pertinent", "termes trouvés"):
        assert label in body, label
    for label in ENGLISH:
        assert label not in body, label


def test_a_french_rule_emails_in_french(
    tmp_path: Path, smtp: tuple[Inbox, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    inbox, port = smtp
    mail = f"mailto://127.0.0.1:{port}?to=desk@example.org&from=hw@example.org&user=u&pass=secret"
    send_one_alert(french_setup(tmp_path, mail, monkeypatch))
    [message] = inbox.messages
    parts = [p.get_payload(decode=True).decode() for p in message.walk() if not p.is_multipart()]
    assert len(parts) == 2  # text and HTML
    for part in parts:
        assert_french(part)
    html_part = next(p for p in parts if "<html>" in p)
    assert "Marquer pour la règle mission :" in html_part
    assert "Kenyan police in Haïti" in html_part  # the article's own words stay as published


def test_a_french_rule_posts_to_slack_in_french(
    tmp_path: Path, slack: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    send_one_alert(french_setup(tmp_path, SLACK, monkeypatch))
    [(_, payload)] = slack.posts
    body = payload["attachments"][0]["blocks"][1]["text"]["text"]
    assert_french(body)
    assert "Multinational Security Support" in body


CREOLE_DIGEST = """
[channels.desk]
url = "json://127.0.0.1:9/x"

[[rules]]
name = "gangs"
query = "gangs"
channels = ["desk"]
mode = "digest"
digest = "daily 07:00"
language = "ht"
"""


def digest_alert(n: int, story: int) -> Alert:
    return Alert(
        id=n, rule="gangs", channel="desk", mode="digest", status="sending", attempts=1,
        created_at=NOW, next_attempt_at=NOW, sent_at=None, last_error=None, targets={},
        article_id=n, title=f"Gangs story {n}", url=f"https://outlet.example/{n}",
        outlet="outlet.example", published=NOW - timedelta(minutes=n), first_seen=NOW,
        language=None, text="Gangs near the capital. " * 5, story_id=story, story_outlets=2,
        terms=("gangs",),
    )  # fmt: skip


def test_a_creole_rule_gets_its_digest_in_creole() -> None:
    config = parse_config(CREOLE_DIGEST, "hw.toml")
    notifier = Notifier({"desk": None}, config.rules, "UTC", archive_url="https://news.example.org")
    # Two copies of story 1 ("also"), then enough stories that some are only listed ("more").
    alerts = [digest_alert(1, 1), digest_alert(2, 1)]
    alerts += [digest_alert(n, n) for n in range(3, MAX_DETAILED + 5)]
    message = digest_message("gangs", alerts, notifier, NOW)
    assert message.title.startswith("[gangs] rezime 2026-11-16 15:00 UTC: ")
    for body in (message.text, message.markdown, message.html):
        assert "Règ gangs jwenn: gangs" in body.replace("\\", "")
        assert "medya pibliye istwa sa a" in body
        assert "lang pa konnen" in body
        assert "Epitou: " in body
        assert "lòt ankò: " in body
        for label in ENGLISH:
            assert label not in body, (label, body[:200])
    assert "Achiv la: https://news.example.org" in message.text
    assert "Nan achiv la" in message.text


def test_a_creole_rule_gets_its_possible_misses_in_creole() -> None:
    config = parse_config(CREOLE_DIGEST, "hw.toml")
    notifier = Notifier({"desk": None}, config.rules, "UTC")
    misses = [replace(digest_alert(1, 1), rule="gangs:misses")]
    message = misses_message(config.rules[0], misses, notifier, NOW)
    assert message.title.startswith("[gangs] sa li te ka rate 2026-11-16 15:00 UTC: 1 atik")
    for body in (message.text, message.html):
        assert "Poukisa: (règ la jwenn li kounye a)" in body
        assert "Règ gangs:misses jwenn: gangs" in body  # the items: in the rule's language too
        assert "Why:" not in body and "possible misses" not in body


def test_an_unknown_language_is_a_config_error_naming_file_rule_and_choices() -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(FRENCH_RULE.replace('"fr"', '"de"'), "hw.toml")
    message = str(error.value)
    assert "hw.toml" in message and "mission" in message and "language" in message
    assert '"en", "fr", "ht", "es"' in message and "'de'" in message


@pytest.fixture
def plain_override(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "templates"
    folder.mkdir()
    (folder / "alert.txt").write_text("Ours: {{ item.title }}\n{{ item.terms }}")
    (folder / "digest.txt").write_text("{% trans %}The archive{% endtrans %}: {{ archive_url }}")
    yield folder


def test_an_override_renders_its_own_text_in_any_language(plain_override: Path) -> None:
    bodies = AlertBodies(plain_override)
    bodies.check()
    view = {"item": type("Item", (), {"title": "Titre", "terms": "Règle x"})()}
    assert bodies.render("alert.txt", "fr", **view) == "Ours: Titre\nRègle x"
    digest = bodies.render("digest.txt", "es", archive_url="https://a.example")
    assert digest == "El archivo: https://a.example"
