"""A rule's learned second opinion on real SQLite and PostgreSQL, through a real crawl of a
loopback feed, and through `haitiwatch rules learn`."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import select

from benchmarks.build_examples import kind_of_text, lowest_precise_threshold
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.rule_models import RuleModels, StoredModel
from haitiwatch.db.schema import RuleMatchRow
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.assist import rule_scorer
from haitiwatch.scheduler.config import load_config, parse_config
from haitiwatch.scheduler.notify import rule_match_hook
from haitiwatch.scheduler.rules import RuleSet, compile_rule
from haitiwatch.scheduler.rules.classifier import RuleModel, cross_validated_scores, learn
from haitiwatch.scheduler.rules.training import shipped_examples, shipped_model, shipped_model_json
from tests.support import FeedItem, articles, crawl, open_store, rss, run_cli, write_config
from tests.support.receiver import Receiver
from tests.support.server import Site
from tests.unit.test_classifier import EXAMPLES

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
MISSED = ("Kenyan officers patrol Port-au-Prince", "The Kenya-led mission sent police to Haiti.")
UNRELATED = ("Tea prices in Kenya rise again", "Farmers sold tea at higher prices in Nairobi.")
MATCHED = ("Gang Suppression Force extended", "The Security Council renewed the force.")
#: Also missed by the query; a second article to crawl later.
MISSED_LATER = (
    "Kenyan officers patrol Cite Soleil",
    "The Kenya-led mission sent more police to Haiti.",
)


def rules(name: str = "mission") -> str:
    """An assisted rule whose query misses MISSED ("mission" has a shipped model)."""
    return f"""
