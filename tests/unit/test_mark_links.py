"""Signed mark links: what is signed is what is recorded; forged and expired links refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.errors import ConfigError
from haitiwatch.scheduler.config import load_config, parse_config
from haitiwatch.scheduler.mark_links import LinkRefused, LinkSigner, link_signer, links_note

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
SECRET = b"link-secret-for-tests-0123456789"
SIGNER = LinkSigner("https://news.example.org/", SECRET)


def fields(link: str) -> dict[str, str]:
    return dict(parse_qsl(urlsplit(link).query))


def test_a_link_verifies_to_what_it_was_made_for() -> None:
    link = SIGNER.link(42, "mission", "relevant", NOW)
    assert link.startswith("https://news.example.org/mark?a=42&r=mission&v=relevant&")
    mark = SIGNER.verify(fields(link), NOW + timedelta(days=29))
    assert (mark.article_id, mark.rule, mark.verdict) == (42, "mission", "relevant")
    relevant, irrelevant = SIGNER.links(42, "mission", NOW)
    assert fields(relevant)["n"] != fields(irrelevant)["n"]  # each link used once on its own


def test_the_secret_shows_nowhere() -> None:
    link = SIGNER.link(42, "mission", "irrelevant", NOW)
    assert SECRET.decode() not in link and SECRET.decode() not in repr(SIGNER)


def test_expired_link_is_refused() -> None:
    link = SIGNER.link(42, "mission", "relevant", NOW)
    with pytest.raises(LinkRefused, match="expired"):
        SIGNER.verify(fields(link), NOW + timedelta(days=31))


@pytest.mark.parametrize(
    "change",
    [{"v": "irrelevant"}, {"a": "43"}, {"r": "gangs"}, {"e": "9999999999"}, {"n": "other"},
     {"sig": "0" * 64}, {"sig": ""}, {"sig": "é"}, {"a": "x"}, {"v": "maybe"}],
)  # fmt: skip
def test_a_changed_field_is_refused(change: dict[str, str]) -> None:
    given_fields = fields(SIGNER.link(42, "mission", "relevant", NOW)) | change
    with pytest.raises(LinkRefused):
        SIGNER.verify(given_fields, NOW)


@given(st.binary(min_size=1, max_size=64).filter(lambda b: b != SECRET))
def test_another_secret_cannot_sign(other: bytes) -> None:
    forged = LinkSigner("https://news.example.org", other).link(42, "mission", "relevant", NOW)
    with pytest.raises(LinkRefused, match="signature"):
        SIGNER.verify(fields(forged), NOW)


def test_config_reads_public_url_and_the_secret_like_the_token(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="public_url: expected the archive's address"):
        parse_config('[web]\npublic_url = "ftp://news.example.org"\n', "hw.toml")
    (tmp_path / "links").write_text(SECRET.decode() + "\n")
    config = tmp_path / "hw.toml"
    config.write_text(
        '[web]\npublic_url = "https://news.example.org"\nlink_secret_file = "links"\n'
    )
    signer = link_signer(load_config(config))
    assert signer is not None and signer.secret == SECRET
    config.write_text('[web]\npublic_url = "https://news.example.org"\n')
    assert link_signer(load_config(config)) is None
    assert "set web.link_secret_env or web.link_secret_file" in (
        links_note(load_config(config)) or ""
    )


def test_alert_links_are_made_under_base_url_with_its_prefix(tmp_path: Path) -> None:
    (tmp_path / "links").write_text(SECRET.decode())
    config = tmp_path / "hw.toml"
    config.write_text(
        '[web]\nbase_url = "https://example.org/haitiwatch/"\nlink_secret_file = "links"\n'
    )
    signer = link_signer(load_config(config))
    assert signer is not None
    assert signer.link(7, "mission", "relevant", NOW).startswith(
        "https://example.org/haitiwatch/mark?a=7&"
    )
    with pytest.raises(ConfigError, match="base_url: expected the archive's address"):
        parse_config('[web]\nbase_url = "https://example.org/a b"\n', "hw.toml")
    with pytest.raises(ConfigError, match="base_url and public_url differ"):
        parse_config(
            '[web]\nbase_url = "https://a.example"\npublic_url = "https://b.example"\n', "hw.toml"
        )
