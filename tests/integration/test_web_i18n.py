"""Every page of the web archive in Debian's chromium (Playwright), in English, French,
Haitian Creole and Spanish: the browser's language picks the interface, the footer's links
switch it, every label is the catalog's, and no English label is left on a translated page.
Also the article page: its text, copies, rules matched and marks."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from haitiwatch.db.archive import Archive
from haitiwatch.scheduler.web import create_app
from haitiwatch.scheduler.web.i18n import LANGUAGES, translations
from tests.support.archive import HOSTILE_TITLE
from tests.support.web import filled_archive, free_port, serve

CHROMIUM = shutil.which("chromium") or (
    "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
)
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
ACCEPT = {"en": "en-US,en;q=0.9", "fr": "fr-FR,fr;q=0.9,en;q=0.5", "ht": "ht,fr;q=0.8",
          "es": "es-419,es;q=0.9"}  # fmt: skip
#: Labels that are page chrome (not feed text): none of them may stay in English.
CHROME = ("header nav a, footer, label, button, th, .hint, .none, .error, "
          "main h1:not(.article h1), h2[id], .badge")  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    loaded, store, ids = filled_archive(tmp_path_factory.mktemp("i18n"))
    archive = Archive(store)
    hostile = ids["https://hostile.example/a/1"]
    archive.marks.record(hostile, "mss", "relevant", "web", datetime.now(UTC))
    story = archive.article(hostile)
    assert story is not None and story.article.story is not None
    port = free_port()
    for _ in serve(create_app(archive, loaded, "127.0.0.1"), port):
        yield {"url": f"http://127.0.0.1:{port}", "article": hostile, "story": story.article.story}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def pages(site: dict[str, Any]) -> list[str]:
    return [
        "/", "/?q=kenya", "/stories?days=3650", f"/stories/{site['story']}",
        f"/article/{site['article']}", "/coverage?q=kenya", "/sources", "/rules",
        "/rules/force/audit?days=365", "/help", "/stories/999999", "/mark?a=1",
    ]  # fmt: skip


def english_labels(language: str) -> list[re.Pattern[str]]:
    """Every catalog label that reads differently in ``language``, as a whole-word pattern."""
    catalog = translations(language)
    found = []
    for message in _message_ids():
        if "%(" in message or "<" in message or len(message) < 4:
            continue
        if catalog.gettext(message) != message:
            found.append(re.compile(rf"(?<![\w-]){re.escape(message)}(?![\w-])"))
    return found


def _message_ids() -> list[str]:
    from babel.messages.pofile import read_po

    from haitiwatch.scheduler.web.i18n import LOCALE_DIR

    with (LOCALE_DIR / "fr" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return [m.id for m in read_po(f) if m.id and isinstance(m.id, str)]


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_page_in_the_browsers_language(
    site: dict[str, Any], browser: Any, language: str
) -> None:
    pages_in = {code: browser.new_context(extra_http_headers={"Accept-Language": ACCEPT[code]})
                .new_page() for code in {"en", language}}  # fmt: skip
    gettext = translations(language).gettext
    left_in_english = english_labels(language) if language != "en" else []
    # Words a translated page may share with the English one: its own catalog's words, the
    # archive's data (names of sources and rules, language codes) and the languages' names.
    own = _translated(language) if language != "en" else []
    shared = _words(" ".join(own) + " " + " ".join(LANGUAGES.values()))
    shared |= {"haitiwatch", "whitehouse", "fundus", "hostile", "mirror", "mss", "force", "Atom"}
    for path in pages(site):
        chrome = {}
        for code, page in pages_in.items():
            page.goto(site["url"] + path)
            assert page.locator("html").get_attribute("lang") == code, path
            chrome[code] = "\n".join(page.locator(CHROME).all_inner_texts())
        page = pages_in[language]
        nav = page.locator("header nav a").all_inner_texts()
        assert nav == [gettext(label) for label in
                       ("Search", "Stories", "Coverage", "Sources", "Rules", "Help")]  # fmt: skip
        assert chrome[language].strip(), path
        for label in left_in_english:
            assert not label.search(chrome[language]), f"{path} in {language}: {label.pattern!r}"
        if language != "en":  # nothing English that no catalog knows (a label not marked)
            left = _words(chrome[language]) & _words(chrome["en"]) - shared
            assert left == set(), f"{path} in {language}: {sorted(left)}"
    for page in pages_in.values():
        page.context.close()


def _words(text: str) -> set[str]:
    return set(re.findall(r"[^\W\d_]{3,}", text))


def _translated(language: str) -> list[str]:
    from babel.messages.pofile import read_po

    from haitiwatch.scheduler.web.i18n import LOCALE_DIR

    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        entries = [m.string for m in read_po(f) if m.id]
    return [text for entry in entries for text in (entry if isinstance(entry, tuple) else [entry])]


def test_the_footer_switches_the_language_and_it_stays(site: dict[str, Any], browser: Any) -> None:
    context = browser.new_context(extra_http_headers={"Accept-Language": "en"})
    page = context.new_page()
    page.goto(site["url"] + "/stories?days=3650")
    page.click("footer nav.languages a[lang=ht]")
    assert page.url.endswith("/stories?days=3650")  # back where the reader was
    assert page.locator("html").get_attribute("lang") == "ht"
    page.goto(site["url"] + "/sources")  # a cookie: the choice stays
    assert page.locator("h1").inner_text() == translations("ht").gettext("Sources")
    page.click("footer nav.languages a[lang=es]")
    assert page.locator("html").get_attribute("lang") == "es"
    context.close()


def test_article_page_shows_text_copies_rules_and_marks(site: dict[str, Any], browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(site["url"] + "/?q=m%27ap")
    page.locator("li.hit a.article-link").first.click()
    assert re.search(r"/article/\d+$", page.url)
    assert page.locator("article h1").inner_text() == HOSTILE_TITLE  # text, not run
    assert "Multinational Security Support" in page.locator("section.text").inner_text()
    assert page.locator("section.story table.copies tbody tr").count() == 2
    assert page.locator("section.rules-matched li").all_inner_texts() == ["mss"]
    marks = page.locator("section.marks li.marked").all_inner_texts()
    assert len(marks) <= 1
    page.goto(site["url"] + f"/article/{site['article']}")
    assert page.locator("section.marks li.marked").all_inner_texts() == ["mss: relevant"]
    page.select_option("section.marks select[name=rule]", "force")
    page.click("section.marks button[value=irrelevant]")
    page.wait_for_load_state()
    assert page.url.endswith(f"/article/{site['article']}")
    assert "force: not relevant" in page.locator("section.marks").inner_text()
    assert page.locator("img[src=x]").count() == 0 and dialogs == []
    assert page.goto(site["url"] + "/article/999999").status == 404
    context.close()


def test_a_built_wheel_translates(tmp_path: Path) -> None:
    """`pip install .` ships the catalogs: a wheel built from a clean copy of the checkout (no
    build/ or egg-info left from an earlier build), installed apart, serves French without any
    compile step."""
    import subprocess
    import sys

    repo = tmp_path / "checkout"
    for part in ("pyproject.toml", "README.md", "crawler", "db", "scheduler"):
        source = Path(__file__).resolve().parents[2] / part
        if source.is_dir():
            shutil.copytree(source, repo / part, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            repo.mkdir(exist_ok=True)
            shutil.copy(source, repo / part)
    pip = [sys.executable, "-m", "pip"]
    build = [*pip, "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(repo)]
    subprocess.run(build, check=True, capture_output=True)
    (wheel,) = tmp_path.glob("haitiwatch-*.whl")
    target = tmp_path / "installed"
    install = [*pip, "install", "-q", "--no-deps", "--target", str(target)]
    subprocess.run([*install, str(wheel)], check=True, capture_output=True)
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from haitiwatch.scheduler.web import i18n; "
        "print(i18n.__file__); print(i18n.translations('fr').gettext('Stories'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, str(target)], check=True, capture_output=True, text=True
    ).stdout.splitlines()
    assert out[0].startswith(str(target)) and out[1] == "Sujets"
