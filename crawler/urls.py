"""URLs: resolve links, clean the URL to fetch, compute the dedupe key, name the outlet.

Three different URLs exist for one article, and they must not be confused:

- ``absolute_url``: a link found in a feed or page, resolved against its base (or None).
- ``fetch_url``: what is requested; only the fragment and tracking parameters are removed,
  because anything else might change the page the server returns.
- ``canonical_url``: the dedupe KEY, never fetched. It folds away everything that does not
  name a different article on the same outlet (scheme, ``www.``/``m.``/``amp.`` hosts, AMP
  paths, tracking parameters, parameter order, trailing slashes, index files).
"""

from __future__ import annotations

import ipaddress
import re
from base64 import b64encode
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Final
from urllib.parse import SplitResult, quote, unquote, urljoin, urlsplit, urlunsplit

import idna

from haitiwatch.db.errors import HaitiwatchError

if TYPE_CHECKING:
    import tldextract

__all__ = [
    "UnusableURL",
    "absolute_url",
    "canonical_url",
    "fetch_url",
    "host_of",
    "is_tracking_param",
    "registered_domain",
]


class UnusableURL(HaitiwatchError, ValueError):
    """The text is not an http(s) URL with a host that haitiwatch can fetch or key."""


_WEB_SCHEMES: Final = frozenset({"http", "https"})
_DEFAULT_PORTS: Final = frozenset({80, 443})

# Tracking parameters, compared lowercased. _TRACKER_PATTERN below is the broad net; these are
# the names it misses, several seen in real article links of the fundus corpus (cmp, maca, wt_mc).
_TRACKING_NAMES: Final = frozenset(
    {
        "fbclid", "gclid", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid", "ttclid",
        "mc_cid", "mc_eid", "igshid", "igsh", "_ga", "_gl", "ocid", "cmpid", "cmp", "intcmp",
        "icid", "ito", "ico", "ref", "ref_src", "ref_url", "referrer", "spm", "xtor", "smid",
        "smtyp", "s_cid", "soc_src", "soc_trk", "maca", "wt_mc", "wt_zmc", "dicbo", "mkt_tok",
        "li_fat_id", "rb_clickid", "guccounter", "guce_referrer", "guce_referrer_sig",
        "sr_share", "taid", "_hsenc", "_hsmi", "hsctatracking", "__twitter_impression",
        "vero_id", "vero_conv", "oly_anon_id", "oly_enc_id", "fb_action_ids", "fb_source",
        "action_object_map", "action_type_map", "action_ref_map",
    }
)  # fmt: skip
_TRACKING_PREFIXES: Final = (
    "utm_", "ns_", "at_", "pk_", "mtm_", "itm_", "hsa_", "ga_", "mc_", "wt_", "fb_", "_hs",
)  # fmt: skip
# The tracker pattern also catches names that often identify content; keep those.
_CONTENT_PARAMS: Final = frozenset(
    {"cid", "uid", "eid", "keyword", "keywords", "refresh", "reference", "search", "source_id"}
)

# Tracker names by pattern, as courlan 1.4's clean.TRACKERS_RE (Apache-2.0) has them. Owned
# here, not read from courlan's module: which URLs are the same article must not change when
# a library changes an internal.
_TRACKER_PATTERN: Final = re.compile(
    r"^(?:dc|fbc|gc|twc|yc|ysc)lid|"
    r"^(?:click|gbra|msclk|igsh|partner|wbra)id|"
    r"^(?:ads?|mc|ga|gs|itm|mc|mkt|ml|mtm|oly|pk|utm|vero)_|"
    r"(?:\b|_)(?:aff|affi|affiliate|campaign|cl?id|eid|ga|gl|"
    r"kwd|keyword|medium|ref|referr?er|session|source|uid|xtor)"
)
_AMP_PARAMS: Final = frozenset({"amp", "_amp", "amp_js_v", "usqp"})
_HOST_ALIAS_LABELS: Final = frozenset({"www", "m", "mobile", "amp"})
_INDEX_FILES: Final = frozenset({"index.html", "index.htm", "index.php"})
_HOST_LABEL_RE: Final = re.compile(r"[a-z0-9_-]+")
_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
# Characters left as they are in a path or query (RFC 3986 pchar/query minus "%", handled apart).
_PATH_SAFE: Final = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_COMPONENT_SAFE: Final = _UNRESERVED | frozenset("!$'()*,;:@/?")
# What browsers strip from both ends of a URL (WHATWG): C0 controls and space, nothing else.
_URL_EDGE_JUNK: Final = "".join(chr(code) for code in range(0x21))
_PERCENT_RE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_EDGE_JUNK_RE: Final = re.compile(r"[\x00-\x20]")
_AMP_EXTENSION_RE: Final = re.compile(r"\.amp(?=\.[A-Za-z0-9]+$)|\.amp$")


