"""Source tags as a user meets them: `sources` lists them, `coverage --by tag` and the web's
coverage chart and API split the archive by them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from haitiwatch.db.archive import Archive
from haitiwatch.db.store import Store
from haitiwatch.scheduler.config import load_config
from haitiwatch.scheduler.web import create_app
from tests.support import run_cli
from tests.support.archive import fill_archive
from tests.support.web import free_port, get, serve

pytestmark = pytest.mark.slow

CONFIG = """
[database]
url = "sqlite:///hw.db"

[[sources]]
name = "whitehouse"
url = "https://whitehouse.example/feed"
tags = ["us", "government"]

[[sources]]
name = "fundus"
url = "https://fundus.example/feed"
tags = ["wire"]
"""


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("tags") / "hw.toml"
    path.write_text(CONFIG, "utf-8")
    store = Store.open(load_config(path).database_url)
    try:
        fill_archive(store)  # also "hostile" and "mirror": archived, not configured
    finally:
        store.close()
    return path


@pytest.fixture(scope="module")
def web_url(config: Path) -> Iterator[str]:
    loaded = load_config(config)
    port = free_port()
    app = create_app(Archive(Store.open(loaded.database_url)), loaded, "127.0.0.1")
    for _ in serve(app, port):
        yield f"http://127.0.0.1:{port}"


def _totals(points: list[dict[str, object]]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for p in points:
        totals[str(p["key"])] = totals.get(str(p["key"]), 0) + int(str(p["count"]))
    return totals


def test_coverage_by_tag_on_the_command_line(config: Path) -> None:
    by_source = run_cli("coverage", "--format", "json", config=config).check()
    by_tag = run_cli("coverage", "--by", "tag", "--format", "json", config=config).check()
    sources = _totals(json.loads(by_source.stdout)["points"])
    tags = _totals(json.loads(by_tag.stdout)["points"])
    assert tags == {
        "us": sources["whitehouse"],
        "government": sources["whitehouse"],
        "wire": sources["fundus"],
        "untagged": sources["hostile"] + sources["mirror"],
    }
    table = run_cli("coverage", "kenya", "--by", "tag", config=config).check()
    assert "government" in table.stdout and "untagged" not in table.stdout


def test_the_sources_list_shows_tags(config: Path) -> None:
    listed = run_cli("sources", "--format", "json", config=config).check()
    assert {row["name"]: row["tags"] for row in json.loads(listed.stdout)} == {
        "whitehouse": ["us", "government"],
        "fundus": ["wire"],
        "hostile": [],
        "mirror": [],
    }
    wide = run_cli("sources", config=config, env={"COLUMNS": "200"}).check()
    assert "us, government" in wide.stdout


def test_the_web_chart_and_api_split_by_tag(web_url: str) -> None:
    status, _headers, body = get(web_url + "/api/coverage?by=tag")
    assert status == 200, body
    keys = {p["key"] for p in json.loads(body)["points"]}
    assert keys == {"us", "government", "wire", "untagged"}
    status, _headers, page = get(web_url + "/coverage?by=tag")
    assert status == 200 and b'<option value="tag" selected>' in page and b"<svg" in page
    status, _headers, page = get(web_url + "/sources")
    assert status == 200 and b">government</a>" in page
