"""Fuzz: every web page's and API endpoint's parameters, through the real aiohttp app served
on 127.0.0.1 over a real archive (SQLite; PostgreSQL too with HAITIWATCH_TEST_PG_URL).

Documented answers: 200, a redirect, 400 (a parameter named and what was expected) and 404
(no such row or rule); the marking endpoints also answer 201 (recorded), 403 (a forged,
stale or cross-site mark) and 415 (not JSON). Never 500: an exception escaping a handler.
"""

from __future__ import annotations

import http.client
import json
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from tests.fuzz import fuzzed

GET_ANSWERS = {200, 301, 302, 303, 307, 308, 400, 404}
MARK_ANSWERS = GET_ANSWERS | {201, 403, 415}


# Values that reach the parsers: numbers in every spelling Python's str methods accept.
_VALUES = st.one_of(
    st.sampled_from([
        "", "0", "1", "2", "20", "100", "101", "500", "501", "3650", "3651", "-1", "+1", " 1",
        "1.5", "1e3", "²", "¹²", "١", "٣", "①", "𝟙", "9" * 19, "9" * 5000, "0" * 30 + "1",
        "2024-05-31", "2024-02-30", "0001-01-01", "9999-12-31", "31/05/2024", "date",
        "9999-12-31T23:59:59-01:00", "0001-01-01T00:00:00+01:00", "2024-05-31T25:00",
        "relevance", "source", "language", "rule", "bogus", "mss", "whitehouse", "en", "kenya*",
        '"unclosed', "NEAR/3", "(", "NOT kenya", "relevant", "irrelevant", "\x00", "\ufeff",
    ]),
    st.text(max_size=12),
)  # fmt: skip
_KEYS = st.sampled_from([
    "q", "page", "story", "since", "until", "source", "lang", "rule", "sort", "limit", "days",
    "by", "token", "a", "r", "v", "e", "n", "sig", "csrf", "article_id", "verdict", "next",
])  # fmt: skip
_PARAMS = st.lists(st.tuples(st.one_of(_KEYS, st.text(max_size=4)), _VALUES), max_size=6)
_IDS = st.one_of(st.integers(0, 10**18).map(str), st.sampled_from(["٣", "0" * 18, "١٢"]))
_NAMES = st.one_of(
    st.sampled_from(["mss", "nope", "a", "a" * 64]),
    st.from_regex(r"[a-z0-9][a-z0-9._-]{0,10}", fullmatch=True),
)
_PATHS = st.one_of(
    st.sampled_from([
        "/", "/stories", "/coverage", "/sources", "/help", "/rules", "/api/search",
        "/api/stories", "/api/coverage", "/api/sources", "/api/openapi.json", "/mark",
    ]),
    _IDS.map(lambda i: f"/stories/{i}"),
    _IDS.map(lambda i: f"/api/stories/{i}"),
    _NAMES.map(lambda n: f"/rules/{n}.atom"),
    _NAMES.map(lambda n: f"/rules/{n}/audit"),
    _NAMES.map(lambda n: f"/api/rules/{n}/audit"),
)  # fmt: skip


def _request(
    port: int,
    method: str,
    target: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _query(pairs: list[tuple[str, str]]) -> str:
    return urlencode(pairs, quote_via=quote, errors="surrogatepass")


@fuzzed
@example(path="/", pairs=[("page", "²")], raw="")
@example(path="/api/search", pairs=[("limit", "9" * 5000)], raw="")
@given(path=_PATHS, pairs=_PARAMS, raw=st.sampled_from(["", "&%FF=%C0%AF", "&q=%E2%82", "&&=&"]))
def test_every_get_answers_a_documented_status(
    web_port: int, path: str, pairs: list[tuple[str, str]], raw: str
) -> None:
    status, body = _request(web_port, "GET", f"{quote(path)}?{_query(pairs)}{raw}")
    allowed = MARK_ANSWERS if path == "/mark" else GET_ANSWERS
    assert status in allowed, (status, body[:300])


def _json_containers(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(inner, max_size=3), st.dictionaries(_VALUES, inner, max_size=3))


_JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), _VALUES),
    _json_containers,
    max_leaves=6,
)
_JSON_BODIES = st.one_of(
    st.fixed_dictionaries(
        {}, optional={"article_id": _JSON_VALUES, "rule": _JSON_VALUES, "verdict": _JSON_VALUES}
    ),
    _JSON_VALUES,
).map(lambda v: json.dumps(v).encode())


