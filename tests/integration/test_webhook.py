"""The native webhook channel against a real receiver on loopback that verifies the
signature with the snippet docs/alerts.md shows: signed payload, tampered body refused,
retries through the outbox, private addresses refused unless allowed, the secret never
logged."""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from haitiwatch.crawler.netguard import is_forbidden_ip
from haitiwatch.db.alerts import FAILED, PENDING, SENT, Outbox
from haitiwatch.db.errors import ConfigError
from haitiwatch.db.records import ArticleRecord
from haitiwatch.db.store import SourceSpec, Store
from haitiwatch.scheduler.config import LoadedConfig, parse_config
from haitiwatch.scheduler.digest import run_due_digests
from haitiwatch.scheduler.notify import Notifier, drain_outbox, rule_match_hook, send_test
from tests.support import REPO

NOW = datetime(2026, 11, 16, 15, 0, tzinfo=UTC)
SECRET = "whsec-0f9c1d2e3b4a59687766554433221100"
TEXT = (
    "Hundreds of Kenyan police officers landed in Port-au-Prince on Tuesday, the first "
    "contingent of the Multinational Security Support mission, officials said. "
) * 3


# -- a receiver that verifies like docs/alerts.md -----------------------------------------------


def _documented_verify() -> Callable[[str, str, bytes], bool]:
    """The receiver's check exactly as docs/alerts.md shows it, so the docs stay right."""
    docs = (REPO / "docs" / "alerts.md").read_text("utf-8")
    [snippet] = re.findall(r"```python\n(.*?def verify\(.*?)```", docs, re.S)
    namespace: dict[str, Any] = {}
    exec(snippet, namespace)
    verify: Callable[[str, str, bytes], bool] = namespace["verify"]
    return verify


verify = _documented_verify()


@dataclass
class SignedReceiver:
    port: int = 0
    statuses: list[int] = field(default_factory=list)
    posts: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    refused: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def payloads(self) -> list[Any]:
        return [json.loads(body) for _, body in self.posts]


@pytest.fixture
def hook() -> Iterator[SignedReceiver]:
    state = SignedReceiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            header = self.headers.get("X-Haitiwatch-Signature", "")
            with lock:
                if not header or not verify(SECRET, header, body):
                    state.refused += 1
                    status = 401
                else:
                    state.posts.append((dict(self.headers.items()), body))
                    status = state.statuses.pop(0) if state.statuses else 204
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()
    server.server_close()


# -- the archive and the config ---------------------------------------------------------------


def loaded(tmp_path: Path, url: str, extra: str = "allow_private = true") -> LoadedConfig:
    text = f"""
[web]
public_url = "https://news.example.org"

[channels.hooks]
type = "webhook"
url = "{url}"
secret_env = "HW_TEST_WEBHOOK_SECRET"
{extra}

[[rules]]
name = "mission"
query = '"multinational security support"'
channels = ["hooks"]

[[rules]]
name = "briefing"
query = "kenyan"
channels = ["hooks"]
mode = "digest"
digest = "0 7 * * 1-5"
"""
    config = parse_config(text, "hw.toml")
    db = f"sqlite:///{tmp_path / 'hw.db'}"
    return LoadedConfig(config=config, origin="hw.toml", base_dir=tmp_path, database_url=db)


def store_with_article(setup: LoadedConfig) -> Store:
    store = Store.open(setup.database_url, [rule_match_hook(setup.config)])
    store.sync_sources([SourceSpec("nation", "feed", "https://nation.example/f")], NOW)
    url = "https://nation.example/kenya-haiti"
    store.save_article(
        ArticleRecord(
            source="nation", url=url, canonical_url=url, title="Kenyan police land in Haiti",
            text=TEXT, text_origin="page", guid="1", guid_key="nation|1", content_hash="1" * 32,
            outlet="nation.example", published=NOW - timedelta(minutes=5), language="en",
        ),
        NOW,
    )  # fmt: skip
    return store


@pytest.fixture(autouse=True)
def secret_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HW_TEST_WEBHOOK_SECRET", SECRET)


def drain(store: Store, notifier: Notifier, at: datetime = NOW) -> int:
    return asyncio.run(drain_outbox(Outbox(store.engine), notifier, at))


def immediate(store: Store) -> list[tuple[str, int, str | None]]:
    return [
        (a.status, a.attempts, a.last_error)
        for a in Outbox(store.engine).list_alerts()
        if a.mode == "immediate"
    ]


# -- tests ------------------------------------------------------------------------------------


