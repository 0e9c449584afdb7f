"""Secrets the config points at (channel URLs, the web token, the mark links' key), read from
the environment or a file when needed and masked in logs from then on (db/redact.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from haitiwatch.db.errors import ConfigError
from haitiwatch.db.redact import remember_secret

if TYPE_CHECKING:  # config.py reads the database password through this module
    from haitiwatch.scheduler.config import ChannelConfig, DatabaseConfig, WebConfig

#: Where systemd puts the unit's LoadCredential= files (only for units that have some).
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"


def secret_path(file: Path, base_dir: Path) -> Path:
    """Where a secret file named in the config is: an absolute path as given; a relative one
    in systemd's credentials directory when the unit loaded it there, else under base_dir."""
    if file.is_absolute():
        return file
    credentials = os.environ.get(CREDENTIALS_ENV)
    if credentials and (Path(credentials) / file).is_file():
        return Path(credentials) / file
    return base_dir / file


def channel_url(name: str, channel: ChannelConfig, origin: str) -> str:
    """The secret Apprise URL of a channel, masked in logs from now on (db/redact.py)."""
    if channel.url is not None:
        value = channel.url
    elif channel.url_env is not None:
        value = os.environ.get(channel.url_env, "").strip()
        if not value:
            raise ConfigError(
                f"{origin}: channels.{name}.url_env: environment variable "
                f"{channel.url_env} is not set"
            )
    else:
        assert channel.url_file is not None
        value = _read_channel_file(name, channel.url_file, origin)
    remember_secret(value)
    return value


def _read_channel_file(name: str, file: Path, origin: str) -> str:
    file = secret_path(file, Path())  # relative: to the working directory, as it always was
    try:
        return file.read_text("utf-8").strip()
    except OSError as e:
        raise ConfigError(
            f"{origin}: channels.{name}.url_file: cannot read {file}: {e.strerror}"
        ) from e


def web_token(web: WebConfig, base_dir: Path) -> str | None:
    """The web access token from ``token_env`` or ``token_file``; None if neither is set."""
    return _secret("web.token", web.token_env, web.token_file, base_dir)


def link_secret(web: WebConfig, base_dir: Path) -> str | None:
    """The mark links' key from ``link_secret_env`` or ``link_secret_file``; None if neither
    is set."""
    return _secret("web.link_secret", web.link_secret_env, web.link_secret_file, base_dir)


def database_password(database: DatabaseConfig, base_dir: Path) -> str | None:
    """The database password from ``password_env`` or ``password_file``; None if neither is
    set."""
    return _secret("database.password", database.password_env, database.password_file, base_dir)


def _secret(key: str, env: str | None, file: Path | None, base_dir: Path) -> str | None:
    """A secret from an environment variable or a file, masked in logs from now on
    (db/redact.py)."""
    if env is not None:
        value = os.environ.get(env, "").strip()
        if not value:
            raise ConfigError(f"{key}_env: environment variable {env} is empty")
    elif file is not None:
        path = secret_path(file, base_dir)
        try:
            value = path.read_text("utf-8").strip()
        except OSError as e:
            raise ConfigError(f"{key}_file: cannot read {path}: {e.strerror or e}") from e
        if not value:
            raise ConfigError(f"{key}_file: {path} is empty")
    else:
        return None
    remember_secret(value)
    return value


def webhook_secret(name: str, channel: ChannelConfig, origin: str, base_dir: Path) -> str:
    """The signing key of a webhook channel (``secret_env`` or ``secret_file``)."""
    key = f"channels.{name}.secret"
    try:
        value = _secret(key, channel.secret_env, channel.secret_file, base_dir)
    except ConfigError as e:
        raise ConfigError(f"{origin}: {e}") from e
    if value is None:
        raise ConfigError(f"{origin}: {key}_env or {key}_file: a webhook needs a signing key")
    return value