def _multipart(pairs: list[tuple[str, str]], charset: str) -> bytes:
    parts = b"".join(
        b"--x\r\nContent-Disposition: form-data; name="
        + json.dumps(name).encode()
        + f"\r\nContent-Type: text/plain; charset={charset}\r\n\r\n".encode()
        + value.encode("utf-8", "surrogatepass")
        + b"\r\n"
        for name, value in pairs
    )
    return parts + b"--x--\r\n"


_BODIES = st.one_of(
    _JSON_BODIES,
    _PARAMS.map(lambda p: _query(p).encode()),
    st.binary(max_size=60),
    st.builds(_multipart, _PARAMS, st.sampled_from(["utf-8", "latin-1", "bogus"])),
)  # fmt: skip
_CONTENT_TYPES = st.sampled_from([
    "application/json", "application/x-www-form-urlencoded", "multipart/form-data",
    "multipart/form-data; boundary=x", "text/plain", "application/json; charset=bogus",
    "application/x-www-form-urlencoded; charset=bogus", "multipart/form-data; boundary=\"\"",
])  # fmt: skip
_ORIGINS = st.sampled_from(
    [{}, {"Sec-Fetch-Site": "same-origin"}, {"Origin": "null"}, {"Origin": "http://evil.example"}]
)


@fuzzed
@example(path="/marks", pairs=[], body=b"{}", content_type="multipart/form-data", origin={})
@example(
    path="/api/marks",
    pairs=[],
    body=b"{}",
    content_type="application/json; charset=bogus",
    origin={},
)
@given(
    path=st.sampled_from(["/marks", "/api/marks", "/mark"]),
    pairs=_PARAMS,
    body=_BODIES,
    content_type=_CONTENT_TYPES,
    origin=_ORIGINS,
)
def test_every_post_answers_a_documented_status(
    web_port: int,
    path: str,
    pairs: list[tuple[str, str]],
    body: bytes,
    content_type: str,
    origin: dict[str, str],
) -> None:
    headers = {"Content-Type": content_type, **origin}
    status, answer = _request(web_port, "POST", f"{path}?{_query(pairs)}", body, headers)
    assert status in MARK_ANSWERS, (status, answer[:300])


# What the fuzzing found: numbers that str.isdigit() accepts and int() refuses, moments that
# overflow in UTC, and forms that aiohttp cannot read, each a 500 before.
@pytest.mark.parametrize(
    ("target", "status"),
    [
        ("/?page=%C2%B2", 400),
        ("/?story=%E2%91%A0", 400),
        ("/?page=" + "9" * 5000, 400),
        ("/api/search?limit=%C2%B2", 400),
        ("/api/stories?days=%C2%B2", 400),
        ("/api/coverage?page=%C2%B2", 400),
        ("/coverage?story=%C2%B2", 400),
        ("/stories?days=%C2%B2", 200),
        ("/rules/mss/audit?days=%C2%B2", 400),
        ("/api/rules/mss/audit?limit=%C2%B2", 400),
        ("/mark?a=%C2%B2&r=mss&v=relevant&e=1&n=x&sig=y", 403),
        ("/mark?a=1&r=mss&v=relevant&e=%C2%B2&n=x&sig=y", 403),
        ("/?q=kenya&since=9999-12-31T23:59:59-01:00", 400),
        ("/api/coverage?until=0001-01-01T00:00:00%2B01:00", 400),
    ],
)
def test_what_the_fuzzing_found_is_refused_not_a_crash(
    web_port: int, target: str, status: int
) -> None:
    assert _request(web_port, "GET", target)[0] == status


@pytest.mark.parametrize("path", ["/marks", "/mark"])
@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data", b"{}"),
        ("multipart/form-data; boundary=x", b"{}"),
        ("multipart/form-data; boundary=x", _multipart([("csrf", "\xe9")], "bogus")),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n\xff\r\n--x--\r\n',
        ),
        ("application/x-www-form-urlencoded; charset=bogus", b"csrf=a"),
    ],
)
def test_a_form_that_cannot_be_read_is_a_400(
    web_port: int, path: str, content_type: str, body: bytes
) -> None:
    status, _ = _request(web_port, "POST", path, body, {"Content-Type": content_type})
    assert status == 400


@pytest.mark.parametrize(
    ("content_type", "body"),
    [("application/json; charset=bogus", b"{}"), ("application/json", b"\xff")],
)
def test_a_json_body_that_cannot_be_read_is_a_400(
    web_port: int, content_type: str, body: bytes
) -> None:
    status, _ = _request(web_port, "POST", "/api/marks", body, {"Content-Type": content_type})
    assert status == 400
