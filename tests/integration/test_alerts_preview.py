"""`haitiwatch alerts preview RULE [--digest]`: the next alert or digest of a rule, rendered
from the archive's newest matching articles, in a real CLI process; nothing is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from haitiwatch.db.alerts import Outbox
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.notify import rule_match_hook
from tests.support import run_cli

NOW = datetime.now(UTC).replace(microsecond=0)
CONFIG = """
[database]
url = "sqlite:///hw.db"

[web]
public_url = "https://news.example.org"

[[sources]]
name = "nation"
url = "https://nation.example/feed"
[[sources]]
name = "lenouvelliste"
url = "https://lenouvelliste.example/feed"

[channels.desk]
url = "json://127.0.0.1:9/never"

[[rules]]
name = "mission"
query = '"multinational security support"'
channels = ["desk"]

[[rules]]
name = "briefing"
query = "kenyan"
channels = ["desk"]
mode = "digest"
digest = "0 7 * * 1-5"
languages = ["fr"]
"""


def article(n: int, source: str, title: str, language: str, hours_ago: int) -> ArticleRecord:
    url = f"https://{source}.example/{n}"
    return ArticleRecord(
        source=source, url=url, canonical_url=url, title=title,
        text=f"Kenyan officers of the Multinational Security Support mission, report {n}. " * 4,
        text_origin="page", guid=str(n), guid_key=f"{source}|{n}", content_hash=f"{n:032x}",
        outlet=f"{source}.example", published=NOW - timedelta(hours=hours_ago), language=language,
    )  # fmt: skip


def archive(tmp_path: Path) -> Path:
    path = tmp_path / "hw.toml"
    path.write_text(CONFIG, "utf-8")
    loaded = load_config(path)
    store = Store.open(loaded.database_url, [rule_match_hook(loaded.config)])
    try:
        store.sync_sources([SourceSpec(s.name, "feed", s.url) for s in loaded.config.sources], NOW)
        store.save_article(article(1, "nation", "Older: the mission's first month", "en", 5), NOW)
        store.save_article(
            article(2, "lenouvelliste", "La mission kényane <b>arrive</b>", "fr", 1), NOW
        )
        store.save_article(article(3, "nation", "Newest: Kenyan police patrol", "en", 0), NOW)
    finally:
        store.close()
    return path


def outbox_rows(path: Path) -> list[tuple[str, int]]:
    loaded = load_config(path)
    store = Store.open(loaded.database_url)
    try:
        return sorted((a.status, a.attempts) for a in Outbox(store.engine).list_alerts())
    finally:
        store.close()


def test_preview_shows_the_next_alert_and_digest_and_sends_nothing(tmp_path: Path) -> None:
    config = archive(tmp_path)
    before = outbox_rows(config)
    assert before == [("pending", 0)] * 4  # 3 for mission, 1 (the French one) for briefing

    run = run_cli("alerts", "preview", "mission", config=config).check()
    assert run.stdout.startswith("Subject: [mission] Newest: Kenyan police patrol")
    assert "Rule mission matched: Multinational Security Support" in run.stdout
    assert "In the archive: https://news.example.org/stories/" in run.stdout

    html = run_cli("alerts", "preview", "mission", "--format", "html", config=config).check()
    assert "<mark><b>Multinational Security Support</b></mark>" in html.stdout

    digest = run_cli("alerts", "preview", "briefing", "--digest", config=config).check()
    assert "[briefing] digest" in digest.stdout and ": 1 story" in digest.stdout
    assert "La mission kényane <b>arrive</b>" in digest.stdout  # text: shown as written
    assert "Newest" not in digest.stdout  # English: outside the rule's languages
    digest_html = run_cli(
        "alerts", "preview", "briefing", "--digest", "-f", "html", config=config
    ).check()
    assert "La mission kényane &lt;b&gt;arrive&lt;/b&gt;" in digest_html.stdout

    assert outbox_rows(config) == before  # nothing claimed, nothing sent
    assert run.refused == digest.refused == []  # no network at all


def test_preview_of_an_unknown_or_quiet_rule(tmp_path: Path) -> None:
    config = archive(tmp_path)
    unknown = run_cli("alerts", "preview", "nope", config=config)
    assert (
        unknown.returncode == 2
        and "no rule named 'nope' (known: briefing, mission)" in unknown.stderr
    )
    config.write_text(CONFIG + '\n[[rules]]\nname = "quiet"\nquery = "volcano"\n', "utf-8")
    quiet = run_cli("alerts", "preview", "quiet", config=config)
    assert quiet.returncode == 1 and "no stored article matches it yet" in quiet.stdout


def test_rules_test_backtests_within_the_rules_languages(tmp_path: Path) -> None:
    config = archive(tmp_path)
    run = run_cli("rules", "test", "briefing", "--since", "all", config=config).check()
    assert "rule briefing: 1 of 1 articles match" in run.stdout  # the French one only
    free = run_cli(
        "rules", "test", "briefing", "--since", "all", "--query", "kenyan", config=config
    )
    assert "rule briefing: 3 of 3 articles match" in free.check().stdout  # --query: no limits
