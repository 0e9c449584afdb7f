"""Marks from the web, served for real on 127.0.0.1: the buttons (CSRF-checked), the JSON API
(bearer token) and a real browser pressing a button."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from http.cookiejar import CookieJar
from pathlib import Path
from typing import Any

import pytest

from haitiwatch.db.archive import Archive
from haitiwatch.db.marks import Marks
from haitiwatch.db.store import Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.web import create_app
from haitiwatch.scheduler.web.openapi import SPEC
from tests.integration.test_web import CHROMIUM, CHROMIUM_ARGS
from tests.support.archive import fill_archive
from tests.support.web import free_port, serve

TOKEN = "marks-token-for-tests"


@dataclass
class Server:
    url: str
    store: Store
    ids: dict[str, int]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("marks-web")
    (tmp / "token").write_text(TOKEN)
    config = tmp / "hw.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{tmp / "hw.db"}"\n\n[web]\ntoken_file = "token"\n\n'
        '[[rules]]\nname = "mss"\nquery = "kenya*"\n\n[[rules]]\nname = "gangs"\nquery = "gang*"\n',
        "utf-8",
    )
    loaded = load_config(config)
    store = Store.open(loaded.database_url)
    ids = fill_archive(store)
    port = free_port()
    for _ in serve(create_app(Archive(store), loaded, "127.0.0.1"), port):
        yield Server(f"http://127.0.0.1:{port}", store, ids)


class Browser:
    """urllib with a cookie jar, redirects not followed (to see the 303s)."""

    def __init__(self, base: str) -> None:
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(CookieJar()), NoRedirect()
        )

    def request(
        self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        request = urllib.request.Request(self.base + path, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def post_form(self, path: str, form: dict[str, str], **headers: str) -> tuple[int, str, str]:
        status, got, body = self.request(path, urllib.parse.urlencode(form).encode(), headers)
        return status, got.get("Location", ""), body


def logged_in(server: Server) -> Browser:
    browser = Browser(server.url)
    status, _, _ = browser.request(f"/?token={TOKEN}")
    assert status == 303
    return browser


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
    assert found, "no mark form on the page"
    return found.group(1)


def marks_of(server: Server, article_id: int) -> dict[str, tuple[str, str]]:
    return {
        m.rule: (m.verdict, m.origin)
        for m in Marks(server.store.engine).list_marks()
        if m.article_id == article_id
    }


def test_a_button_marks_with_the_csrf_token_and_nothing_else_does(server: Server) -> None:
    browser = logged_in(server)
    status, _, page = browser.request("/?q=kenya")
    assert status == 200
    token = csrf_of(page)
    article = int(re.findall(r'name="article_id" value="(\d+)"', page)[0])
    form = {"article_id": str(article), "rule": "gangs", "verdict": "irrelevant",
            "next": "/?q=kenya"}  # fmt: skip
    assert browser.post_form("/marks", form)[0] == 403  # no CSRF token
    assert browser.post_form("/marks", form | {"csrf": "0" * 64})[0] == 403  # a wrong one
    assert browser.post_form("/marks", form | {"csrf": "é"})[0] == 403
    evil = {"Origin": "https://evil.example"}
    assert browser.post_form("/marks", form | {"csrf": token}, **evil)[0] == 403
    cross = {"Sec-Fetch-Site": "cross-site"}
    assert browser.post_form("/marks", form | {"csrf": token}, **cross)[0] == 403
    stranger = logged_in(server)  # another session's token is not this one's
    stranger.request("/?q=kenya")
    assert stranger.post_form("/marks", form | {"csrf": token})[0] == 403
    assert marks_of(server, article) == {}
    status, location, _ = browser.post_form("/marks", form | {"csrf": token})
    assert (status, location) == (303, "/?q=kenya")
    assert marks_of(server, article) == {"gangs": ("irrelevant", "web")}
    _, _, page = browser.request("/?q=kenya")
    assert "gangs: not relevant" in page
    off_site = form | {"csrf": token, "next": "//evil.example/"}
    assert browser.post_form("/marks", off_site)[1] == "/"  # never sent elsewhere


def test_a_story_page_has_mark_buttons(server: Server) -> None:
    browser = logged_in(server)
    _, _, page = browser.request("/?q=m%27ap")
    story = re.search(r'href="/stories/(\d+)"', page)
    assert story
    _, _, story_page = browser.request(f"/stories/{story.group(1)}")
    assert len(re.findall(r'<form class="mark"', story_page)) == 2 and csrf_of(story_page)


def api_post(server: Server, body: object, **headers: str) -> tuple[int, Any]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(server.url + "/api/marks", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_the_api_marks_with_the_bearer_token(server: Server) -> None:
    article = next(iter(server.ids.values()))
    body = {"article_id": article, "rule": "mss", "verdict": "relevant"}
    auth = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    assert api_post(server, body, **{"Content-Type": "application/json"})[0] == 401
    assert api_post(server, body, **auth, Origin="https://evil.example")[0] == 403
    assert api_post(server, body, **{**auth, "Content-Type": "text/plain"})[0] == 415
    status, answer = api_post(server, body | {"article_id": 999999}, **auth)
    assert status == 404 and "no article with id 999999" in answer["error"]
    status, answer = api_post(server, body | {"rule": "nosuch"}, **auth)
    assert status == 400 and "no rule named 'nosuch'" in answer["error"]
    status, answer = api_post(server, body, **auth)
    assert status == 201 and answer == body | {"origin": "web"}
    assert marks_of(server, article)["mss"] == ("relevant", "web")
    post = SPEC["paths"]["/api/marks"]["post"]
    assert set(post["responses"]) >= {"201", "400", "401", "403", "404", "415"}


# -- a real browser --------------------------------------------------------------------------


def test_browser_presses_a_mark_button(server: Server) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{server.url}/?q=Port-au-Prince&token={TOKEN}")
        first = page.locator("li.hit").first
        article = int(first.locator("input[name=article_id]").get_attribute("value") or 0)
        first.locator("select[name=rule]").select_option("mss")
        first.locator("button[value=irrelevant]").click()
        page.wait_for_selector("li.hit .marked")
        assert "Port-au-Prince" in page.url  # back where the button was pressed
        assert "mss: not relevant" in page.locator("li.hit").first.inner_text()
        browser.close()
    assert marks_of(server, article)["mss"] == ("irrelevant", "web")


def test_no_rules_no_buttons(tmp_path: Path) -> None:
    config = tmp_path / "hw.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "hw.db"}"\n', "utf-8")
    loaded = load_config(config)
    store = Store.open(loaded.database_url)
    fill_archive(store, hostile=False)
    port = free_port()
    for _ in serve(create_app(Archive(store), loaded, "127.0.0.1"), port):
        _, _, page = Browser(f"http://127.0.0.1:{port}").request("/?q=kenya")
        assert 'class="hit"' in page and 'class="mark"' not in page
