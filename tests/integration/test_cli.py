"""The `haitiwatch` command line as a user meets it: init, config errors, source selection."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from tests.support import health, real_feed_items, rss, run_cli, write_config
from tests.support.server import Site

pytestmark = pytest.mark.slow

GOOD_SOURCE = '[[sources]]\nname = "a"\nurl = "http://127.0.0.1:9/a.xml"\n'


def test_init_writes_a_config_that_validates(tmp_path: Path) -> None:
    path = tmp_path / "etc" / "haitiwatch.toml"
    run_cli("init", path, console_script=True).check()
    listed = run_cli("--config", path, "sources", "--format", "json", console_script=True).check()
    names = [row["name"] for row in json.loads(listed.stdout)]
    assert len(names) >= 5 and len(set(names)) == len(names)
    assert all(row["status"] == "never" for row in json.loads(listed.stdout))
    assert (tmp_path / "etc" / "haitiwatch.db").exists()  # relative to the config's folder

    again = run_cli("init", path, console_script=True)
    assert again.returncode == 2 and "--force" in again.stderr


@pytest.mark.parametrize(
    ("text", "key", "says"),
    [
        ('[crawl]\ndownload_delay = "fast"\n' + GOOD_SOURCE, "crawl.download_delay", "number"),
        ("[crawl]\nspeed = 3\n" + GOOD_SOURCE, "crawl.speed", "not permitted"),
        (GOOD_SOURCE + 'interval = "15 minutes"\n', "sources[0].interval", '"15m"'),
        ('[[sources]]\nname = "a"\n', "sources[0].url", "required"),
    ],
    ids=["wrong-type", "unknown-key", "bad-interval", "missing-url"],
)
def test_a_bad_config_exits_78_naming_file_and_key(
    tmp_path: Path, text: str, key: str, says: str
) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(text, "utf-8")
    run = run_cli("crawl", config=config)
    assert run.returncode == 78, (run.stdout, run.stderr)  # EX_CONFIG: not a usage error
    assert f"{config}: {key}:" in run.stderr, run.stderr
    assert says in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "hw.db").exists() and not (tmp_path / "haitiwatch.db").exists()


def _two_sources(site: Site, folder: Path) -> Path:
    for name in ("a", "b"):
        items = [
            replace(it, link=site.url(f"/{name}/{i}"), guid=f"{name}{i}")
            for i, it in enumerate(real_feed_items(2))
        ]
        site.feed(f"/{name}.xml", rss(items, name))
    return write_config(
        folder,
        [
            {"name": name, "url": site.url(f"/{name}.xml"), "fetch_articles": False}
            for name in ("a", "b")
        ],
    )


def test_the_config_env_var_is_honoured(site: Site, tmp_path: Path) -> None:
    config = _two_sources(site, tmp_path)
    run = run_cli(
        "sources", "--format", "json", env={"HAITIWATCH_CONFIG": str(config)}, cwd=tmp_path
    ).check()
    assert [row["name"] for row in json.loads(run.stdout)] == ["a", "b"]
    assert (tmp_path / "hw.db").exists()


def test_source_option_limits_the_crawl(site: Site, tmp_path: Path) -> None:
    config = _two_sources(site, tmp_path)
    run = run_cli("crawl", "--workers", "0", "--source", "b", config=config).check()
    assert not run.refused
    assert site.paths() in (["/robots.txt", "/b.xml"], ["/b.xml"])
    assert "1 ok" in run.stdout
    sources = health(config)
    assert sources["a"].status == "never" and sources["a"].fetches == 0
    assert sources["b"].status == "ok" and sources["b"].articles == 2


def test_an_unknown_source_name_is_a_clear_error(site: Site, tmp_path: Path) -> None:
    config = _two_sources(site, tmp_path)
    run = run_cli("crawl", "--source", "zz", config=config)
    assert run.returncode == 2
    assert "no source named 'zz'" in run.stderr and "a, b" in run.stderr
    assert site.requests() == []
