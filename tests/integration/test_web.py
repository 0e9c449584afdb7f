"""The web archive served for real on 127.0.0.1, driven by Debian's chromium (Playwright)
and plain HTTP: search, filters, stories, chart, sources, Atom, API, token, hostile titles."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest
from aiohttp import web
from openapi_schema_validator import validate as validate_schema

from haitiwatch.db.archive import Archive
from haitiwatch.db.errors import ConfigError
from haitiwatch.db.store import Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.web import create_app, mount_web
from haitiwatch.scheduler.web.openapi import SPEC
from tests.support.archive import HOSTILE_TITLE, fill_archive
from tests.support.web import free_port, get, serve

REPO = Path(__file__).resolve().parents[2]
# The README's screenshots are refreshed with HAITIWATCH_SCREENSHOTS=1; otherwise they go to a
# scratch folder, so that a test run leaves the work tree clean.
SCREENSHOTS = (
    REPO / "docs" / "screenshots"
    if os.environ.get("HAITIWATCH_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "haitiwatch-screenshots"
)
CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
TOKEN = "s3cret-token-for-tests"


@dataclass
class Server:
    url: str
    store: Store


def _config(tmp_path: Path, db: Path, extra: str = "") -> Path:
    path = tmp_path / "hw.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{db}"\n\n'
        '[[sources]]\nname = "whitehouse"\nurl = "https://whitehouse.example/feed"\n\n'
        '[[sources]]\nname = "fundus"\nurl = "https://fundus.example/feed"\n\n'
        '[[rules]]\nname = "mss"\nquery = \'"multinational security support" OR kenya*\'\n'
        '[[rules]]\nname = "force"\nquery = "kenya* NEAR/3 haiti"\n' + extra,
        "utf-8",
    )
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("web")
    loaded = load_config(_config(tmp, tmp / "hw.db"))
    store = Store.open(loaded.database_url)
    fill_archive(store)
    from sqlalchemy import text

    with store.engine.begin() as conn:  # the alerts feature's matches, for the rule filter
        conn.execute(
            text(
                "INSERT INTO rule_matches (article_id, rule, terms, matched_at) "
                "SELECT id, 'mss', '[]', first_seen_at FROM articles WHERE text LIKE '%Kenya%'"
            )
        )
    port = free_port()
    yield from _serving(create_app(Archive(store), loaded, "127.0.0.1"), port, store)


def _serving(app: web.Application, port: int, store: Store) -> Iterator[Server]:
    for _ in serve(app, port):
        yield Server(f"http://127.0.0.1:{port}", store)


def api(server: Server, path: str) -> Any:
    status, headers, body = get(server.url + path)
    assert status == 200, body
    assert headers["Content-Type"].startswith("application/json")
    return json.loads(body)


# -- HTTP ------------------------------------------------------------------------------------


def test_api_answers_match_the_openapi_description(server: Server) -> None:
    schemas = SPEC["components"]["schemas"]

    def check(data: Any, name: str) -> None:
        validate_schema(data, {**schemas[name], "components": {"schemas": schemas}})

    found = api(server, "/api/search?q=Port-au-Prince&limit=5")
    check(found, "SearchResults")
    assert found["results"] and all(r["snippet"]["highlights"] for r in found["results"])
    first = found["results"][0]
    start, end = first["snippet"]["highlights"][0]
    assert first["snippet"]["text"][start:end] == "Port-au-Prince"
    check(api(server, "/api/stories?days=3650"), "Stories")
    story_id = first["story_id"]
    story = api(server, f"/api/stories/{story_id}")
    check(story, "Story")
    check(api(server, "/api/coverage?q=kenya&by=language"), "Coverage")
    check(api(server, "/api/sources"), "Sources")
    assert api(server, "/api/openapi.json") == json.loads(json.dumps(SPEC))


def test_api_errors_are_clear_json(server: Server) -> None:
    status, _, body = get(server.url + "/api/search?q=kenya+(")
    assert status == 400 and "too early" in json.loads(body)["error"]
    status, _, body = get(server.url + "/api/stories/999999")
    assert status == 404
    status, _, _ = get(server.url + "/api/search?limit=100000")
    assert status == 400


@pytest.mark.parametrize(("kind", "one"), [("stories", "story"), ("events", "event")])
def test_api_story_and_event_lists_and_ids_answer_alike(
    server: Server, kind: str, one: str
) -> None:
    for query, message in (("days=0", "days: expected 1 to 3650"), ("limit=0", "limit: expected")):
        status, _, body = get(f"{server.url}/api/{kind}?{query}")
        assert status == 400 and message in json.loads(body)["error"]
    # An id no row can have reads like one no row has.
    for row in ("0", "999999"):
        status, _, body = get(f"{server.url}/api/{kind}/{row}")
        assert status == 404 and json.loads(body)["error"] == f"no {one} with id {row}"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/?q=kenya&since=0001-01-01&until=9999-12-31", 200),
        ("/api/search?q=kenya&since=0001-01-01&until=9999-12-31", 200),
        ("/?story=99999999999999999999999", 400),
        ("/api/search?story=99999999999999999999999", 400),
        ("/stories/99999999999999999999999", 404),
        ("/api/stories/99999999999999999999999", 404),
    ],
)
def test_extreme_dates_and_ids_get_an_answer_not_an_error(
    server: Server, path: str, status: int
) -> None:
    assert get(server.url + path)[0] == status


def test_read_only_and_secure_headers(server: Server) -> None:
    request = urllib.request.Request(server.url + "/api/search?q=x", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 405
    _, headers, _ = get(server.url + "/?q=kenya")
    assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none': no script
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in get(server.url + "/?q=m%27ap")[2]


def test_rule_atom_feed(server: Server) -> None:
    status, headers, body = get(server.url + "/rules/mss.atom")
    assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
    root = ET.fromstring(body)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    titles = [e.text for e in root.findall("a:entry/a:title", ns)]
    assert HOSTILE_TITLE in titles and len(titles) >= 3
    assert get(server.url + "/rules/nope.atom")[0] == 404


def test_rule_audit_api_matches_the_openapi_description(server: Server) -> None:
    schemas = SPEC["components"]["schemas"]
    found = api(server, "/api/rules/force/audit?days=30&limit=100")
    validate_schema(found, {**schemas["NearMisses"], "components": {"schemas": schemas}})
    misses = found["near_misses"]
    assert misses[0]["title"].startswith("Readout of President\xa0Biden")
    assert "kenya and haiti both in the text, but 6 words apart (limit 3)" in misses[0]["reasons"]
    scores = [m["score"] for m in misses]
    assert scores == sorted(scores, reverse=True)
    hostile = [m for m in misses if m["title"] == HOSTILE_TITLE]
    assert len(hostile) == 1  # two copies, one story: listed once
    assert get(server.url + "/api/rules/nope/audit")[0] == 404
    assert get(server.url + "/api/rules/force/audit?days=0")[0] == 400
    assert get(server.url + "/rules/nope/audit")[0] == 404


def test_token_required_off_loopback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'hw.db'}")
    loaded = load_config(_config(tmp_path, tmp_path / "hw.db"))
    with pytest.raises(ConfigError, match="token"):
        mount_web(web.Application(), Archive(store), loaded, "0.0.0.0")
    monkeypatch.setenv("HW_WEB_TOKEN", TOKEN)
    loaded = load_config(
        _config(tmp_path, tmp_path / "hw.db", '\n[web]\ntoken_env = "HW_WEB_TOKEN"\n')
    )
    port = free_port()
    for server in _serving(create_app(Archive(store), loaded, "0.0.0.0"), port, store):
        assert get(server.url + "/api/sources")[0] == 401
        assert get(server.url + "/api/rules/force/audit")[0] == 401
        assert get(server.url + "/rules/force/audit")[0] == 401
        assert get(server.url + "/api/sources", {"Authorization": "Bearer wrong"})[0] == 401
        ok = get(server.url + "/api/sources", {"Authorization": f"Bearer {TOKEN}"})
        assert ok[0] == 200
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with opener.open(server.url + f"/sources?token={TOKEN}", timeout=10) as response:
            assert response.status == 200 and "token" not in response.url  # moved to a cookie
        with opener.open(server.url + "/stories", timeout=10) as response:
            assert response.status == 200


# -- a real browser --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def page(server: Server) -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.dialogs = dialogs
        yield page
        browser.close()


def test_browser_search_filter_and_hostile_title(server: Server, page: Any) -> None:
    page.goto(server.url + "/")
    page.fill("#q", "Port-au-Prince")
    page.click("button[type=submit]")
    page.wait_for_selector("li.hit")
    titles = page.locator("li.hit h2").all_inner_texts()
    assert HOSTILE_TITLE in titles  # shown as text, not run
    assert page.locator("li.hit mark").count() >= 2
    assert page.locator("img[src=x]").count() == 0 and page.dialogs == []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search.png"), full_page=True)

    page.select_option("#source", "whitehouse")
    page.click("button[type=submit]")
    page.wait_for_load_state()
    sources = page.locator("li.hit .source").all_inner_texts()
    assert sources and set(sources) == {"whitehouse"}
    assert "source=whitehouse" in page.url


def test_browser_chart_draws(server: Server, page: Any) -> None:
    query = "q=kenya+OR+haiti+OR+police&by=source&since=2021-06-01&until=2021-10-31"
    page.goto(server.url + "/coverage?" + query)
    chart = page.locator("svg.chart")
    box = chart.bounding_box()
    assert box and box["width"] > 300 and box["height"] > 150
    heights = [float(h) for h in page.locator("svg.chart rect.bar").evaluate_all(
        "bars => bars.map(b => b.getBBox().height)")]  # fmt: skip
    assert heights and max(heights) > 20
    page.screenshot(path=str(SCREENSHOTS / "coverage.png"), full_page=True)


def test_browser_opens_a_story_with_its_origin(server: Server, page: Any) -> None:
    page.goto(server.url + "/?q=m%27ap")
    page.locator("a.story-link").first.click()
    page.wait_for_selector("table.copies")
    rows = page.locator("table.copies tbody tr")
    assert rows.count() == 2
    assert page.locator("tr.origin .badge").inner_text() == "origin"
    assert page.dialogs == []
    page.screenshot(path=str(SCREENSHOTS / "story.png"), full_page=True)
    page.goto(server.url + "/sources")
    assert "whitehouse" in page.locator("table.sources").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "sources.png"), full_page=True)


def test_browser_rule_audit_page_from_the_rules_list(server: Server, page: Any) -> None:
    page.goto(server.url + "/")
    page.click("nav >> text=Rules")
    page.locator("tr", has_text="force").locator("a.audit-link").click()
    page.wait_for_selector("li.near-miss")
    assert page.url.endswith("/rules/force/audit")
    first = page.locator("li.near-miss").first
    assert first.locator("h2").inner_text().startswith("Readout of President\xa0Biden")
    assert "6 words apart (limit 3)" in first.locator("ul.reasons").inner_text()
    page.screenshot(path=str(SCREENSHOTS / "rule-audit.png"), full_page=True)
    page.goto(server.url + "/rules/force/audit?limit=100")
    titles = page.locator("li.near-miss h2").all_inner_texts()
    assert titles.count(HOSTILE_TITLE) == 1  # shown as text, not run
    assert page.locator("img[src=x]").count() == 0 and page.dialogs == []


def test_browser_phone_layout(server: Server, page: Any) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(server.url + "/?q=kenya")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390  # nothing wider than the phone's screen
    page.screenshot(path=str(SCREENSHOTS / "search-phone.png"))
    page.set_viewport_size({"width": 1100, "height": 900})
