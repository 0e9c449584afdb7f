"""OPML as a user meets it: `sources export --format opml`, `sources import FILE.opml` into a
config that keeps its comments, and /sources.opml behind the web's access token."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import pytest

from haitiwatch.db.archive import Archive
from haitiwatch.db.store import Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.opml import read_opml
from haitiwatch.scheduler.web import create_app
from tests.support import DATA, run_cli
from tests.support.web import free_port, get, serve

pytestmark = pytest.mark.slow

SUBS = DATA / "feeds" / "netnewswire" / "files" / "Subs.opml.gz"
SOURCES = """
[[sources]]
name = "nation"
url = "https://nation.africa/kenya/rss.xml"
tags = ["kenya", "press"]
language = "en"

[[sources]]
name = "nouvelliste"
url = "https://lenouvelliste.com/rss?a=1&b=2"
tags = ["haiti", "fr"]

[[sources]]
name = "keyed"
url = "https://wire.example/feed?api_key=s3cret"

[[sources]]
name = "map"
kind = "sitemap"
url = "https://star.example/sitemap_news.xml"
"""
HEADER = '# my config: keep this comment\n[database]\nurl = "sqlite:///hw.db"  # beside me\n'


def test_export_then_import_into_an_empty_config_gives_the_same_sources(tmp_path: Path) -> None:
    full = tmp_path / "full.toml"
    full.write_text(HEADER + SOURCES, "utf-8")
    listing = tmp_path / "sources.opml"
    exported = run_cli("sources", "export", "--format", "opml", "-o", listing, config=full)
    assert exported.check().stderr.strip() == (
        "1 sources left out: not feeds, or their URL comes from the environment"
    )
    empty = tmp_path / "empty.toml"
    empty.write_text(HEADER, "utf-8")
    run_cli("sources", "import", listing, config=empty).check()
    feeds = [s for s in load_config(full).config.sources if s.kind == "feed"]
    assert load_config(empty).config.sources == feeds
    text = empty.read_text("utf-8")
    assert text.startswith(HEADER) and "# beside me" in text

    again = run_cli("sources", "import", listing, config=empty).check()
    assert "0 added" in again.stdout and "already a source" in again.stderr
    assert empty.read_text("utf-8") == text


def test_a_reader_export_is_imported_with_folders_as_tags(tmp_path: Path) -> None:
    config = tmp_path / "hw.toml"
    config.write_text(HEADER, "utf-8")
    subs = tmp_path / "Subs.opml"
    subs.write_bytes(gzip.decompress(SUBS.read_bytes()))
    dry = run_cli("sources", "import", subs, "--dry-run", config=config).check()
    assert "206 would add" in dry.stdout and config.read_text("utf-8") == HEADER
    assert "skipped http://feed.katiefloyd.com/: listed twice" in dry.stderr
    run_cli("sources", "import", subs, config=config).check()
    sources = load_config(config).config.sources
    assert len(sources) == 206
    assert sum(s.tags == ["programming"] for s in sources) == 33


def test_a_billion_laughs_file_is_refused_and_the_config_kept(tmp_path: Path) -> None:
    config = tmp_path / "hw.toml"
    config.write_text(HEADER, "utf-8")
    laughs = tmp_path / "laughs.opml"
    laughs.write_text(
        '<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>'
        '<opml version="2.0"><body><outline text="&b;" xmlUrl="https://a.example/"/></body></opml>',
        "utf-8",
    )
    run = run_cli("sources", "import", laughs, config=config)
    assert (
        run.returncode == 2 and "declares entities" in run.stderr and "Traceback" not in run.stderr
    )
    assert config.read_text("utf-8") == HEADER


@pytest.fixture
def web_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    config = tmp_path / "hw.toml"
    config.write_text(HEADER + '\n[web]\ntoken_env = "HW_TEST_TOKEN"\n' + SOURCES, "utf-8")
    monkeypatch.setenv("HW_TEST_TOKEN", "opml-token-for-tests")
    loaded = load_config(config)
    port = free_port()
    app = create_app(Archive(Store.open(loaded.database_url)), loaded, "127.0.0.1")
    for _ in serve(app, port):
        yield f"http://127.0.0.1:{port}"


def test_sources_opml_on_the_web_needs_the_token_and_hides_keyed_urls(web_url: str) -> None:
    status, _headers, _body = get(web_url + "/sources.opml")
    assert status == 401
    auth = {"Authorization": "Bearer opml-token-for-tests"}
    status, headers, body = get(web_url + "/sources.opml", auth)
    assert status == 200 and headers["Content-Type"].startswith("text/x-opml")
    feeds = read_opml(body)
    assert [(f.title, f.tags) for f in feeds] == [
        ("nation", ("kenya", "press")),
        ("nouvelliste", ("haiti", "fr")),
    ]
    assert b"s3cret" not in body
