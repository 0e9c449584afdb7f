"""crawler.urls: link resolution, fetch URLs, dedupe keys, outlets.

Most concrete URLs are real article links from the fundus corpus and news feeds.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from haitiwatch.crawler import urls
from haitiwatch.crawler.urls import (
    UnusableURL,
    absolute_url,
    canonical_url,
    fetch_url,
    host_of,
    is_tracking_param,
    registered_domain,
)
from haitiwatch.db.errors import HaitiwatchError

# -- canonical_url: pairs that must give the same key --------------------------------------------

SAME_KEY = [
    # scheme, www, trailing slash
    ("http://haitiantimes.com/2024/06/25/kenya-police/", "https://www.haitiantimes.com/2024/06/25/kenya-police"),
    ("HTTPS://WWW.HaitianTimes.COM/x", "https://haitiantimes.com/x"),
    ("https://haitiantimes.com", "https://haitiantimes.com/"),
    ("https://www.haitiantimes.com.:443/x", "https://haitiantimes.com/x"),
    ("http://haitiantimes.com:80/x", "https://haitiantimes.com/x"),
    # tracking parameters and fragments, as found in real feed links
    (
        "https://restofworld.org/2025/oman-space-industry-launchpad-satellites/?utm_source=rss&utm_medium=rss&utm_campaign=feeds",
        "https://restofworld.org/2025/oman-space-industry-launchpad-satellites/",
    ),
    (
        "https://www.derstandard.at/story/3000000218734/nach-kalifat-rufen-in-hamburg?ref=rss",
        "https://derstandard.at/story/3000000218734/nach-kalifat-rufen-in-hamburg",
    ),
    (
        "https://www.cbc.ca/news/world/gaza-israel-ceasefire-negotiations-sinwar-1.7287711?cmp=rss",
        "https://www.cbc.ca/news/world/gaza-israel-ceasefire-negotiations-sinwar-1.7287711",
    ),
    (
        "https://www.dw.com/de/russland-wahl/a-68117411?maca=de-rss-de-all-1119-xml-mrss",
        "https://www.dw.com/de/russland-wahl/a-68117411",
    ),
    (
        "https://www.kicker.de/interimstrainer-schubert-1019241/artikel#omrss",
        "https://www.kicker.de/interimstrainer-schubert-1019241/artikel",
    ),
    (
        "https://metro.co.uk/2024/07/17/king-charles-21244172/?ico=mosaic_politics",
        "https://metro.co.uk/2024/07/17/king-charles-21244172",
    ),
    (
        "https://www.washingtontimes.com/news/2023/apr/28/x/?utm_source=RSS_Feed&utm_medium=RSS",
        "https://www.washingtontimes.com/news/2023/apr/28/x/",
    ),
    ("https://x.com/a?fbclid=IwAR0abc&gclid=1&mc_cid=2&mc_eid=3&_ga=4&CMP=5", "https://x.com/a"),
    ("https://x.com/a?ns_mchannel=social&at_medium=rss&xtor=RSS-1&spm=a.b&ocid=msn", "https://x.com/a"),
    ("https://x.com/a?igshid=1&msclkid=2&dclid=3&ref_src=twsrc&ref_url=y&_gl=5&cmpid=6", "https://x.com/a"),
    # AMP variants
    ("https://www.miamiherald.com/news/article123.html", "https://www.miamiherald.com/news/article123.html?amp"),
    ("https://www.miamiherald.com/news/article123.html", "https://www.miamiherald.com/news/article123.html?amp=1"),
    ("https://amp.theguardian.com/world/haiti", "https://www.theguardian.com/world/haiti"),
    ("https://www.thestar.co.ke/news/2024/06/25/story/amp", "https://www.thestar.co.ke/news/2024/06/25/story"),
    ("https://www.thestar.co.ke/news/story/amp/", "https://www.thestar.co.ke/news/story"),
    ("https://nation.africa/amp/kenya/news/haiti-1234", "https://nation.africa/kenya/news/haiti-1234"),
    ("https://www.bbc.com/news/world-123.amp", "https://www.bbc.com/news/world-123"),
    ("https://x.com/story/haiti.amp.html", "https://x.com/story/haiti.html"),
    ("https://www.cnn.com/2024/06/25/x/index.html?outputType=amp", "https://www.cnn.com/2024/06/25/x/"),
    ("https://x.com/story?_amp=true", "https://x.com/story"),
    # mobile hosts
    ("https://m.standardmedia.co.ke/article/2001/haiti", "https://www.standardmedia.co.ke/article/2001/haiti"),
    ("https://mobile.reuters.com/world/haiti", "https://reuters.com/world/haiti"),
    # index files, dot segments, duplicate slashes
    ("https://x.com/news/index.html", "https://x.com/news/"),
    ("https://x.com/index.php", "https://x.com"),
    ("https://x.com/news/index.htm", "https://x.com/news"),
    ("https://x.com//news///haiti", "https://x.com/news/haiti"),
    ("https://x.com/a/./b/../c", "https://x.com/a/c"),
    # percent-encoding and query order
    ("https://x.com/%7Euser/%c3%a9lection", "https://x.com/~user/%C3%A9lection"),
    ("https://x.com/élection", "https://x.com/%C3%A9lection"),
    ("https://x.com/s?b=2&a=1", "https://x.com/s?a=1&b=2"),
    ("https://x.com/s?q=port+au+prince", "https://x.com/s?q=port%20au%20prince"),
    # IDNA host
    ("https://Bücher.de/x", "https://xn--bcher-kva.de/x"),
]  # fmt: skip

DIFFERENT_KEY = [
    ("https://x.com/a", "https://x.com/b"),
    ("https://x.com/a?id=1", "https://x.com/a?id=2"),
    ("https://x.com/news?page=2", "https://x.com/news"),
    ("https://x.com/Story", "https://x.com/story"),  # paths are case-sensitive
    ("https://x.com/a%2Fb", "https://x.com/a/b"),  # an escaped slash is not a separator
    ("https://news.x.com/a", "https://x.com/a"),  # only www/m/mobile/amp are aliases
    ("https://x.com:8080/a", "https://x.com/a"),
    ("https://x.com/amplifier", "https://x.com/"),
    ("https://x.com/example/champ", "https://x.com/example"),
    ("https://x.com/a?amp_story=1", "https://x.com/a"),
    ("https://x.com/a?cid=123", "https://x.com/a?cid=456"),  # content id, not a tracker
    ("https://www.heise.de/news/x.html?seite=all", "https://www.heise.de/news/x.html"),
]


@pytest.mark.parametrize(("a", "b"), SAME_KEY)
def test_variants_of_one_article_share_a_key(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT_KEY)
def test_different_articles_keep_different_keys(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("http://www.Example.com/A/b/?utm_source=x&z=1&a=2#top", "https://example.com/A/b?a=2&z=1"),
        ("https://example.com", "https://example.com/"),
        ("https://www.example.com/", "https://example.com/"),
        ("https://amp.www.example.com/x/amp", "https://example.com/x"),
        ("https://www.co.uk/x", "https://co.uk/x"),
        ("https://www.com/x", "https://www.com/x"),  # nothing with a dot would remain
        ("https://m.example.com:8443/x", "https://example.com:8443/x"),
        ("http://127.0.0.1:8000/feed.xml", "https://127.0.0.1:8000/feed.xml"),
        ("http://[0:0::1]/x", "https://[::1]/x"),
        ("https://user:pw@example.com/x", "https://example.com/x"),
        ("https://example.com/a?flag&b=", "https://example.com/a?b&flag"),
        ("https://example.com/100%/x", "https://example.com/100%25/x"),
        ("https://example.com/a b", "https://example.com/a%20b"),
    ],
)
def test_canonical_url_exact_keys(url: str, key: str) -> None:
    assert canonical_url(url) == key


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "example.com/x",
        "/relative/path",
        "ftp://example.com/x",
        "mailto:desk@haitiantimes.com",
        "javascript:alert(1)",
        "https://",
        "https:///path",
        "https://exa mple.com/",
        "https://example..com/",
        "https://example.com:99999/",
        "https://example.com:port/",
        "http://[::1/",
        "https://[fe80::1%25eth0]/",
    ],
)
def test_garbage_is_unusable(url: str) -> None:
    with pytest.raises(UnusableURL):
        canonical_url(url)


def test_unusable_url_is_a_value_error_and_a_haitiwatch_error() -> None:
    with pytest.raises(ValueError, match="not an http"):
        canonical_url("ftp://x.com")
    assert issubclass(UnusableURL, HaitiwatchError)


# -- fetch_url ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://www.heise.de/news/x-9691259.html?wt_mc=rss.red.ho.ho.rdf.beitrag.beitrag&seite=all",
            "https://www.heise.de/news/x-9691259.html?seite=all",
        ),
        ("https://www.Example.com/b/?z=1&utm_source=x&a=2#top", "https://www.Example.com/b/?z=1&a=2"),
        ("https://amp.theguardian.com/x?amp=1", "https://amp.theguardian.com/x?amp=1"),
        ("https://x.com/search?q=Port-au-Prince+ha%C3%AFti", "https://x.com/search?q=Port-au-Prince+ha%C3%AFti"),
        ("http://x.com/a?fbclid=1", "http://x.com/a"),
        ("https://x.com/a?UTM_Source=rss&id=7", "https://x.com/a?id=7"),
    ],
)  # fmt: skip
def test_fetch_url_only_drops_fragment_and_trackers(url: str, expected: str) -> None:
    assert fetch_url(url) == expected


@pytest.mark.parametrize("url", ["ftp://x.com/a", "data:text/html,hi", "x.com/a", "https://"])
def test_fetch_url_refuses_non_web_urls(url: str) -> None:
    with pytest.raises(UnusableURL):
        fetch_url(url)


# -- absolute_url ------------------------------------------------------------------------------

BASE = "https://www.haitiantimes.com/category/news/"


@pytest.mark.parametrize(
    ("href", "base", "expected"),
    [
        ("/2024/06/25/kenya/", BASE, "https://www.haitiantimes.com/2024/06/25/kenya/"),
        ("story.html", BASE, "https://www.haitiantimes.com/category/news/story.html"),
        ("../other", BASE, "https://www.haitiantimes.com/category/other"),
        ("  https://nation.africa/kenya \n", BASE, "https://nation.africa/kenya"),
        ("//cdn.example.com/a.jpg", BASE, "https://cdn.example.com/a.jpg"),
        ("//cdn.example.com/a.jpg", None, "https://cdn.example.com/a.jpg"),
        ("//cdn.example.com/a.jpg", "http://x.com/", "http://cdn.example.com/a.jpg"),
        ("HTTP://Example.com/a", None, "http://Example.com/a"),
        ("?page=2", "https://x.com/news?page=1", "https://x.com/news?page=2"),
    ],
)
def test_absolute_url_resolves_links(href: str, base: str | None, expected: str) -> None:
    assert absolute_url(href, base) == expected


@pytest.mark.parametrize(
    ("href", "base"),
    [
        (None, BASE),
        ("", BASE),
        ("   ", BASE),
        ("javascript:void(0)", BASE),
        (" JavaScript:alert(1)", BASE),
        ("java\tscript:alert(1)", BASE),
        ("data:text/html;base64,PGgxPg==", BASE),
        ("mailto:news@haitiantimes.com", BASE),
        ("tel:+50922223333", BASE),
        ("about:blank", BASE),
        ("ftp://files.example.com/a", BASE),
        ("/relative", None),
        ("https:///nohost", None),
        ("http://[::1", BASE),
        ("https://x.com:bad/", None),
    ],
)
def test_absolute_url_rejects_unusable_links(href: str | None, base: str | None) -> None:
    assert absolute_url(href, base) is None


# -- registered_domain, host_of ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "domain"),
    [
        ("https://www.haitiantimes.com/x", "haitiantimes.com"),
        ("https://nation.africa/kenya", "nation.africa"),
        ("https://www.bbc.co.uk/news", "bbc.co.uk"),
        ("https://m.standardmedia.co.ke/x", "standardmedia.co.ke"),
        ("https://edition.cnn.com/world", "cnn.com"),
        ("https://politics.people.com.cn/n1/2024/0424/c1001-40223222.html", "people.com.cn"),
        ("https://faktencheck.afp.com/doc.afp.com.B2LA2G3", "afp.com"),
        ("https://www.tokyo-np.co.jp/article/379018", "tokyo-np.co.jp"),
        ("https://WWW.Lemonde.FR:443/politique", "lemonde.fr"),
        ("https://bücher.de/x", "xn--bcher-kva.de"),
        ("http://127.0.0.1:8080/feed", "127.0.0.1"),
        ("http://localhost:8000/feed", "localhost"),
        ("http://[::1]:8000/feed", "::1"),
        ("http://intranet/feed", "intranet"),
    ],
)
def test_registered_domain(url: str, domain: str) -> None:
    assert registered_domain(url) == domain


def test_registered_domain_never_touches_the_network(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("network used")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    urls._extractor.cache_clear()  # build the extractor again, now without a network
    assert registered_domain("https://www.example.gouv.ht/x") == "example.gouv.ht"
    assert registered_domain("https://www.lenouvelliste.com/article/1") == "lenouvelliste.com"


@pytest.mark.parametrize(
    ("url", "host"),
    [
        ("https://WWW.Example.COM:8443/x", "www.example.com"),
        ("http://example.com./x", "example.com"),
        ("http://[::1]:80/", "::1"),
    ],
)
def test_host_of(url: str, host: str) -> None:
    assert host_of(url) == host


def test_host_of_refuses_non_web_urls() -> None:
    with pytest.raises(UnusableURL):
        host_of("mailto:a@example.com")


@pytest.mark.parametrize(
    "name", ["utm_source", "UTM_MEDIUM", "fbclid", "ns_campaign", "at_medium", "CMP"]
)
def test_tracking_params(name: str) -> None:
    assert is_tracking_param(name)


@pytest.mark.parametrize("name", ["id", "page", "q", "seite", "cid", "p", "story", "articleid"])
def test_content_params_are_kept(name: str) -> None:
    assert not is_tracking_param(name)


# -- properties --------------------------------------------------------------------------------

_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_HOST = st.builds(
    lambda prefix, labels, tld: prefix + ".".join([*labels, tld]),
    st.sampled_from(["", "www.", "m.", "mobile.", "amp.", "WWW.", "news."]),
    st.lists(_LABEL, min_size=1, max_size=3),
    st.sampled_from(["com", "co.ke", "ht", "africa", "fr", "org"]),
)
_SEGMENT = st.one_of(
    st.text(min_size=1, max_size=12),
    st.sampled_from(["amp", "index.html", "story.amp.html", ".", "..", "%7E", "%2f", "%", "a%zz"]),
)
_PATH = st.lists(_SEGMENT, max_size=5).map(lambda segments: "/" + "/".join(segments))
_QUERY_ITEM = st.tuples(
    st.sampled_from(["id", "page", "q", "amp", "outputType", "a", "B", "x y", "é"]),
    st.text(max_size=8),
)
_QUERY = st.lists(_QUERY_ITEM, max_size=4)
_TRACKERS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                "utm_source",
                "utm_campaign",
                "fbclid",
                "gclid",
                "mc_cid",
                "ocid",
                "ns_source",
                "at_medium",
                "xtor",
                "CMP",
            ]
        ),
        st.from_regex(r"[A-Za-z0-9._-]{0,10}", fullmatch=True),
    ),
    min_size=1,
    max_size=3,
)


def _encode_pairs(pairs: list[tuple[str, str]]) -> str:
    from urllib.parse import quote

    return "&".join(f"{quote(k)}={quote(v)}" for k, v in pairs)


@st.composite
def web_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "HTTPS"]))
    host = draw(_HOST)
    port = draw(st.sampled_from(["", ":80", ":443", ":8080"]))
    path = draw(_PATH)
    query = _encode_pairs(draw(_QUERY))
    # Browsers drop spaces and controls at the ends of a URL, so a URL never ends with them.
    path = path.rstrip("".join(chr(code) for code in range(0x21)))
    return f"{scheme}://{host}{port}{path}" + (f"?{query}" if query else "")


@given(web_urls())
@example("https://x.com/amp/amp/index.html/amp")
@example("https://x.com/%2e%2E/a/.amp")
@example("https://www.m.amp.example.com/")
def test_canonical_url_is_idempotent(url: str) -> None:
    try:
        key = canonical_url(url)
    except UnusableURL:
        return
    assert canonical_url(key) == key
    assert key.startswith("https://")


@given(web_urls(), _TRACKERS)
def test_tracking_params_never_change_the_key(url: str, trackers: list[tuple[str, str]]) -> None:
    try:
        key = canonical_url(url)
    except UnusableURL:
        return
    joiner = "&" if "?" in url else "?"
    assert canonical_url(url + joiner + _encode_pairs(trackers)) == key


@given(web_urls(), st.text(max_size=20))
def test_a_fragment_never_changes_the_key(url: str, fragment: str) -> None:
    try:
        key = canonical_url(url)
    except UnusableURL:
        return
    assert canonical_url(f"{url}#{fragment}") == key


@given(web_urls())
def test_fetch_url_keeps_host_and_path(url: str) -> None:
    try:
        fetched = fetch_url(url + "#frag")
    except UnusableURL:
        return
    assert "#" not in fetched
    assert host_of(fetched) == host_of(url)


@given(st.text(max_size=60))
@example("http://[")
@example("https://\x00/")
@example("https://xn--/")
@example("https://a.\udcff.com/")
def test_arbitrary_text_raises_only_unusable_url(text: str) -> None:
    for function in (canonical_url, fetch_url, host_of, registered_domain):
        try:
            result = function(text)
        except UnusableURL:
            continue
        assert isinstance(result, str)
    resolved = absolute_url(text, BASE)
    assert resolved is None or resolved.startswith(("http://", "https://"))


@given(st.from_regex(r"https?://[^\s]{1,40}", fullmatch=True))
def test_url_like_text_gives_https_keys_or_unusable(text: str) -> None:
    try:
        key = canonical_url(text)
    except UnusableURL:
        return
    assert key.startswith("https://")
    assert canonical_url(key) == key