def is_tracking_param(name: str) -> bool:
    """True for query parameters that only track the click, never select content."""
    lowered = unquote(name).strip().lower()
    if lowered in _TRACKING_NAMES or lowered.startswith(_TRACKING_PREFIXES):
        return True
    if lowered in _CONTENT_PARAMS:
        return False
    return _TRACKER_PATTERN.search(lowered) is not None


def absolute_url(href: str | None, base: str | None) -> str | None:
    """Resolve ``href`` against ``base``; None unless the result is an http(s) URL with a host."""
    if href is None:
        return None
    href = href.strip(_URL_EDGE_JUNK)
    if not href:
        return None
    try:
        if href.startswith("//") and not base:
            base = "https:"
        resolved = urljoin(base.strip(_URL_EDGE_JUNK), href) if base else href
        parts = urlsplit(resolved)
        _ = parts.port  # raises ValueError on a non-numeric port
    except ValueError:
        return None
    if parts.scheme not in _WEB_SCHEMES or not parts.hostname:
        return None
    return urlunsplit(parts)


def fetch_url(url: str) -> str:
    """The URL to request: ``url`` without its fragment and tracking parameters. Spaces and
    control characters in the path are escaped: left bare before a cut fragment, they would
    end the URL, and be stripped from it."""
    parts = _split_web_url(url)
    kept = [pair for pair in _query_pairs(parts.query) if not is_tracking_param(_name_of(pair))]
    path = _EDGE_JUNK_RE.sub(lambda m: quote(m.group()), parts.path)
    return urlunsplit((parts.scheme, parts.netloc, path, "&".join(kept), ""))


