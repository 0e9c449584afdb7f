"""Every config key from the environment (HAITIWATCH_SECTION__KEY), the database password from
a secret, and relative secret files found in systemd's credentials directory."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.db.errors import ConfigError
from haitiwatch.db.redact import redact
from haitiwatch.scheduler.config import Config, load_config, parse_config, url_with_password
from haitiwatch.scheduler.config_env import apply_overrides, env_overrides
from haitiwatch.scheduler.secrets import CREDENTIALS_ENV

FILE = """
[service]
timezone = "UTC"
[[sources]]
name = "a"
url = "https://example.org/a.xml"
[[sources]]
name = "b"
url = "https://example.org/b.xml"
"""


def parsed(environ: dict[str, str], text: str = FILE) -> Config:
    return parse_config(text, "hw.toml", env_overrides(environ))


def test_every_level_of_the_config_can_come_from_the_environment() -> None:
    config = parsed(
        {
            "HAITIWATCH_SERVICE__HTTP__ENABLED": "true",
            "HAITIWATCH_SERVICE__HTTP__PORT": "9000",
            "HAITIWATCH_SERVICE__STOP_TIMEOUT": "45s",
            "HAITIWATCH_SERVICE__OPERATOR_CHANNELS": '["ops"]',
            "HAITIWATCH_STORIES__MIN_JACCARD": "0.4",
            "HAITIWATCH_CHANNELS__OPS__URL_ENV": "OPS_URL",
            "HAITIWATCH_SOURCES__1__ENABLED": "false",
            "HAITIWATCH_CLUSTER__REDIS_URL": "redis://queue:6379/0",
            # not overrides: no double underscore, or another program's variable
            "HAITIWATCH_CONFIG": "/etc/hw.toml",
            "HAITIWATCH_DATABASE_URL": "sqlite:///x.db",
            "OTHER__THING": "1",
        }
    )
    http = config.service.http
    assert (http.enabled, http.port) == (True, 9000)
    assert config.service.stop_timeout == timedelta(seconds=45)
    assert config.service.operator_channels == ["ops"]
    assert config.stories.min_jaccard == 0.4
    assert config.channels["ops"].url_env == "OPS_URL"
    assert [s.enabled for s in config.sources] == [True, False]
    assert config.cluster.redis_url == "redis://queue:6379/0"
    assert config.service.timezone == "UTC"  # the file's keys stay


def test_an_invalid_value_names_the_variable_but_never_shows_the_value() -> None:
    with pytest.raises(ConfigError) as caught:
        parsed({"HAITIWATCH_CLUSTER__REDIS_URL": "http://user:hunter2@queue"})
    message = str(caught.value)
    assert message.startswith("hw.toml: cluster.redis_url: expected a redis://")
    assert "$HAITIWATCH_CLUSTER__REDIS_URL" in message and "hunter2" not in message


def test_an_unknown_key_or_section_names_the_variable() -> None:
    with pytest.raises(ConfigError, match=r"service\.colour: .*\$HAITIWATCH_SERVICE__COLOUR"):
        parsed({"HAITIWATCH_SERVICE__COLOUR": "blue"})
    with pytest.raises(ConfigError, match=r"hw\.toml: nosuch: .*\$HAITIWATCH_NOSUCH__KEY"):
        parsed({"HAITIWATCH_NOSUCH__KEY": "1"})


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("HAITIWATCH_SOURCES__7__ENABLED", "false", "expected an index from 0 to 1"),
        ("HAITIWATCH_SERVICE__TIMEZONE__X", "1", "service.timezone is a value, not a table"),
        ("HAITIWATCH_SERVICE____PORT", "1", "expected a name like HAITIWATCH_SECTION__KEY"),
        ("HAITIWATCH_SERVICE__OPERATOR_CHANNELS", "[ops]", "must be JSON"),
    ],
)
def test_a_misplaced_variable_is_an_error_naming_it(variable: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=rf"^\${variable}: .*{says}"):
        parsed({variable: value})


_PLAIN = st.text(max_size=10).filter(lambda v: not v.lstrip().startswith(("[", "{")))


@given(st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), _PLAIN, max_size=4))
def test_overrides_set_exactly_their_keys_and_leave_the_input_alone(keys: dict[str, str]) -> None:
    raw = {"service": {"timezone": "UTC"}, "sources": [{"name": "a"}]}
    environ = {f"HAITIWATCH_SECTION__{k.upper()}": v for k, v in keys.items()}
    out = apply_overrides(raw, env_overrides(environ))
    assert raw == {"service": {"timezone": "UTC"}, "sources": [{"name": "a"}]}
    assert out == raw | ({"section": keys} if keys else {})


@given(st.text(min_size=1, max_size=30))
def test_any_password_round_trips_through_the_url(password: str) -> None:
    from urllib.parse import unquote, urlsplit

    url = url_with_password("postgresql+psycopg://haitiwatch@db:5432/hw?sslmode=require", password)
    parts = urlsplit(url)
    assert parts.username == "haitiwatch" and unquote(parts.password or "") == password
    assert (parts.hostname, parts.port, parts.path, parts.query) == (
        "db",
        5432,
        "/hw",
        "sslmode=require",
    )


@pytest.mark.parametrize(
    "url", ["sqlite:///hw.db", "postgresql://db/hw", "postgresql://hw:old@db/hw"]
)
def test_a_password_needs_a_server_url_with_a_user_and_no_password(url: str) -> None:
    with pytest.raises(ConfigError, match=r"^database: "):
        url_with_password(url, "secret")


def test_the_database_password_comes_from_a_systemd_credential(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "db_password").write_text("s3cr/t@x\n")
    config = tmp_path / "hw.toml"
    config.write_text('[database]\nurl = "postgresql://hw@db/hw"\npassword_file = "db_password"\n')
    monkeypatch.setenv(CREDENTIALS_ENV, str(credentials))
    loaded = load_config(config)
    assert loaded.database_url == "postgresql://hw:s3cr%2Ft%40x@db/hw"
    assert "s3cr" not in redact(f"connecting to {loaded.database_url}")
    # Without the credential there, a relative file is looked up beside the config.
    monkeypatch.delenv(CREDENTIALS_ENV)
    says = rf"^{config}: database\.password_file: cannot read {tmp_path}/db_password"
    with pytest.raises(ConfigError, match=says):
        load_config(config)


def test_the_database_password_from_an_overriding_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "hw.toml"
    config.write_text("")
    monkeypatch.setenv("HAITIWATCH_DATABASE__URL", "postgresql://hw@db/hw")
    monkeypatch.setenv("HAITIWATCH_DATABASE__PASSWORD_ENV", "PGPASS")
    monkeypatch.setenv("PGPASS", "pw")
    monkeypatch.delenv("HAITIWATCH_DATABASE_URL", raising=False)
    assert load_config(config).database_url == "postgresql://hw:pw@db/hw"
