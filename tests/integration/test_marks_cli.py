"""`haitiwatch mark`, `marks` and `rules test` against the marks, in real processes on a small
SQLite archive."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from haitiwatch.db.marks import Marks
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from tests.support import run_cli

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
CONFIG = """[database]
url = "sqlite:///hw.db"

[[rules]]
name = "mission"
query = '"multinational security support" OR (kenyan* NEAR/10 police)'
"""
TITLES = {
    "kenya-landing": "Kenyan police land in Port-au-Prince",  # matched, marked relevant
    "kenya-budget": "Kenyan police budget debated in Nairobi",  # matched, marked irrelevant
    "mss-funds": "UN fund for the mission stalls",  # not matched, marked relevant
    "football": "Haiti qualifies for the World Cup",  # not matched, marked irrelevant
}


def small_archive(tmp_path: Path) -> tuple[Path, dict[str, int]]:
    config = tmp_path / "hw.toml"
    config.write_text(CONFIG, "utf-8")
    store = Store.open(f"sqlite:///{tmp_path / 'hw.db'}")
    store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/f")], NOW)
    for slug, title in TITLES.items():
        url = f"https://outlet.example/{slug}"
        store.save_article(
            ArticleRecord(
                source="outlet", url=url, canonical_url=url, title=title,
                text=f"{title}. More words follow here.", text_origin="page",
            ),
            NOW,
        )  # fmt: skip
    ids = {a.url.rsplit("/", 1)[1]: a.id for a in store.iter_articles()}
    store.close()
    return config, ids


def test_mark_round_trips_through_the_cli(tmp_path: Path) -> None:
    config, ids = small_archive(tmp_path)
    article = ids["kenya-landing"]
    run = run_cli("mark", str(article), "irrelevant", "--rule", "mission", config=config).check()
    assert f"article {article} marked irrelevant for rule mission" in run.stdout
    run_cli("mark", str(article), "relevant", "--rule", "mission", config=config).check()
    listed = json.loads(
        run_cli("marks", "--rule", "mission", "--json", config=config).check().stdout
    )
    assert [(m["article_id"], m["verdict"], m["origin"]) for m in listed] == [
        (article, "relevant", "cli")
    ]
    assert listed[0]["title"] == TITLES["kenya-landing"]
    table = run_cli("marks", config=config).check().stdout
    assert "relevant" in table and "Kenyan" in table


def test_mark_refuses_unknown_article_rule_and_verdict(tmp_path: Path) -> None:
    config, ids = small_archive(tmp_path)
    run = run_cli("mark", "999", "relevant", "--rule", "mission", config=config)
    assert run.returncode == 2 and "no article with id 999" in run.stderr
    run = run_cli("mark", str(ids["football"]), "relevant", "--rule", "nosuch", config=config)
    assert run.returncode == 2
    assert "--rule: no rule named 'nosuch' (known: mission)" in run.stderr
    wide = {"COLUMNS": "200"}  # the usage error's box stays on one line
    run = run_cli(
        "mark", str(ids["football"]), "maybe", "--rule", "mission", config=config, env=wide
    )
    assert run.returncode == 2 and "'maybe' is not one of 'relevant', 'irrelevant'" in run.stderr
    assert run_cli("marks", "--rule", "nosuch", config=config).returncode == 2


def test_rules_test_reports_precision_and_recall_against_marks(tmp_path: Path) -> None:
    config, ids = small_archive(tmp_path)
    run = run_cli("rules", "test", "mission", "--since", "all", config=config).check()
    assert "no article is marked for this rule yet" in run.stdout
    store = Store.open(f"sqlite:///{tmp_path / 'hw.db'}")
    marks = Marks(store.engine)
    for slug, verdict in (
        ("kenya-landing", "relevant"),
        ("kenya-budget", "irrelevant"),
        ("mss-funds", "relevant"),
        ("football", "irrelevant"),
    ):
        marks.record(ids[slug], "mission", verdict, "cli", NOW)
    store.close()
    run = run_cli("rules", "test", "mission", "--since", "all", config=config).check()
    assert "rule mission: 2 of 4 articles match" in run.stdout
    assert "against marks (4 marked articles)" in run.stdout
    assert "precision 1/2 = 50%" in run.stdout and "recall    1/2 = 50%" in run.stdout
    assert "too few marks to mean much: 2 matched and marked, 2 marked relevant" in run.stdout
