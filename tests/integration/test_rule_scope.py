"""Rules limited to languages and sources (`languages = [...]`, `sources = [...]`): applied
where rules match, so an article outside a rule's scope gets neither a match nor an alert."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from haitiwatch.db.errors import ConfigError
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.schema import AlertRow, RuleMatchRow
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import parse_config
from haitiwatch.scheduler.notify import rule_match_hook
from haitiwatch.scheduler.rule_config import RuleConfig
from haitiwatch.scheduler.rule_scope import in_scope

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
CONFIG = parse_config(
    """
[[sources]]
name = "lenouvelliste"
url = "https://lenouvelliste.example/feed"
[[sources]]
name = "nation"
url = "https://nation.example/feed"

[channels.desk]
url = "json://127.0.0.1:9/unused"

[[rules]]
name = "everything"
query = "kenyan"
channels = ["desk"]

[[rules]]
name = "french-creole"
query = "kenyan"
channels = ["desk"]
languages = ["fr", "ht"]

[[rules]]
name = "haitian-press"
query = "kenyan"
channels = ["desk"]
sources = ["lenouvelliste"]
""",
    "scope.toml",
)


def article(n: int, source: str, language: str | None) -> ArticleRecord:
    url = f"https://{source}.example/a/{n}"
    return ArticleRecord(
        source=source, url=url, canonical_url=url, title=f"Kenyan police {n}",
        text=f"Kenyan police officers patrol Port-au-Prince, report number {n}. " * 5,
        text_origin="feed", guid=str(n), guid_key=f"{source}.example|{n}",
        content_hash=f"{n:032x}", outlet=f"{source}.example",
        published=NOW - timedelta(hours=1), language=language,
    )  # fmt: skip


def test_rules_match_only_their_languages_and_sources(db_url: str) -> None:
    store = Store.open(db_url, [rule_match_hook(CONFIG)])
    try:
        store.sync_sources([SourceSpec(s.name, "feed", s.url) for s in CONFIG.sources], NOW)
        cases = {1: ("lenouvelliste", "fr"), 2: ("nation", "en"), 3: ("nation", "ht"),
                 4: ("lenouvelliste", None), 5: ("nation", "fr-HT")}  # fmt: skip
        for n, (source, language) in cases.items():
            store.save_article(article(n, source, language), NOW)
        with store._session() as session:
            matched = session.execute(select(RuleMatchRow.rule, RuleMatchRow.article_id)).all()
            alerted = session.execute(select(AlertRow.rule, AlertRow.article_id)).all()
        ids = {a.title: a.id for a in store.iter_articles()}

        def by_rule(pairs: object) -> dict[str, set[int]]:
            out: dict[str, set[int]] = {}
            for rule, article_id in pairs:  # type: ignore[attr-defined]
                out.setdefault(rule, set()).add(article_id)
            return out

        number = {v: int(k.rsplit(" ", 1)[1]) for k, v in ids.items()}
        expected = {"everything": {1, 2, 3, 4, 5}, "french-creole": {1, 3, 5},
                    "haitian-press": {1, 4}}  # fmt: skip
        assert {r: {number[i] for i in s} for r, s in by_rule(matched).items()} == expected
        assert {r: {number[i] for i in s} for r, s in by_rule(alerted).items()} == expected
    finally:
        store.close()


def test_a_rule_limited_to_an_unknown_source_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"bad\.toml: .*rule 'r'.*source 'nowhere'"):
        parse_config('[[rules]]\nname = "r"\nquery = "x"\nsources = ["nowhere"]\n', "bad.toml")
    with pytest.raises(
        ConfigError, match=r"bad\.toml: rules\[0\]\.languages: expected language codes"
    ):
        parse_config('[[rules]]\nname = "r"\nquery = "x"\nlanguages = ["French"]\n', "bad.toml")


@given(
    languages=st.lists(st.sampled_from(["fr", "ht", "en", "es"]), max_size=3),
    sources=st.lists(st.sampled_from(["a", "b", "c"]), max_size=2),
    language=st.one_of(st.none(), st.sampled_from(["fr", "ht", "en", "es", "FR", "fr-HT"])),
    source=st.sampled_from(["a", "b", "c"]),
)
def test_scope_is_the_and_of_both_limits(
    languages: list[str], sources: list[str], language: str | None, source: str
) -> None:
    rule = RuleConfig(name="r", query="x", languages=languages, sources=sources)
    lang_ok = not languages or (language is not None and language[:2].lower() in languages)
    assert in_scope(rule, language, source) == (lang_ok and (not sources or source in sources))
    assert in_scope(replace_rule(rule), language, source)


def replace_rule(rule: RuleConfig) -> RuleConfig:
    return rule.model_copy(update={"languages": [], "sources": []})
