"""The private-address exception belongs to one source's polls, and to its host and port; a
name that resolves to a public address first and to loopback next (DNS rebinding) gets nowhere.

Both run a real crawl against loopback servers. The rebinding answer comes from the system
resolver as the crawl process sees it (``socket.getaddrinfo``, replaced in that process).
"""

from __future__ import annotations

from pathlib import Path

from tests.support import FeedItem, articles, crawl, rss, write_config
from tests.support.server import running_site

PAGE = "<html><head><title>{0}</title></head><body><article><p>{0} {1}</p></article></body></html>"


def _page(title: str) -> str:
    return PAGE.format(title, "The full text of the page, long enough to be the article. " * 8)


def _item(title: str, link: str) -> FeedItem:
    return FeedItem(title=title, link=link, description=f"{title}: the feed's summary.")


def test_a_private_source_reaches_only_its_own_host_and_port(tmp_path: Path) -> None:
    with running_site() as bridge, running_site() as other, running_site() as metrics:
        # "bridge" and "other" are configured sources on 127.0.0.1, each on its own port;
        # "metrics" stands for any other service on the machine (the service's own /metrics).
        bridge.add("/own", _page("Own page"))
        bridge.add("/stolen", _page("Stolen page"))
        metrics.add("/metrics", _page("Metrics"))
        bridge.feed(
            "/feed.xml",
            rss([_item("Own page", bridge.url("/own")), _item("Metrics", metrics.url("/metrics"))]),
        )
        other.feed("/feed.xml", rss([_item("Stolen page", bridge.url("/stolen"))]))
        config = write_config(
            tmp_path,
            [
                {"name": "bridge", "url": bridge.url("/feed.xml")},
                {"name": "other", "url": other.url("/feed.xml")},
            ],
        )
        crawl(config).check()
        assert bridge.paths("/own") == ["/own"]  # the source's own page
        assert bridge.paths("/stolen") == []  # another source's link to it
        assert metrics.requests() == []  # another port on the same host
    texts = {a.title: a.text for a in articles(config)}
    assert texts["Own page"].startswith("Own page The full text")
    assert texts["Stolen page"] == "Stolen page: the feed's summary."
    assert texts["Metrics"] == "Metrics: the feed's summary."


# The crawl process's resolver: "rebind.test" answers a public address to the first lookup
# (the guard's) and 127.0.0.1 to every later one (the one Twisted connects to).
REBINDING_DNS = """
import socket as _socket

_lookup = _socket.getaddrinfo
_asked = []

def _rebinding(host, port, *args, **kwargs):
    if host in ("rebind.test", b"rebind.test"):
        _asked.append(host)
        answer = "93.184.215.14" if len(_asked) == 1 else "127.0.0.1"
        return [(_socket.AF_INET, _socket.SOCK_STREAM, 6, "", (answer, int(port or 0)))]
    return _lookup(host, port, *args, **kwargs)

_socket.getaddrinfo = _rebinding
"""


def test_a_name_that_rebinds_to_loopback_is_not_fetched(tmp_path: Path) -> None:
    with running_site() as site:
        site.add("/secret", _page("Secret"))
        site.feed("/feed.xml", rss([_item("Secret", f"http://rebind.test:{site.port}/secret")]))
        config = write_config(tmp_path, [{"name": "news", "url": site.url("/feed.xml")}])
        run = crawl(config, prelude=REBINDING_DNS).check()
        assert [r.path for r in site.requests() if "rebind.test" in r.headers.get("host", "")] == []
    assert "refused: rebind.test resolved to private address 127.0.0.1" in run.stderr
    [article] = articles(config)
    assert article.text == "Secret: the feed's summary."
