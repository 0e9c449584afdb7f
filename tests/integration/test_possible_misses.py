"""The daily possible-misses digest of a rule, delivered to a real webhook on loopback through
the outbox: the day's near misses only, best first, once, retried after an outage."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from haitiwatch.db.alerts import PENDING, SENT, Outbox
from haitiwatch.db.archive import Archive
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.notify import Notifier, rule_match_hook
from haitiwatch.scheduler.possible_misses import PossibleMisses
from tests.support import run_cli
from tests.support.receiver import Receiver

DUE = datetime(2026, 11, 17, 8, 0, tzinfo=UTC)  # the digest's time: "daily 08:00", UTC
FILLER = " ".join(["the minister said on tuesday that a report was due"] * 4)
RULE = """
[[rules]]
name = "mission"
query = 'kenyan* NEAR/10 "port-au-prince"'
channels = ["desk"]
audit_digest = "daily 08:00"
"""
#: name -> (title, text, first seen)
ARTICLES = {
    "matched": ("Kenyan police land in Port-au-Prince", "They came.", DUE - timedelta(hours=20)),
    "far apart": (
        "Kenyan officers prepare",
        f"Kenyan officers prepared. {FILLER}. They will serve in Port-au-Prince.",
        DUE - timedelta(hours=6),
    ),
    "one side": ("Kenyan officers train", "The training ended.", DUE - timedelta(hours=3)),
    "the day before": (
        "Kenyan officers leave",
        f"Kenyan officers left. {FILLER}. Port-au-Prince waits.",
        DUE - timedelta(days=1, hours=2),
    ),
    "off topic": ("Markets rise", "Shares rose.", DUE - timedelta(hours=2)),
}


def archive(db_url: str, hook: str) -> tuple[Store, Notifier]:
    config = parse_config(f'[channels.desk]\nurl = "{hook}"\n{RULE}', "hw.toml")
    store = Store.open(db_url, [rule_match_hook(config)])
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/f")], DUE)
    for n, (title, text, seen) in enumerate(ARTICLES.values()):
        base = ArticleRecord(
            source="outlet",
            url=f"https://outlet.example/{n}",
            canonical_url=f"https://outlet.example/{n}",
            title=title,
            text=text,
            text_origin="page",
            outlet="outlet.example",
        )
        store.save_article(replace(base, published=seen), seen)
    return store, Notifier({"desk": hook}, config.rules, "UTC")


def run(misses: PossibleMisses, note: Notifier, at: datetime) -> int:
    return asyncio.run(misses.run_due(note, at))


def test_the_days_near_misses_are_sent_once_best_first(db_url: str, receiver: Receiver) -> None:
    store, note = archive(db_url, "json://" + receiver.url("/hook")[7:])
    misses = PossibleMisses(Archive(store))

    assert run(misses, note, DUE - timedelta(minutes=1)) == 1  # the digest of the day before
    [(_, before)] = receiver.posts
    assert "Kenyan officers leave" in before["message"]
    assert "Kenyan officers prepare" not in before["message"]

    receiver.statuses = [500]  # an outage at 08:00: the digest waits in the outbox
    assert run(misses, note, DUE + timedelta(seconds=30)) == 0
    outbox = Outbox(store.engine).list_alerts(PENDING)
    waiting = [a for a in outbox if a.rule == "mission:misses"]
    assert [a.title for a in outbox if a.rule == "mission"] == [ARTICLES["matched"][0]]
    assert [a.title for a in waiting] == [ARTICLES["one side"][0], ARTICLES["far apart"][0]]

    assert run(misses, note, DUE + timedelta(minutes=2)) == 1
    payload = receiver.posts[-1][1]
    assert payload["title"] == (
        "[mission] possible misses 2026-11-17 08:00 UTC: 2 articles the rule did not match"
    )
    body = payload["message"]
    assert body.index("Kenyan officers prepare") < body.index("Kenyan officers train")
    assert "kenyan and port au prince both in the text, but 46 words apart (limit 10)" in body
    for absent in ("Kenyan police land", "Kenyan officers leave", "Markets rise"):
        assert absent not in body
    sent = [a for a in Outbox(store.engine).list_alerts() if a.rule == "mission:misses"]
    assert [a.status for a in sent] == [SENT] * 3

    # Later the same day, and after a restart (which forgets what it queued): nothing again.
    assert run(misses, note, DUE + timedelta(hours=1)) == 0
    assert run(PossibleMisses(Archive(store)), note, DUE + timedelta(hours=2)) == 0
    assert len(receiver.posts) == 3
    store.close()


@pytest.mark.parametrize(
    ("line", "says"),
    [
        (
            'audit_digest = "every morning"',
            'rules[0].audit_digest: expected a schedule like "daily',
        ),
        ('audit_digest = "daily 25:00"', "got 'daily 25:00'"),
    ],
)
def test_a_bad_audit_digest_names_file_key_and_expected(
    tmp_path: Path, line: str, says: str
) -> None:
    config = tmp_path / "hw.toml"
    rule = '[[rules]]\nname = "mission"\nquery = "haiti"\n'
    config.write_text(
        f'[channels.desk]\nurl = "json://127.0.0.1:9/x"\n{rule}channels = ["desk"]\n{line}\n'
    )
    done = run_cli("rules", "check", config=config)
    assert done.returncode == 78 and f"{config}: " in done.stderr and says in done.stderr


def test_an_audit_digest_needs_channels(tmp_path: Path) -> None:
    config = tmp_path / "hw.toml"
    config.write_text('[[rules]]\nname = "mission"\nquery = "haiti"\naudit_digest = "08:00"\n')
    done = run_cli("rules", "check", config=config)
    assert done.returncode == 78 and f"{config}: rules[0]: " in done.stderr
    assert "audit_digest needs channels to send to" in done.stderr
