"""The hostile-feed corpus (tests/data/hostile/, see its README) served on loopback to the
running service: per source, what is stored and what is recorded.

One `haitiwatch run` polls every hostile source at once, beside a good one; the module's
tests then read what it left: no private address fetched, each failure recorded with a clear
message, every good item stored, and the service still alive and polling the good source.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from haitiwatch.db.records import SourceHealth, StoredArticle
from tests.integration.test_private_scope import REBINDING_DNS
from tests.support import DATA, FeedItem, articles, health, rss, write_config
from tests.support.server import Site, running_site
from tests.support.service import ServiceProcess, wait_for

pytestmark = pytest.mark.slow

HOSTILE = DATA / "hostile"
RSS_UTF8 = "application/rss+xml; charset=utf-8"
TEXT = "Kenyan officers of the security mission patrolled Port-au-Prince today, the police said."
MAX_RESPONSE_BYTES = 2_000_000  # write_config's default
NESTING = 20_000


@dataclass(frozen=True, slots=True)
class Hostile:
    """A hostile source: where it is served from, and what must come of it."""

    name: str
    path: str
    #: The titles stored; None: the source must fail instead.
    titles: frozenset[str] | None = None
    #: Part of the failure message recorded on the source.
    error: str = ""


def _ok(name: str, path: str, *titles: str) -> Hostile:
    return Hostile(name, path, frozenset(titles))


CASES = [
    _ok("laughs", "/billion_laughs.xml", "Laughs &lol9;", "Good laughs item"),
    _ok("xxe", "/xxe.xml", "XXE &secret; &remote;", "Good XXE item"),
    _ok("surrogate-refs", "/surrogate_refs.xml", "Bad \ufffd reference \ufffd",
        "Good reference item"),
    _ok("surrogates", "/surrogates.json", "Bad \ufffd title \ufffd", "Good JSON item"),
    _ok("controls", "/controls.xml", "Bell and escape title", "Good control item"),
    _ok("cp1252-as-utf8", "/cp1252_labelled_utf8.xml",
        "Caf\u00e9 \u2014 na\u00efve \u201cquoted\u201d", "Second cp1252 item"),
    _ok("utf8-as-cp1252", "/utf8_labelled_cp1252.xml", "Cit\u00e9 Soleil \u00e0 Port-au-Prince",
        "Second utf-8 item"),
    _ok("deep", "/deep.xml", "Deep item", "Good deep item"),
    Hostile("huge", "/huge.xml", error="response larger than the size cap"),
    Hostile("redirect-loop", "/loop-a.xml", error="too many redirects: a redirect loop"),
    Hostile("redirect-chain", "/hop-0.xml", error="too many redirects: a redirect loop"),
]  # fmt: skip
PRIVATE_SPELLINGS = [
    "127.1", "0x7f.1", "2130706433", "[::ffff:127.0.0.1]", "017700000001", "169.254.169.254",
    "192.0.0.170", "localhost.", "[::1]", "rebind.test",
]  # fmt: skip
CONTENT_TYPES = {
    "/surrogates.json": "application/feed+json",
    "/utf8_labelled_cp1252.xml": "application/rss+xml; charset=windows-1252",
}


def _serve_corpus(site: Site, victim: Site) -> None:
    for path in HOSTILE.glob("*.*"):
        if path.suffix in (".xml", ".json") and path.name != "private_links.xml":
            route = f"/{path.name}"
            site.feed(route, path.read_bytes(), content_type=CONTENT_TYPES.get(route, RSS_UTF8))
    links = (HOSTILE / "private_links.xml").read_text("utf-8").replace("{port}", str(victim.port))
    site.feed("/private_links.xml", links)
    site.add("/public", f"<html><body><article><p>Public page. {TEXT * 3}</p></article></body>")
    victim.add("/secret", "<html><body><p>The secret page</p></body></html>")
    # Generated here rather than committed: a document over the size cap, and a deep one.
    padding = FeedItem("Huge item", "http://127.0.0.1/huge", description="x" * MAX_RESPONSE_BYTES)
    site.feed("/huge.xml", rss([padding]))
    deep = "<div>" * NESTING + "Deep text" + "</div>" * NESTING
    site.feed(
        "/deep.xml",
        rss([FeedItem("Deep item", "http://127.0.0.1/deep", description=deep),
             FeedItem("Good deep item", "http://127.0.0.1/deep-good", description=TEXT)]),
    )  # fmt: skip
    site.redirect("/loop-a.xml", "/loop-b.xml")
    site.redirect("/loop-b.xml", "/loop-a.xml")
    for hop in range(30):
        site.redirect(f"/hop-{hop}.xml", f"/hop-{hop + 1}.xml")
    site.feed(
        "/good.xml", rss([FeedItem("Good source item", "http://127.0.0.1/g", description=TEXT)])
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    health: dict[str, SourceHealth]
    stored: dict[str, list[StoredArticle]]
    victim_requests: list[str]
    public_requests: int
    good_polls_after: int
    exit_code: int
    log: str


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    folder = tmp_path_factory.mktemp("hostile")
    with running_site() as site, running_site() as victim:
        _serve_corpus(site, victim)
        sources = [
            {"name": case.name, "url": site.url(case.path), "interval": "1s",
             "fetch_articles": False}
            for case in CASES
        ] + [
            {"name": "private-links", "url": site.url("/private_links.xml"), "interval": "1s"},
            {"name": "good", "url": site.url("/good.xml"), "interval": "1s",
             "fetch_articles": False},
        ]  # fmt: skip
        config = write_config(folder, sources)
        service = ServiceProcess(config, prelude=REBINDING_DNS)
        try:
            names = {source["name"] for source in sources}

            def every_source_polled() -> bool:
                found = health(config)
                return names <= found.keys() and all(found[n].fetches for n in names)

            wait_for(every_source_polled, 40, "a poll of every source")
            polled = len(site.requests("/good.xml"))
            wait_for(lambda: len(site.requests("/good.xml")) >= polled + 2, 20, "2 more polls")
            alive_after = len(site.requests("/good.xml")) - polled
        finally:
            code, _seconds = service.stop(signal.SIGTERM)
        stored: dict[str, list[StoredArticle]] = {}
        for article in articles(config):
            stored.setdefault(article.source, []).append(article)
        yield Outcome(
            health(config),
            stored,
            victim.paths(),
            len(site.requests("/public")),
            alive_after,
            code,
            service.log(),
        )


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.name)
def test_each_hostile_source_stores_its_good_items_or_records_why_not(
    outcome: Outcome, case: Hostile
) -> None:
    source = outcome.health[case.name]
    stored = outcome.stored.get(case.name, [])
    if case.titles is None:
        assert (source.status, stored) == ("failing", [])
        assert source.last_error is not None and case.error in source.last_error, source.last_error
        return
    assert source.status == "ok", source.last_error
    assert {a.title for a in stored} == case.titles
    for article in stored:  # storable, and nothing read from outside the document
        assert "\ufffd" in article.title or article.title.isprintable()
        assert "root:" not in (article.text or "") and "lol" * 10 not in (article.text or "")


def test_no_private_address_is_fetched_in_any_spelling(outcome: Outcome) -> None:
    assert outcome.victim_requests == []
    stored = {a.title: a for a in outcome.stored["private-links"]}
    for spelling in PRIVATE_SPELLINGS:  # stored from the feed's own text instead
        assert stored[f"Private link {spelling}"].text == TEXT
    assert outcome.public_requests >= 1  # the source's own page is fetched
    assert stored["Good private-links item"].text.startswith("Public page.")
    assert outcome.health["private-links"].status == "ok"


def test_the_service_outlives_the_corpus_and_stops_cleanly(outcome: Outcome) -> None:
    assert outcome.good_polls_after >= 2
    assert [a.title for a in outcome.stored["good"]] == ["Good source item"]
    assert outcome.exit_code == 0, outcome.log[-3000:]
    assert "Traceback" not in outcome.log, outcome.log[-3000:]
