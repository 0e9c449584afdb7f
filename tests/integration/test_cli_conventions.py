"""The command line behaves like the tools people know: one --since syntax, --version,
completion, choices in --help, output that suits pipes, progress only on a terminal."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest

from tests.support import FeedItem, crawl, haitiwatch_script, rss, run_cli, write_config
from tests.support.server import running_site

pytestmark = pytest.mark.slow

RULE = '\n[[rules]]\nname = "mission"\nquery = "kenyan AND haiti"\n'
LONG_TITLE = "Kenyan police land in Haiti " + "and the long headline goes on " * 6 + "to its end"
ITEMS = [
    (LONG_TITLE, "The first Kenyan contingent arrived in Haiti on Tuesday, officials said."),
    ("Markets close higher", "Shares rose in Nairobi and London."),
]


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A small archive crawled from a loopback feed, with one rule."""
    folder = tmp_path_factory.mktemp("archive")
    with running_site() as site:
        items = [
            FeedItem(title=title, link=f"http://127.0.0.1/{n}", guid=f"g{n}", description=text)
            for n, (title, text) in enumerate(ITEMS)
        ]
        site.feed("/news.xml", rss(items))
        config = write_config(
            folder, [{"name": "news", "url": site.url("/news.xml"), "fetch_articles": False}]
        )
        config.write_text(config.read_text() + RULE)
        crawl(config).check()
        yield config


@pytest.mark.parametrize(
    "command",
    [["stories"], ["rules", "test", "mission"], ["rules", "audit", "mission"], ["search", "haiti"]],
    ids=["stories", "rules-test", "rules-audit", "search"],
)
def test_every_since_option_takes_the_same_forms(archive: Path, command: list[str]) -> None:
    for since in ("12h", "2025-09-30", "2025-09-30T12:00", "all"):
        run_cli(*command, "--since", since, config=archive).check()
    bad = run_cli(*command, "--since", "a week", config=archive)
    assert bad.returncode == 2, bad.stderr
    assert "--since: expected" in bad.stderr and "2025-09-30T12:00" in bad.stderr, bad.stderr
    assert "'a week'" in bad.stderr and "Traceback" not in bad.stderr


def test_since_a_day_and_all_select_what_they_say(archive: Path) -> None:
    def stories(since: str) -> list[object]:
        run = run_cli("stories", "--since", since, "--format", "json", config=archive).check()
        return list(json.loads(run.stdout))

    assert len(stories("all")) == len(stories("2000-01-01")) == 2
    assert stories("2999-01-01T00:00") == []


def test_version_is_the_installed_package_version() -> None:
    run = run_cli("--version", console_script=True).check()
    assert run.stdout.strip() == f"haitiwatch {metadata.version('haitiwatch')}"


def test_completion_script_and_answers() -> None:
    script = run_cli("--show-completion", "bash", console_script=True).check()
    assert "_HAITIWATCH_COMPLETE=complete_bash" in script.stdout

    def complete(words: str) -> list[str]:
        env = {
            "_HAITIWATCH_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
        }
        return run_cli(console_script=True, env=env).check().stdout.split()

    assert {"stories", "story"} <= set(complete("haitiwatch stor"))
    assert complete("haitiwatch stories --format ") == ["table", "json", "csv", "tsv"]
    assert complete("haitiwatch search --sort ") == ["relevance", "date"]


@pytest.mark.parametrize(
    ("command", "choices"),
    [
        (["stories"], "table|json|csv|tsv"),
        (["sources"], "table|json|csv|tsv"),
        (["marks"], "table|json|csv|tsv"),
        (["search"], "relevance|date"),
        (["search"], "table|json|jsonl|csv"),
        (["export"], "jsonl|csv"),
        (["alerts"], "pending|sending|sent|failed"),
        (["mark"], "relevant|irrelevant"),
    ],
)
def test_help_shows_the_choices(command: list[str], choices: str) -> None:
    run = run_cli(*command, "--help", console_script=True, env={"COLUMNS": "200"}).check()
    assert choices in run.stdout


def test_a_wrong_choice_is_a_usage_error_listing_the_choices(archive: Path) -> None:
    run = run_cli("stories", "--format", "xml", config=archive, env={"COLUMNS": "200"})
    assert run.returncode == 2
    assert "'xml' is not one of 'table', 'json', 'csv', 'tsv'" in run.stderr


def test_tables_keep_whole_cells_in_a_pipe(archive: Path) -> None:
    piped = run_cli("stories", config=archive).check().stdout.splitlines()
    assert piped[0].split("\t") == ["story", "updated", "copies", "outlets", "origin (first seen)"]
    assert any(line.split("\t")[-1] == LONG_TITLE for line in piped[1:]), piped

    as_csv = run_cli("stories", "--format", "csv", config=archive).check().stdout
    rows = list(csv.reader(io.StringIO(as_csv)))
    assert rows[0][-1] == "origin (first seen)" and LONG_TITLE in [row[-1] for row in rows]

    health = run_cli("sources", "--format", "tsv", config=archive).check().stdout.splitlines()
    assert health[1].split("\t")[:3] == ["news", "", "ok"]  # name, tags (none), status


def run_on_a_terminal(*args: str, config: Path) -> tuple[str, str]:
    """Run with stderr on a pseudo-terminal, as in an interactive shell, and stdout piped."""
    leader, follower = os.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "TTY_COMPATIBLE")}
    env |= {"TERM": "xterm-256color", "COLUMNS": "120"}
    with subprocess.Popen(
        [haitiwatch_script(), "--config", str(config), *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=follower,
        env=env,
    ) as proc:
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            shown += chunk
        assert proc.stdout is not None
        stdout = proc.stdout.read().decode()
        assert proc.wait(timeout=120) == 0, shown
    os.close(leader)
    return stdout, shown.decode(errors="replace")


@pytest.mark.parametrize(
    ("command", "label"),
    [
        (["export"], "exporting"),
        (["rules", "test", "mission"], "testing the rule"),
        (["rules", "audit", "mission"], "auditing"),
    ],
    ids=["export", "rules-test", "rules-audit"],
)
def test_progress_only_on_a_terminal(archive: Path, command: list[str], label: str) -> None:
    stdout, terminal = run_on_a_terminal(*command, config=archive)
    assert label in terminal
    assert label not in stdout

    piped = run_cli(*command, config=archive).check()
    assert label not in piped.stderr and label not in piped.stdout
