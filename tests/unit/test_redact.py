"""db.redact: credentials and registered secrets never survive redaction."""

from __future__ import annotations

import string

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.urls import split_credentials
from haitiwatch.db.redact import REDACTED, redact, redact_url, remember_credentials, remember_secret


def test_userinfo_and_key_like_query_values_are_masked() -> None:
    url = "https://bob:hunter22@feeds.example/rss?q=haiti&apiKey=abc123&client_secret=s3&page=2"
    assert redact_url(url) == (
        f"https://{REDACTED}@feeds.example/rss?q=haiti&apiKey={REDACTED}"
        f"&client_secret={REDACTED}&page=2"
    )


def test_urls_inside_messages_are_masked() -> None:
    message = "HTTP 404 from http://a.example/x?token=t0k3n and https://u:p@b.example/"
    assert redact(message) == (
        f"HTTP 404 from http://a.example/x?token={REDACTED} and https://{REDACTED}@b.example/"
    )


def test_a_remembered_channel_url_is_masked_whole_and_in_parts() -> None:
    remember_secret("slack://T0AAAAAAA/B0BBBBBBB/XyZsecretWebhookToken123")
    assert redact("posting to slack://T0AAAAAAA/B0BBBBBBB/XyZsecretWebhookToken123") == (
        f"posting to {REDACTED}"
    )
    assert redact("token XyZsecretWebhookToken123 rejected") == f"token {REDACTED} rejected"


def test_remembered_credentials_leave_the_rest_readable() -> None:
    remember_credentials("postgresql://hw:pgPassw0rd@db.internal/haitiwatch")
    assert redact("connect failed: password pgPassw0rd refused for hw") == (
        f"connect failed: password {REDACTED} refused for hw"
    )


SECRETS = st.text(string.ascii_letters + string.digits, min_size=8, max_size=30)


@given(secret=SECRETS, before=st.text(max_size=40), after=st.text(max_size=40))
def test_a_remembered_secret_never_survives(secret: str, before: str, after: str) -> None:
    remember_secret(secret)
    assert secret not in redact(before + secret + after)


@given(text=st.text(max_size=200))
def test_redaction_is_idempotent(text: str) -> None:
    once = redact(text)
    assert redact(once) == once


@given(user=SECRETS, password=SECRETS)
def test_credentials_become_a_header_and_leave_the_url(user: str, password: str) -> None:
    url, header = split_credentials(f"https://{user}:{password}@feeds.example:8443/rss")
    assert url == "https://feeds.example:8443/rss"
    assert header is not None and header.startswith("Basic ")
    assert split_credentials(url) == (url, None)


def test_basic_credentials_go_only_to_the_sources_own_host_and_port() -> None:
    from types import SimpleNamespace

    from scrapy.http import Request

    from haitiwatch.crawler.jobs import SourceJob
    from haitiwatch.crawler.middlewares import SourceCredentials

    url, header = split_credentials("https://reader:pw123456@feeds.example/rss")
    poll = SimpleNamespace(job=SourceJob("members", "feed", url, authorization=header))
    middleware = SourceCredentials()
    sent = {}
    for target in (
        "https://feeds.example/rss",
        "https://feeds.example/2026/story",
        "https://feeds.example:8443/rss",  # another port
        "http://feeds.example/rss",  # another scheme, another port
        "https://cdn.example/story",  # another host
    ):
        request = Request(target, meta={"poll": poll}, headers={"Authorization": "stale"})
        middleware.process_request(request)
        sent[target] = request.headers.get("Authorization")
    assert sent == {
        "https://feeds.example/rss": header.encode() if header else None,
        "https://feeds.example/2026/story": header.encode() if header else None,
        "https://feeds.example:8443/rss": None,
        "http://feeds.example/rss": None,
        "https://cdn.example/story": None,
    }
