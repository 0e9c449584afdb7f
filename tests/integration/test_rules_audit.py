"""`haitiwatch rules audit`: near misses of a rule on an archive crawled from loopback feeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support import FeedItem, crawl, rss, run_cli, write_config
from tests.support.server import Site

pytestmark = pytest.mark.slow

FILLER = (
    "The cabinet met for several hours on Tuesday and discussed the budget, the roads, "
    "the schools and the price of fuel before ministers spoke to reporters outside."
)
RULE = (
    '\n[[rules]]\nname = "mission"\n'
    "query = '(kenya OR kenyan) NEAR/10 (haiti OR \"port-au-prince\")'\n"
)
#: title, description (the text: the source does not fetch pages)
ITEMS = {
    "matched": (
        "Kenyan police land in Port-au-Prince",
        "The first contingent arrived on Tuesday, officials said.",
    ),
    "far apart": (
        "Cabinet approves police deployment",
        f"Kenya will send officers abroad. {FILLER} The officers will serve in Haiti.",
    ),
    "one side": ("Floods in Haiti", "Heavy rain flooded the south of the country."),
    "off topic": ("Markets close higher", "Shares rose in Nairobi and London."),
}


def archive_with_items(tmp_path: Path, site: Site) -> Path:
    items = [
        FeedItem(title=title, link=f"http://127.0.0.1/{n}", guid=f"g{n}", description=text)
        for n, (title, text) in enumerate(ITEMS.values())
    ]
    site.feed("/news.xml", rss(items))
    config = write_config(
        tmp_path, [{"name": "news", "url": site.url("/news.xml"), "fetch_articles": False}]
    )
    config.write_text(config.read_text() + RULE)
    crawl(config).check()
    return config


def test_audit_lists_the_best_near_miss_first_with_its_reason(tmp_path: Path, site: Site) -> None:
    config = archive_with_items(tmp_path, site)

    found = json.loads(run_cli("rules", "audit", "mission", "--json", config=config).check().stdout)

    titles = [f["title"] for f in found]
    assert titles == [ITEMS["far apart"][0], ITEMS["one side"][0]]  # no match, no off-topic
    best = found[0]
    assert best["source"] == "news" and best["classifier_score"] is None
    assert "kenya and haiti both in the text, but 36 words apart (limit 10)" in best["reasons"]
    assert 0 < found[1]["score"] < best["score"] < 1

    wide = {"COLUMNS": "200"}
    run = run_cli("rules", "audit", "mission", "--limit", "1", config=config, env=wide).check()
    assert "rule mission: 1 near miss (since: 7d" in run.stdout
    assert "Cabinet approves police" in run.stdout and "36 words apart" in run.stdout
    assert "Floods in Haiti" not in run.stdout


def test_audit_names_unknown_rules_and_bad_options(tmp_path: Path, site: Site) -> None:
    config = archive_with_items(tmp_path, site)
    unknown = run_cli("rules", "audit", "nope", config=config)
    assert unknown.returncode == 2 and "no rule named 'nope' (known: mission)" in unknown.stderr
    bad = run_cli("rules", "audit", "mission", "--since", "a week", config=config)
    assert bad.returncode == 2 and '--since: expected "7d"' in bad.stderr