@lru_cache(maxsize=4096)  # an entry's URL is canonicalised for its lookup keys, then its record
def split_credentials(url: str) -> tuple[str, str | None]:
    """``url`` without its ``user:password@`` part, and that part as a basic-auth header value
    (None when there is none). Scrapy would take the userinfo for part of the host name."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    pair = f"{unquote(user)}:{unquote(password)}".encode()
    return urlunsplit(parts._replace(netloc=hostport)), "Basic " + b64encode(pair).decode("ascii")


def canonical_url(url: str) -> str:
    """The dedupe key of ``url``: https, bare host, clean path, sorted non-tracking query."""
    parts = _split_web_url(url)
    host = _canonical_host(parts)
    path = _canonical_path(parts.path)
    query = _canonical_query(parts.query)
    return urlunsplit(("https", host, path, query, ""))


def host_of(url: str) -> str:
    """The lowercase host name of ``url``, without port or trailing dot."""
    parts = _split_web_url(url)
    assert parts.hostname is not None  # checked by _split_web_url
    return parts.hostname.rstrip(".")


def registered_domain(url: str) -> str:
    """The outlet of ``url``: the domain under its public suffix ("bbc.co.uk").

    IP addresses, "localhost" and hosts without a known suffix give the host itself.
    """
    host = host_of(url)
    if host == "localhost" or _is_ip(host):
        return host
    try:
        host = _ascii_host(host)  # one spelling per outlet: punycode, as in canonical_url
    except UnusableURL:
        return host
    extracted = _extractor()(host)
    top = extracted.top_domain_under_public_suffix
    return top if top else host


@cache
def _extractor() -> tldextract.TLDExtract:
    # Imported here: it brings in requests, and a process that stores no article
    # (a pass of 304s) never needs it.
    import tldextract

    # The bundled public-suffix snapshot only: no cache directory, never the network.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None, fallback_to_snapshot=True)


def _split_web_url(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip(_URL_EDGE_JUNK))
        _ = parts.port  # raises ValueError on a non-numeric or out-of-range port
    except (ValueError, AttributeError) as e:
        raise UnusableURL(f"not a URL: {url!r}") from e
    if parts.scheme not in _WEB_SCHEMES:
        raise UnusableURL(f"not an http(s) URL: {url!r}")
    if not parts.hostname or not parts.hostname.strip("."):
        raise UnusableURL(f"URL without a host: {url!r}")
    return parts


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# -- canonical host ---------------------------------------------------------------------------


def _canonical_host(parts: SplitResult) -> str:
    assert parts.hostname is not None  # checked by _split_web_url
    host = unquote(parts.hostname).rstrip(".")
    if ":" in host:
        host = f"[{_ipv6_literal(host)}]"
    elif not _is_ip(host):
        host = _strip_alias_labels(_ascii_host(host))
    port = parts.port
    return host if port is None or port in _DEFAULT_PORTS else f"{host}:{port}"


def _ipv6_literal(host: str) -> str:
    try:
        address = ipaddress.IPv6Address(host)
    except ValueError as e:
        raise UnusableURL(f"bad IPv6 host: {host!r}") from e
    if address.scope_id is not None:
        raise UnusableURL(f"scoped IPv6 host: {host!r}")  # link-local: never a news site
    return address.compressed


def _ascii_host(host: str) -> str:
    """Lowercase punycode host; UnusableURL for anything that is not a DNS name."""
    labels = host.lower().split(".")
    if not all(labels):
        raise UnusableURL(f"empty label in host: {host!r}")
    ascii_labels = [_ascii_label(label) for label in labels]
    for label in ascii_labels:
        if not _HOST_LABEL_RE.fullmatch(label):
            raise UnusableURL(f"bad host: {host!r}")
    return ".".join(ascii_labels)


def _ascii_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return idna.encode(label, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        pass
    try:
        return label.encode("idna").decode("ascii")  # IDNA 2003: emoji and other legacy names
    except UnicodeError as e:
        raise UnusableURL(f"host label not IDNA-encodable: {label!r}") from e


def _strip_alias_labels(host: str) -> str:
    # Repeated so that the key is a fixed point ("www.m.example.com" -> "example.com").
    head, _, rest = host.partition(".")
    while head in _HOST_ALIAS_LABELS and "." in rest:
        head, _, rest = rest.partition(".")
        host = f"{head}.{rest}"
    return host


# -- canonical path ---------------------------------------------------------------------------


def _canonical_path(path: str) -> str:
    path = _normalise_percent(path, _PATH_SAFE)
    segments = _remove_dot_segments([s for s in path.split("/") if s])
    previous: list[str] | None = None
    while segments != previous:  # until nothing changes, so the key is idempotent
        previous = segments
        segments = _drop_amp_and_index(segments)
    return "/" + "/".join(segments)


def _remove_dot_segments(segments: Iterable[str]) -> list[str]:
    out: list[str] = []
    for segment in segments:
        if segment == "..":
            if out:
                out.pop()
        elif segment != ".":
            out.append(segment)
    return out


def _drop_amp_and_index(segments: list[str]) -> list[str]:
    if segments and segments[0].lower() == "amp":
        segments = segments[1:]
    if segments and segments[-1].lower() in {"amp", *_INDEX_FILES}:
        segments = segments[:-1]
    if segments:
        last = _AMP_EXTENSION_RE.sub("", segments[-1])
        segments = [*segments[:-1], last] if last else segments[:-1]
    return segments


def _normalise_percent(text: str, safe: frozenset[str]) -> str:
    """Decode escaped unreserved characters, uppercase other escapes, escape the rest."""
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        match = _PERCENT_RE.match(text, i) if char == "%" else None
        if match:
            decoded = chr(int(match.group(1), 16))
            out.append(decoded if decoded in _UNRESERVED else "%" + match.group(1).upper())
            i += 3
            continue
        out.append(char if char in safe else _escape(char))
        i += 1
    return "".join(out)


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8", "surrogatepass"))


# -- query ------------------------------------------------------------------------------------


def _query_pairs(query: str) -> list[str]:
    return [pair for pair in query.split("&") if pair]


def _name_of(pair: str) -> str:
    return pair.partition("=")[0]


def _canonical_query(query: str) -> str:
    pairs: list[str] = []
    for raw in _query_pairs(query):
        name, _, value = raw.replace("+", "%20").partition("=")
        name = _normalise_percent(name, _QUERY_COMPONENT_SAFE)
        value = _normalise_percent(value, _QUERY_COMPONENT_SAFE)
        if not name or is_tracking_param(name) or _is_amp_param(name, value):
            continue
        pairs.append(f"{name}={value}" if value else name)
    return "&".join(sorted(pairs))


def _is_amp_param(name: str, value: str) -> bool:
    lowered = name.lower()
    return lowered in _AMP_PARAMS or (lowered == "outputtype" and value.lower() == "amp")
