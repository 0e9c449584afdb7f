"""Secrets stay secret: a full crawl and alert cycle at -vv with marker secrets in a source's
``user:password@``, in key-like query values, in a source URL from the environment, in a
webhook channel and in a channel URL Apprise cannot parse; no output, listing, export or
stored error shows any of them. Basic credentials reach their own source, as a header."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from tests.support import FeedItem, rss, run_cli, words, write_config
from tests.support.receiver import Receiver
from tests.support.server import Site

MARKERS = (
    "MARKERpass1xyz",
    "MARKERkey2xyz",
    "MARKERkey3xyz",
    "MARKERkey4xyz",
    "MARKERtoken5abcdefgh",
    "MARKERtoken6abcdefgh",
)


def _items(prefix: str, site: Site) -> bytes:
    return rss(
        [
            FeedItem(
                title=f"{prefix}: Kenyan police in Haiti",
                link=site.url(f"/{prefix}/story"),
                # A lead of its own: the two feeds' items are two events, two alerts.
                description=f"{words(prefix, 40)}. The Multinational Security Support mission "
                "opened a new base.",
            )
        ]
    )


def test_no_output_shows_a_secret(tmp_path: Path, site: Site, receiver: Receiver) -> None:
    site.feed("/members/feed.xml", _items("members", site))
    site.feed("/env/feed.xml", _items("env", site))
    site.add(
        "/members/story",
        f"<html><body><article><p>Members only: {words('members page', 40)}. The Multinational"
        " Security Support mission opened a new base near the capital on Monday.</p></article>"
        "</body></html>",
    )
    config = write_config(
        tmp_path,
        [
            {
                "name": "members",
                "url": site.url("/members/feed.xml?apikey=MARKERkey2xyz").replace(
                    "http://", "http://reader:MARKERpass1xyz@"
                ),
            },
            {"name": "from-env", "url_env": "HW_TEST_SOURCE_URL", "fetch_articles": False},
            {"name": "broken", "url": site.url("/missing.xml?api_key=MARKERkey3xyz")},
        ],
    )
    hook = "json://" + receiver.url("/hook/MARKERtoken5abcdefgh").removeprefix("http://")
    config.write_text(
        config.read_text()
        + '\n[channels.desk]\nurl_env = "HW_TEST_HOOK"\n'
        + '\n[channels.typo]\nurl_env = "HW_TEST_BAD_HOOK"\n'
        + '\n[[rules]]\nname = "mission"\nquery = \'"multinational security support"\'\n'
        + 'channels = ["desk", "typo"]\n'
    )
    env = {
        "HW_TEST_SOURCE_URL": site.url("/env/feed.xml?k=MARKERkey4xyz"),
        "HW_TEST_HOOK": hook,
        "HW_TEST_BAD_HOOK": "nosuchscheme://user:MARKERtoken6abcdefgh@example.invalid/",
    }
    runs = [
        run_cli("-vv", "crawl", "--workers", "0", config=config, env=env),
        run_cli("-vv", "sources", config=config, env=env),
        run_cli("sources", "--format", "json", config=config, env=env),
        run_cli("status", config=config, env=env),
        run_cli("export", "--format", "jsonl", config=config, env=env),
        run_cli("-vv", "rules", "check", config=config, env=env),
    ]
    stored = {s["name"]: s for s in json.loads(runs[2].stdout)}
    assert stored["broken"]["last_error"].startswith("HTTP 404 from ")  # the error is kept...
    assert "api_key=***" in stored["broken"]["last_error"]  # ...without the key
    assert len(receiver.posts) == 2  # both sources' mission articles alerted through "desk"
    bodies = [body for _path, body in receiver.posts]  # (the path is the receiver's own URL)
    outputs = [run.stdout + run.stderr for run in runs] + [json.dumps(bodies)]
    database = (tmp_path / "hw.db").read_bytes()
    for marker in MARKERS:
        assert all(marker not in output for output in outputs), marker
        assert marker.encode() not in database, marker
    # The credentials went where they belong: as a header to the source's own host.
    expected = "Basic " + base64.b64encode(b"reader:MARKERpass1xyz").decode()
    for path in ("/members/feed.xml?apikey=MARKERkey2xyz", "/members/story"):
        [request] = site.requests(path)
        assert request.headers.get("authorization") == expected, path
    assert all("authorization" not in r.headers for r in site.requests("/env/"))