[[rules]]
name = "{name}"
query = '"gang suppression force"'
channels = ["desk"]
assist = "alert"
assist_threshold = 0.6
"""


#: A rule of the user's own: no shipped examples, no shipped model.
OWN = "kenya"
RULES = rules()


def stored_model(model: RuleModel, at: datetime = NOW, rule: str = "mission") -> StoredModel:
    return StoredModel(rule, at, 6, 6, {"precision": 1.0}, model.to_bytes())


def record(n: int, title: str, text: str) -> ArticleRecord:
    return ArticleRecord(
        source="outlet",
        url=f"https://outlet.example/{n}",
        canonical_url=f"https://outlet.example/{n}",
        title=title,
        text=text,
        text_origin="feed",
        guid=str(n),
        guid_key=f"outlet|{n}",
        content_hash=f"{n:032d}",
        outlet="outlet.example",
        published=NOW - timedelta(hours=1),
        language="en",
    )


def test_a_model_round_trips_through_the_database(db_url: str) -> None:
    store = Store.open(db_url)
    try:
        model = learn(EXAMPLES)
        models = RuleModels(store.engine)
        assert models.get(OWN) is None and rule_scorer(RuleModels(store.engine), OWN) is None
        models.save(stored_model(model, rule=OWN))
        back = models.get(OWN)
        assert back == stored_model(model, rule=OWN)
        assert back is not None and back.model == model.to_bytes()
        scorer = rule_scorer(RuleModels(store.engine), OWN)
        assert scorer is not None and scorer(*MISSED) == model.score(*MISSED)
        relearned = replace(stored_model(model, NOW + timedelta(hours=1), OWN), positives=7)
        models.save(relearned)  # replaces the one learned before
        assert models.get(OWN) == relearned
    finally:
        store.close()


def test_an_assisted_rule_alerts_by_score_and_follows_a_relearned_model(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config(f'[channels.desk]\nurl = "json://127.0.0.1:9/x"\n{rules(OWN)}', "t.toml")
    store = Store.open(db_url, [rule_match_hook(config)])
    try:
        store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/f")], NOW)
        store.save_article(record(1, *MISSED), NOW)  # no model yet: the query alone decides
        assert "no model is learned yet: haitiwatch rules learn kenya" in caplog.text
        model = learn(EXAMPLES)
        RuleModels(store.engine).save(stored_model(model, rule=OWN))
        store.save_article(record(2, *MISSED), NOW)
        store.save_article(record(3, *UNRELATED), NOW)
        store.save_article(record(4, *MATCHED), NOW)
        # a model that says no to everything, learned later: the hook reloads it
        contrary = learn(replace(e, relevant=not e.relevant) for e in EXAMPLES)
        RuleModels(store.engine).save(stored_model(contrary, NOW + timedelta(hours=1), OWN))
        store.save_article(record(5, *MISSED), NOW)
        with store._session() as session:
            matches = session.execute(
                select(RuleMatchRow.article_id, RuleMatchRow.score).order_by(RuleMatchRow.id)
            ).all()
        by_url = {a.id: a.url.rsplit("/", 1)[1] for a in store.iter_articles()}
        scored = {by_url[article]: score for article, score in matches}
        assert scored.keys() == {"2", "4"}
        assert scored["4"] is None  # by query
        assert scored["2"] == pytest.approx(model.score(*MISSED)) and scored["2"] >= 0.6
    finally:
        store.close()


def test_an_unreadable_stored_model_is_passed_over_once_for_the_shipped_one(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    config = parse_config(f'[channels.desk]\nurl = "json://127.0.0.1:9/x"\n{RULES}', "t.toml")
    store = Store.open(db_url, [rule_match_hook(config)])
    try:
        store.sync_sources([SourceSpec("outlet", "feed", "https://outlet.example/f")], NOW)
        RuleModels(store.engine).save(replace(stored_model(learn(EXAMPLES)), model=b"not a model"))
        for n in range(1, 4):  # one batch each: the unreadable version is read once
            store.save_article(record(n, *MISSED), NOW)
        assert caplog.text.count("rule mission: stored model ignored") == 1
        with store._session() as session:
            scores = session.execute(select(RuleMatchRow.score)).scalars().all()
        shipped = shipped_model("mission")
        assert shipped is not None and shipped.score(*MISSED) >= 0.6
        assert scores == [pytest.approx(shipped.score(*MISSED))] * 3
    finally:
        store.close()


def test_an_article_the_query_misses_alerts_by_score_through_a_crawl(
    site: Site, tmp_path: Path, receiver: Receiver
) -> None:
    items = [
        FeedItem(title, site.url(f"/a/{n}"), str(n), text)
        for n, (title, text) in enumerate((MISSED, UNRELATED, MATCHED))
    ]
    site.feed("/feed.xml", rss(items))
    config = write_config(
        tmp_path, [{"name": "outlet", "url": site.url("/feed.xml"), "fetch_articles": False}]
    )
    channel = "json://" + receiver.url("/hook")[7:]
    config.write_text(config.read_text() + f'\n[channels.desk]\nurl = "{channel}"\n{RULES}')
    store = open_store(config)
    RuleModels(store.engine).save(stored_model(learn(EXAMPLES)))
    store.close()

    crawl(config).check()

    stored = {a.title: a for a in articles(config)}
    assert stored[MISSED[0]].rules == ("mission",)
    [(rule, score)] = stored[MISSED[0]].rule_scores
    assert rule == "mission" and score >= 0.6
    assert stored[MATCHED[0]].rules == ("mission",) and stored[MATCHED[0]].rule_scores == ()
    assert stored[UNRELATED[0]].rules == ()
    sent = " ".join(str(payload) for _, payload in receiver.posts)
    assert MISSED[0] in sent and MATCHED[0] in sent and UNRELATED[0] not in sent
    assert "Rule mission: its learned model scored this 0." in sent
    listed = json.loads(run_cli("alerts", "--format", "json", config=config).check().stdout)
    by_title = {alert["title"]: alert for alert in listed}
    assert by_title[MISSED[0]]["score"] == score and by_title[MATCHED[0]]["score"] is None
    exported = run_cli("export", "--format", "jsonl", config=config).check().stdout
    assert '"rule_scores": {"mission": ' in exported


def test_a_fresh_archive_alerts_by_the_shipped_model_until_one_is_learned(
    site: Site, tmp_path: Path, receiver: Receiver
) -> None:
    shipped = shipped_model("mission")
    assert shipped is not None
    site.feed("/feed.xml", rss([FeedItem(MISSED[0], site.url("/a/0"), "0", MISSED[1])]))
    config = write_config(
        tmp_path, [{"name": "outlet", "url": site.url("/feed.xml"), "fetch_articles": False}]
    )
    channel = "json://" + receiver.url("/hook")[7:]
    config.write_text(config.read_text() + f'\n[channels.desk]\nurl = "{channel}"\n{RULES}')

    crawl(config).check()  # no `rules learn`: the shipped model scores

    [article] = articles(config)
    assert article.rules == ("mission",)
    assert article.rule_scores == (("mission", pytest.approx(shipped.score(*MISSED))),)
    assert MISSED[0] in " ".join(str(payload) for _, payload in receiver.posts)

    # A learned model (here one that says no) takes precedence over the shipped one.
    contrary = learn(replace(e, relevant=not e.relevant) for e in EXAMPLES)
    assert shipped.score(*MISSED_LATER) >= 0.6 > contrary.score(*MISSED_LATER)
    store = open_store(config)
    try:
        RuleModels(store.engine).save(stored_model(contrary))
        scorer = rule_scorer(RuleModels(store.engine), "mission")
        assert scorer is not None and scorer(*MISSED) == contrary.score(*MISSED)
    finally:
        store.close()
    later = FeedItem(MISSED_LATER[0], site.url("/a/1"), "1", MISSED_LATER[1])
    site.feed("/feed.xml", rss([FeedItem(MISSED[0], site.url("/a/0"), "0", MISSED[1]), later]))

    crawl(config).check()

    stored = {a.title: a for a in articles(config)}
    assert stored[MISSED_LATER[0]].rules == ()


def test_the_shipped_model_is_the_one_learned_from_the_shipped_examples() -> None:
    """benchmarks/build_examples.py --write writes both files: they cannot drift apart."""
    shipped = resources.files("haitiwatch.scheduler.rules").joinpath(
        "examples", "mission.model.json"
    )
    assert shipped.read_bytes() == shipped_model_json(shipped_examples("mission"))


def test_the_default_threshold_is_the_lowest_that_keeps_tune_precision() -> None:
    """Chosen on the shipped (tune) examples, cross-validated, as build_examples.py prints."""
    [mission] = [r for r in load_config(None).config.rules if r.name == "mission"]
    examples = shipped_examples("mission")
    query = RuleSet([compile_rule("mission", mission.query)])
    scores = cross_validated_scores(examples)
    assert scores is not None
    by_query = [bool(query.names(e.title, e.text)) for e in examples]
    labels = [e.relevant for e in examples]
    shipped = resources.files("haitiwatch.scheduler.rules").joinpath("examples", "mission.jsonl")
    rows = [json.loads(line) for line in shipped.read_text(encoding="utf-8").splitlines()]
    kinds = [kind_of_text(row["id"]) for row in rows]
    assert lowest_precise_threshold(scores, by_query, labels, kinds) == mission.assist_threshold


def test_rules_learn_trains_on_the_shipped_examples_and_stores_the_model(tmp_path: Path) -> None:
    config = write_config(tmp_path, [])
    config.write_text(config.read_text() + '\n[[rules]]\nname = "mission"\nquery = "mss"\n')
    run = run_cli("rules", "learn", "mission", config=config).check()
    assert "rule mission: learned from 2046 examples (852 relevant, 1194 not)" in run.stdout
    assert "cross-validated at threshold 0.9: precision " in run.stdout
    assert 'assist = "alert"' in run.stdout  # the rule does not use it yet: says how
    store = open_store(config)
    try:
        stored = RuleModels(store.engine).get("mission")
    finally:
        store.close()
    assert stored is not None and (stored.positives, stored.negatives) == (852, 1194)
    assert stored.metrics["evaluated_on"] == "cross-validation"
    run = run_cli("rules", "learn", "nope", config=config)
    assert run.returncode == 2 and "no rule named 'nope'" in run.stderr