def test_the_payload_is_signed_and_a_tampered_body_is_refused(
    tmp_path: Path, hook: SignedReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    setup = loaded(tmp_path, hook.url())
    store = store_with_article(setup)
    caplog.set_level(logging.DEBUG)
    try:
        notifier = Notifier.from_config(setup)
        assert drain(store, notifier) == 1
        assert hook.refused == 0
        [(headers, body)] = hook.posts
        assert headers["Content-Type"].startswith("application/json")
        payload = json.loads(body)
        assert payload["version"] == 1 and payload["kind"] == "alert"
        assert payload["rule"] == "mission" and payload["channel"] == "hooks"
        [item] = payload["items"]
        [article] = list(store.iter_articles())
        assert item["story_id"] == article.story and item["event"] is None
        assert item["url"] == "https://nation.example/kenya-haiti"
        assert item["outlet"] == "nation" and item["language"] == "en"
        assert item["published"] == "2026-11-16T14:55:00+00:00"
        assert item["matched_terms"] == ["Multinational Security Support"]
        assert "Multinational Security Support" in item["snippet"]
        assert item["archive_url"] == f"https://news.example.org/stories/{article.story}"
        assert immediate(store) == [(SENT, 1, None)]

        # The same signature on another body: the receiver refuses it.
        tampered = body.replace(b"Kenyan police", b"Kenyan troops")
        request = urllib.request.Request(
            hook.url(), data=tampered, method="POST",
            headers={"X-Haitiwatch-Signature": headers["X-Haitiwatch-Signature"]},
        )  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 401 and hook.refused == 1
    finally:
        store.close()
    assert SECRET not in caplog.text and SECRET not in repr(notifier)


def test_a_digest_goes_to_the_webhook_with_every_waiting_item(
    tmp_path: Path, hook: SignedReceiver
) -> None:
    setup = loaded(tmp_path, hook.url())
    store = store_with_article(setup)
    try:
        monday_8 = datetime(2026, 11, 16, 8, 0, tzinfo=UTC) + timedelta(days=1)
        sent = asyncio.run(
            run_due_digests(Outbox(store.engine), Notifier.from_config(setup), monday_8)
        )
        assert sent == 1
        [payload] = hook.payloads()
        assert payload["kind"] == "digest" and payload["rule"] == "briefing"
        assert [i["title"] for i in payload["items"]] == ["Kenyan police land in Haiti"]
    finally:
        store.close()


def test_an_outage_is_retried_through_the_outbox(tmp_path: Path, hook: SignedReceiver) -> None:
    setup = loaded(tmp_path, hook.url())
    store = store_with_article(setup)
    try:
        notifier = Notifier.from_config(setup)
        hook.statuses = [503]
        assert drain(store, notifier) == 0
        assert immediate(store) == [(PENDING, 1, "target 0: webhook: HTTP 503")]
        assert drain(store, notifier, NOW + timedelta(seconds=10)) == 0  # not yet due
        assert drain(store, notifier, NOW + timedelta(seconds=31)) == 1
        assert immediate(store) == [(SENT, 2, None)]
        assert len(hook.posts) == 2
    finally:
        store.close()


def test_a_refused_answer_fails_at_once(tmp_path: Path, hook: SignedReceiver) -> None:
    setup = loaded(tmp_path, hook.url())
    store = store_with_article(setup)
    try:
        hook.statuses = [410]
        assert drain(store, Notifier.from_config(setup)) == 0
        assert immediate(store) == [(FAILED, 1, "target 0: webhook: HTTP 410 (permanent)")]
    finally:
        store.close()


def _private_name() -> str | None:
    """This machine's name when it resolves to a private address (a container's does)."""
    name = socket.gethostname()
    try:
        answers = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        return None
    return name if answers and all(is_forbidden_ip(str(a)) for a in answers) else None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "private-name"])
def test_a_private_address_is_refused_unless_allowed(
    tmp_path: Path, hook: SignedReceiver, host: str
) -> None:
    if host == "private-name":
        found = _private_name()
        if found is None:
            pytest.skip("this machine's name does not resolve to a private address")
        host = found
    setup = loaded(tmp_path, f"http://{host}:{hook.port}/hook", extra="")
    store = store_with_article(setup)
    try:
        assert drain(store, Notifier.from_config(setup)) == 0
        [(status, _, error)] = immediate(store)
        assert status == FAILED and error is not None and "private or loopback" in error
        assert hook.posts == [] and hook.refused == 0  # nothing reached the receiver
    finally:
        store.close()


def test_alerts_test_reaches_a_webhook(tmp_path: Path, hook: SignedReceiver) -> None:
    delivery = asyncio.run(send_test(Notifier.from_config(loaded(tmp_path, hook.url())), "hooks"))
    assert delivery.ok and hook.payloads()[0]["kind"] == "test"


def test_a_webhook_needs_a_signing_key() -> None:
    text = '[channels.h]\ntype = "webhook"\nurl = "https://hooks.example.org/x"\n'
    with pytest.raises(ConfigError, match=r"hw\.toml: channels\.h: .*secret_env or secret_file"):
        parse_config(text, "hw.toml")
    with pytest.raises(ConfigError, match=r"need type = \"webhook\""):
        parse_config('[channels.h]\nurl = "json://x"\nsecret_env = "S"\n', "hw.toml")
    operator = (
        '[service]\noperator_channels = ["h"]\n[channels.h]\ntype = "webhook"\n'
        'url = "https://hooks.example.org/x"\nsecret_env = "S"\n'
    )
    with pytest.raises(ConfigError, match=r"operator_channels: channel 'h' is a webhook"):
        parse_config(operator, "hw.toml")
