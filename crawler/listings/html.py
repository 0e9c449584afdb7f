"""Section and tag pages: article links found by CSS selectors, XPath, or a URL pattern.

A selector may match the links themselves or blocks that contain them (the first link inside
each block is the article's). A selector starting with "/" or "(" is XPath, anything else is
CSS. ``link_pattern`` (a regular expression searched in the absolute URL) selects links on
its own, or filters what the selectors found. Pagination follows rel="next" links (or
``next_selector``) up to ``pagination_depth`` further pages.

A first page on which nothing matches is an error on the source: the outlet's layout has
probably changed and the user must know, rather than see a source that is "ok" and silent.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lxml import etree
from lxml.html import HtmlElement, document_fromstring

from haitiwatch.crawler.extract import decode_html
from haitiwatch.crawler.jobs import ListingOptions
from haitiwatch.crawler.listings import Listing
from haitiwatch.crawler.urls import absolute_url, fetch_url
from haitiwatch.db.errors import FeedError
from haitiwatch.db.records import FeedEntry, ParsedFeed
from haitiwatch.db.textnorm import clean_text

DEFAULT_NEXT = "link[rel~=next], a[rel~=next]"
MAX_LINKS_PER_PAGE = 2_000
_MAX_TITLE_CHARS = 300


def is_xpath(selector: str) -> bool:
    return selector.lstrip().startswith(("/", "("))


@lru_cache(maxsize=256)
def compile_selector(selector: str) -> str:
    """The XPath expression for a CSS selector or an XPath. Raises ValueError with the reason.

    The expression string is cached, not a compiled ``etree.XPath``: lxml's compiled XPath
    objects must not be shared between threads (the crawl parses in a pool).
    """
    expression = selector
    if not is_xpath(selector):
        from cssselect import GenericTranslator, SelectorError

        try:
            expression = GenericTranslator().css_to_xpath(selector)
        except SelectorError as e:
            raise ValueError(f"not a valid CSS selector: {e}") from e
    try:
        etree.XPath(expression)
    except etree.XPathSyntaxError as e:
        raise ValueError(f"not a valid XPath expression: {e}") from e
    return expression


def parse_section(
    body: bytes,
    url: str,
    encoding: str | None = None,
    *,
    options: ListingOptions | None = None,
    level: int = 0,
) -> Listing:
    """Article links on one section page, and the next page while within the depth."""
    options = options or ListingOptions()
    tree = _parse_html(body, encoding)
    base = _base_url(tree, url)
    entries, problem = _article_links(tree, base, options)
    warnings: list[str] = []
    if not entries:
        if level == 0:
            raise FeedError(f"no article links on {url}: {problem}")
        warnings.append(f"page {level + 1} ({url}): {problem}")
    follow: tuple[str, ...] = ()
    if level < options.pagination_depth:
        next_url = _next_page(tree, base, options.next_selector)
        if next_url and next_url != url:
            follow = (next_url,)
    return Listing(ParsedFeed(None, tuple(entries), None, tuple(warnings)), follow)


def _parse_html(body: bytes, encoding: str | None) -> HtmlElement:
    text = decode_html(body, encoding)
    if not text.strip():
        raise FeedError("not a section page: empty response")
    try:
        return document_fromstring(text)
    except (etree.ParserError, ValueError) as e:
        raise FeedError(f"not a section page: {e}") from e


def _base_url(tree: HtmlElement, url: str) -> str:
    hrefs = tree.xpath("//base/@href")
    return (absolute_url(str(hrefs[0]), url) if hrefs else None) or url


def _article_links(
    tree: HtmlElement, base: str, options: ListingOptions
) -> tuple[list[FeedEntry], str]:
    """The entries found, and (when none) why, in words naming the selector or pattern."""
    pattern = re.compile(options.link_pattern) if options.link_pattern else None
    anchors: list[HtmlElement] = []
    if options.selectors:
        for selector in options.selectors:
            anchors += [_anchor_of(el) for el in _select(tree, selector)]
        anchors = [a for a in anchors if a is not None]
        if not anchors:
            shown = " or ".join(repr(s) for s in options.selectors)
            return [], f"selector {shown} matched nothing"
    else:
        anchors = list(tree.iter("a"))
    entries = _entries(anchors, base, pattern)
    if not entries:
        if pattern is None:
            return [], "the selected elements hold no usable links"
        return [], f"no link matched link_pattern {options.link_pattern!r}"
    return entries, ""


def _select(tree: HtmlElement, selector: str) -> list[HtmlElement]:
    found = tree.xpath(compile_selector(selector))
    return [el for el in found if isinstance(el, HtmlElement)] if isinstance(found, list) else []


def _anchor_of(element: HtmlElement) -> HtmlElement | None:
    if element.tag == "a" and element.get("href"):
        return element
    inner = element.xpath(".//a[@href]")
    return inner[0] if inner else None


def _entries(
    anchors: list[HtmlElement], base: str, pattern: re.Pattern[str] | None
) -> list[FeedEntry]:
    by_url: dict[str, FeedEntry] = {}
    for anchor in anchors:
        link = absolute_url(anchor.get("href"), base)
        if link is None or (pattern is not None and not pattern.search(link)):
            continue
        try:
            key = fetch_url(link)
        except ValueError:
            continue
        title = clean_text(anchor.text_content())[:_MAX_TITLE_CHARS].strip() or None
        if key not in by_url or (title and not by_url[key].title):
            by_url[key] = FeedEntry(url=link, title=title)
        if len(by_url) >= MAX_LINKS_PER_PAGE:
            break
    page = fetch_url(base)
    return [entry for url, entry in by_url.items() if url != page]


def _next_page(tree: HtmlElement, base: str, next_selector: str | None) -> str | None:
    for element in _select(tree, next_selector or DEFAULT_NEXT):
        href = element.get("href")
        if href is None and (anchor := _anchor_of(element)) is not None:
            href = anchor.get("href")
        if (link := absolute_url(href, base)) is not None:
            return link
    return None
