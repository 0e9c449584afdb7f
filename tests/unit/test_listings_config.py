"""Config of the listing kinds: URLs built from queries, options checked per kind, clear errors."""

from __future__ import annotations

import pytest

from haitiwatch.db.errors import ConfigError
from haitiwatch.scheduler.config import load_config, parse_config
from haitiwatch.scheduler.crawling import listing_options
from haitiwatch.scheduler.source_config import DEFAULT_LASTMOD_WINDOW


def one_source(body: str) -> str:
    return f'[[sources]]\nname = "src"\n{body}\n'


def test_gnews_and_gdelt_urls_are_built_from_the_query() -> None:
    config = parse_config(
        one_source('kind = "gnews"\nquery = "Haïti Kenya"\nlanguage = "fr"\ncountry = "FR"')
        + '[[sources]]\nname = "g2"\nkind = "gdelt"\nquery = "Haiti Kenya"\nlanguage = "es-419"\n',
        "hw.toml",
    )
    gnews, gdelt = config.sources
    assert (
        gnews.url == "https://news.google.com/rss/search?q=Ha%C3%AFti+Kenya&hl=fr&gl=FR&ceid=FR:fr"
    )
    assert "sourcelang:spanish" in gdelt.url and "mode=artlist&format=json" in gdelt.url


def test_endpoint_override_for_mirrors_and_tests() -> None:
    config = parse_config(
        one_source('kind = "gdelt"\nquery = "x"\nendpoint = "http://127.0.0.1:9/api"'), "hw.toml"
    )
    assert config.sources[0].url.startswith("http://127.0.0.1:9/api?query=x")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('kind = "gnews"', "source 'src': kind = \"gnews\" needs query"),
        ('url = "http://a.ht/"\nselectors = ["a"]', 'selectors is only read by kind = "html"'),
        ('kind = "html"\nurl = "http://a.ht/"', "needs selectors (CSS or XPath) or link_pattern"),
        ('kind = "html"\nurl = "http://a.ht/"\nselectors = ["a[["]', "not a valid CSS selector"),
        ('kind = "html"\nurl = "http://a.ht/"\nselectors = ["//a[@"]', "not a valid XPath"),
        (
            'kind = "html"\nurl = "http://a.ht/"\nlink_pattern = "("',
            "not a valid regular expression",
        ),
        ('kind = "sitemap"\nurl = "http://a.ht/"\nlastmod_window = "soon"', "expected a duration"),
        ('kind = "gdelt"\nquery = "x"\ntimespan = "3 days"', "timespan: expected GDELT's form"),
        ('kind = "rss"\nurl = "http://a.ht/"', "sources[0].kind"),
    ],
)
def test_mistakes_name_the_source_and_the_problem(body: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(one_source(body), "hw.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("hw.toml: sources[0]")


def test_listing_options_carry_the_per_kind_settings() -> None:
    (sitemap, section) = parse_config(
        one_source('kind = "sitemap"\nurl = "http://a.ht/s.xml"')
        + '[[sources]]\nname = "s2"\nkind = "html"\nurl = "http://a.ht/"\n'
        'selectors = ["h2 a"]\npagination_depth = 2\nmax_pages = 10\n',
        "hw.toml",
    ).sources
    assert listing_options(sitemap).lastmod_window_s == DEFAULT_LASTMOD_WINDOW.total_seconds()
    options = listing_options(section)
    assert (options.selectors, options.pagination_depth, options.max_pages) == (("h2 a",), 2, 10)
    assert options.lastmod_window_s is None


def test_the_default_config_has_every_kind() -> None:
    kinds = {s.kind for s in load_config(None).config.sources}
    assert kinds == {"feed", "sitemap", "html", "gnews", "gdelt"}
