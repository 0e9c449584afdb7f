"""Typed configuration: one TOML file, validated once at start-up, then passed down.

This is the only module that reads the environment. Errors name the file, the key and what was
expected, e.g. ``hw.toml: sources[3].interval: expected a duration like "30s", "15m", "2h"``.
"""

from __future__ import annotations

import os
import re
import tomllib
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from db.errors import ConfigError

CONFIG_ENV = "HAITIWATCH_CONFIG"
DATABASE_URL_ENV = "HAITIWATCH_DATABASE_URL"
DEFAULT_CONFIG_NAME = "default_config.toml"
DEFAULT_USER_AGENT = "haitiwatch/0.1 (+https://github.com/haitiwatch/haitiwatch)"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def parse_duration(value: object) -> timedelta:
    """ "30s", "15m", "2h", "1d" (or a number of seconds) -> timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return timedelta(seconds=value)
    if isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
        if seconds > 0:
            return timedelta(seconds=seconds)
    raise ValueError('expected a duration like "30s", "15m", "2h" or "1d"')


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServiceConfig(_Section):
    timezone: str = "UTC"
    #: How long a source may fail before an operator alert is raised.
    source_failure_alert_after: Duration = timedelta(hours=6)


class DatabaseConfig(_Section):
    url: str = "sqlite:///haitiwatch.db"


class CrawlConfig(_Section):
    download_delay: float = Field(1.0, ge=0)
    concurrent_requests_per_domain: int = Field(2, ge=1, le=64)
    concurrent_requests: int = Field(32, ge=1, le=1024)
    timeout: float = Field(30.0, gt=0, le=600)
    max_response_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    obey_robots_txt: bool = True
    user_agent: str = DEFAULT_USER_AGENT
    #: Longest Retry-After honoured; larger values are clipped to this.
    max_retry_after: Duration = timedelta(hours=6)
    retries: int = Field(2, ge=0, le=10)


SourceKind = Literal["feed"]


class SourceConfig(_Section):
    name: str
    kind: SourceKind = "feed"
    url: str
    interval: Duration = timedelta(minutes=15)
    fetch_articles: bool = True
    enabled: bool = True
    #: Per-source politeness override (seconds between requests to this source's host).
    download_delay: float | None = Field(None, ge=0)
    #: Language hint when neither feed nor page declares one (ISO 639-1).
    language: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("expected a short lowercase name of letters, digits, '.', '_' or '-'")
        return v

    @field_validator("url")
    @classmethod
    def _url_is_http(cls, v: str) -> str:
        if not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("expected an http:// or https:// URL")
        return v


class RuleConfig(_Section):
    name: str
    query: str
    channels: list[str] = Field(default_factory=list)
    mode: Literal["immediate", "digest"] = "immediate"
    digest: str | None = None
    timezone: str | None = None
    description: str | None = None


class ChannelConfig(_Section):
    """An Apprise URL, given directly, by environment variable, or in a file (for secrets)."""

    url: str | None = None
    url_env: str | None = None
    url_file: Path | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ChannelConfig:
        given = [x for x in (self.url, self.url_env, self.url_file) if x is not None]
        if len(given) != 1:
            raise ValueError("expected exactly one of url, url_env or url_file")
        return self


class Config(_Section):
    service: ServiceConfig = ServiceConfig()
    database: DatabaseConfig = DatabaseConfig()
    crawl: CrawlConfig = CrawlConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _names_unique(self) -> Config:
        for what, names in (
            ("sources", [s.name for s in self.sources]),
            ("rules", [r.name for r in self.rules]),
        ):
            seen: set[str] = set()
            for name in names:
                if name in seen:
                    raise ValueError(f"{what}: name {name!r} is used twice")
                seen.add(name)
        for rule in self.rules:
            for channel in rule.channels:
                if channel not in self.channels:
                    raise ValueError(
                        f"rules: rule {rule.name!r} names channel {channel!r}, "
                        "which is not defined under [channels]"
                    )
        return self

    def source(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} (known: {known})")


class LoadedConfig(BaseModel):
    """A validated config plus where it came from (for messages and relative paths)."""

    model_config = ConfigDict(frozen=True)

    config: Config
    origin: str
    base_dir: Path
    database_url: str


def default_config_text() -> str:
    return resources.files("scheduler").joinpath(DEFAULT_CONFIG_NAME).read_text("utf-8")


def _format_error(origin: str, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        key = _dotted(item["loc"]) or "(top level)"
        msg = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        lines.append(f"{origin}: {key}: {msg}{shown}")
    return "\n".join(lines)


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_config(text: str, origin: str) -> Config:
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{origin}: not valid TOML: {e}") from e
    try:
        return Config.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_error(origin, e)) from e


def resolve_database_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to the config file's folder, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url.removeprefix(prefix)
        path, sep, query = rest.partition("?")
        if path and path != ":memory:":
            return prefix + str((base_dir / path).resolve()) + sep + query
    return url


def load_config(path: str | Path | None = None) -> LoadedConfig:
    """Load the config named by ``path``, else $HAITIWATCH_CONFIG, else the shipped default."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if chosen:
        file = Path(chosen).expanduser()
        try:
            text = file.read_text("utf-8")
        except OSError as e:
            raise ConfigError(f"{file}: cannot read config file: {e.strerror or e}") from e
        origin, base_dir = str(file), file.resolve().parent
    else:
        text, origin, base_dir = default_config_text(), "(built-in default config)", Path.cwd()
    config = parse_config(text, origin)
    url = os.environ.get(DATABASE_URL_ENV) or config.database.url
    return LoadedConfig(
        config=config,
        origin=origin,
        base_dir=base_dir,
        database_url=resolve_database_url(url, base_dir),
    )


def channel_url(name: str, channel: ChannelConfig, origin: str) -> str:
    """The secret Apprise URL of a channel. Never log the result."""
    if channel.url is not None:
        return channel.url
    if channel.url_env is not None:
        value = os.environ.get(channel.url_env)
        if not value:
            raise ConfigError(
                f"{origin}: channels.{name}.url_env: environment variable "
                f"{channel.url_env} is not set"
            )
        return value.strip()
    assert channel.url_file is not None
    try:
        return channel.url_file.read_text("utf-8").strip()
    except OSError as e:
        raise ConfigError(
            f"{origin}: channels.{name}.url_file: cannot read {channel.url_file}: {e.strerror}"
        ) from e
