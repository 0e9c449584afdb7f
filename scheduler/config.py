"""Typed configuration: one TOML file, validated once at start-up, then passed down.

With the tables it is made of (config_values.py, source_config.py, rule_config.py), the
environment's overrides (config_env.py, HAITIWATCH_SECTION__KEY) and
secrets.py (what the config points at), the only code that reads the environment. Errors name
the file, the key and what was expected, e.g.
``hw.toml: sources[3].interval: expected a duration like "30s", "15m", "2h"``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Sequence
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, urlsplit, urlunsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from haitiwatch.db.errors import ConfigError, HaitiwatchError
from haitiwatch.db.redact import remember_credentials
from haitiwatch.scheduler.config_env import (
    EnvOverride,
    apply_overrides,
    env_overrides,
    variable_for,
)
from haitiwatch.scheduler.config_values import (
    Duration,
    FetchHistory,
    Section,
    check_timezone,
)
from haitiwatch.scheduler.rule_config import RuleConfig
from haitiwatch.scheduler.secrets import database_password
from haitiwatch.scheduler.source_config import SourceConfig

CONFIG_ENV = "HAITIWATCH_CONFIG"
DATABASE_URL_ENV = "HAITIWATCH_DATABASE_URL"
REDIS_URL_ENV = "HAITIWATCH_REDIS_URL"
DEFAULT_CONFIG_NAME = "default_config.toml"
DEFAULT_USER_AGENT = "haitiwatch/0.1 (+https://github.com/haitiwatch/haitiwatch)"


class HttpConfig(Section):
    """The service's HTTP endpoint (/healthz, /metrics): off unless enabled."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)


class ServiceConfig(Section):
    timezone: str = "UTC"
    #: How long a source may fail before an operator alert is raised.
    source_failure_alert_after: Duration = timedelta(hours=6)
    #: Channels (names under [channels]) that hear about failing sources.
    operator_channels: list[str] = Field(default_factory=list)
    #: Logs as JSON lines instead of text.
    log_json: bool = False
    #: How long a graceful stop waits for polls in flight before cancelling them.
    stop_timeout: Duration = timedelta(seconds=20)
    #: How long fetch rows (one per poll) are kept; None ("off"): for ever.
    fetch_history: FetchHistory = timedelta(days=30)
    http: HttpConfig = HttpConfig()

    @field_validator("timezone")
    @classmethod
    def _zone_known(cls, v: str) -> str:
        return check_timezone(v)


class DatabaseConfig(Section):
    url: str = "sqlite:///haitiwatch.db"
    #: The server's password, put into ``url`` at start-up, from an environment variable or a
    #: file (Docker secret, systemd credential), so it is never written into a URL by hand.
    password_env: str | None = None
    password_file: Path | None = None

    @model_validator(mode="after")
    def _one_password(self) -> DatabaseConfig:
        if self.password_env is not None and self.password_file is not None:
            raise ValueError("expected at most one of password_env or password_file")
        return self


class ClusterConfig(Section):
    """Cluster mode (`run --role scheduler|worker`): the shared poll queue in Redis.

    ``redis_url`` may carry a password: prefer $HAITIWATCH_REDIS_URL, which overrides it.
    """

    redis_url: str = "redis://127.0.0.1:6379/0"
    queue_key: str = Field("haitiwatch:polls", min_length=1, max_length=200)
    #: Polls a worker runs at once (each is one source: its feed, then its new pages).
    worker_polls: int = Field(16, ge=1, le=1024)
    #: A dispatched poll that no worker took for this long is handed out again.
    unclaimed_after: Duration = timedelta(minutes=15)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, v: str) -> str:
        if not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a redis://, rediss:// or unix:// URL")
        return v


class CrawlConfig(Section):
    download_delay: float = Field(1.0, ge=0)
    concurrent_requests_per_domain: int = Field(2, ge=1, le=64)
    concurrent_requests: int = Field(32, ge=1, le=1024)
    timeout: float = Field(30.0, gt=0, le=600)
    max_response_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    obey_robots_txt: bool = True
    #: A host's robots.txt is fetched again when the copy in use is this old (RFC 9309
    #: section 2.4: a crawler should not use a cached robots.txt for more than 24 hours).
    robots_txt_max_age: Duration = timedelta(hours=24)
    user_agent: str = DEFAULT_USER_AGENT
    #: Longest Retry-After honoured; larger values are clipped to this.
    max_retry_after: Duration = timedelta(hours=6)
    retries: int = Field(2, ge=0, le=10)


class StoriesConfig(Section):
    """Story grouping (docs/stories.md): how long articles stay findable, and when two
    texts are copies (Jaccard of their 5-word shingles, or the smaller one's share in the other)."""

    window: Duration = timedelta(days=30)
    min_jaccard: float = Field(0.25, gt=0, le=1)
    min_containment: float = Field(0.5, gt=0, le=1)


class ChannelConfig(Section):
    """An Apprise URL, given directly, by environment variable, or in a file (for secrets);
    or, with ``type = "webhook"``, an http(s) URL that gets a signed JSON POST, its signing
    key from ``secret_env`` or ``secret_file`` (docs/alerts.md)."""

    type: Literal["apprise", "webhook"] = "apprise"
    url: str | None = None
    url_env: str | None = None
    url_file: Path | None = None
    secret_env: str | None = None
    secret_file: Path | None = None
    #: A webhook on a private, loopback or link-local address is refused unless this is set.
    allow_private: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> ChannelConfig:
        given = [x for x in (self.url, self.url_env, self.url_file) if x is not None]
        if len(given) != 1:
            raise ValueError("expected exactly one of url, url_env or url_file")
        secrets = [x for x in (self.secret_env, self.secret_file) if x is not None]
        if self.type == "webhook":
            if len(secrets) != 1:
                raise ValueError(
                    'type = "webhook": expected exactly one of secret_env or secret_file '
                    "(the key that signs each request)"
                )
            if self.url is not None and not re.match(r"^https?://[^/\s]+", self.url):
                raise ValueError('type = "webhook": expected an http(s) URL')
        elif secrets or self.allow_private:
            raise ValueError('secret_env, secret_file and allow_private need type = "webhook"')
        return self


class WebConfig(Section):
    """The web archive (search, stories, coverage, API): `haitiwatch serve`, or mounted into
    `haitiwatch run`'s HTTP endpoint when enabled. Read-only. Bound anywhere but loopback, it
    requires an access token, read from an environment variable or a file (never the config)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    token_env: str | None = None
    token_file: Path | None = None
    #: The archive's address as readers reach it, a path prefix allowed
    #: ("https://news.example.org/haitiwatch"): Atom links and ids, and the signed mark
    #: links in alerts, are made under it.
    base_url: str | None = None
    #: The older name of base_url (no path prefix): read as base_url when that is not set.
    public_url: str | None = None
    #: Behind a reverse proxy: read X-Forwarded-Proto/Host/Prefix (ignored unless true,
    #: since any client can send them).
    trust_proxy: bool = False
    #: The mark links' HMAC key, from an environment variable or a file (never the config).
    link_secret_env: str | None = None
    link_secret_file: Path | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+/?$", v):
            raise ValueError('expected the archive\'s address like "https://news.example.org"')
        return v

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s?#]+(/[A-Za-z0-9._~/-]*)?$", v):
            raise ValueError(
                'expected the archive\'s address like "https://news.example.org" or '
                '"https://example.org/haitiwatch"'
            )
        return v

    @model_validator(mode="before")
    @classmethod
    def _public_url_is_base_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("public_url") is not None:
            if data.get("base_url") not in (None, data["public_url"]):
                raise ValueError("base_url and public_url differ: set base_url only")
            data = {**data, "base_url": data["public_url"]}
        return data


class AlertsConfig(Section):
    """How alerts read: ``templates`` is a folder of Jinja2 files that replace the package's
    own by name (alert.txt, alert.html, digest.txt, digest.html, item.txt, item.html)."""

    templates: Path | None = None


class Config(Section):
    service: ServiceConfig = ServiceConfig()
    database: DatabaseConfig = DatabaseConfig()
    crawl: CrawlConfig = CrawlConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    stories: StoriesConfig = StoriesConfig()
    web: WebConfig = WebConfig()
    cluster: ClusterConfig = ClusterConfig()
    alerts: AlertsConfig = AlertsConfig()

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
        for name in self.service.operator_channels:
            if name in self.channels and self.channels[name].type == "webhook":
                raise ValueError(
                    f"service.operator_channels: channel {name!r} is a webhook; operator "
                    "messages go to Apprise channels only"
                )
        known_sources = {s.name for s in self.sources}
        for rule in self.rules:
            for source in rule.sources:
                if source not in known_sources:
                    raise ValueError(
                        f"rules: rule {rule.name!r} is limited to source {source!r}, "
                        "which is not defined under [[sources]]"
                    )
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
        # A name from the command line, not a config error: exits 2 like other usage errors.
        raise HaitiwatchError(f"no source named {name!r} (known: {known})")


class LoadedConfig(BaseModel):
    """A validated config plus where it came from (for messages and relative paths)."""

    model_config = ConfigDict(frozen=True)

    config: Config
    origin: str
    base_dir: Path
    database_url: str
    #: [cluster] redis_url, or $HAITIWATCH_REDIS_URL when set.
    redis_url: str = ClusterConfig().redis_url


def default_config_text() -> str:
    return resources.files("haitiwatch.scheduler").joinpath(DEFAULT_CONFIG_NAME).read_text("utf-8")


def _format_error(
    origin: str, error: ValidationError, overrides: Sequence[EnvOverride] = ()
) -> str:
    lines = []
    for item in error.errors():
        key = _dotted(item["loc"]) or "(top level)"
        msg = item["msg"].removeprefix("Value error, ")
        got = item.get("input")
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        if variable := variable_for(item["loc"], overrides):
            shown = f" (from ${variable})"  # not its value: it may be a secret
        lines.append(f"{origin}: {key}: {msg}{shown}")
    return "\n".join(lines)


def _dotted(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_config(text: str, origin: str, overrides: Sequence[EnvOverride] = ()) -> Config:
    """Validate the TOML ``text``, with ``overrides`` (config_env.py) set in it first."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{origin}: not valid TOML: {e}") from e
    try:
        return Config.model_validate(apply_overrides(raw, overrides))
    except ValidationError as e:
        raise ConfigError(_format_error(origin, e, overrides)) from e


def resolve_database_url(url: str, base_dir: Path) -> str:
    """Make a relative SQLite path relative to the config file's folder, not the cwd."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/"):
        rest = url.removeprefix(prefix)
        path, sep, query = rest.partition("?")
        if path and path != ":memory:":
            return prefix + str((base_dir / path).resolve()) + sep + query
    return url


def url_with_password(url: str, password: str) -> str:
    """``url`` with ``password`` (percent-encoded) after its user name."""
    parts = urlsplit(url)
    user, at, host = parts.netloc.rpartition("@")
    if not at or not user or url.startswith("sqlite"):
        raise ConfigError(
            "database: a password needs a server URL with a user name, like "
            '"postgresql://haitiwatch@db-host/haitiwatch"'
        )
    if ":" in user:
        raise ConfigError("database: the URL already carries a password; give it once")
    return urlunsplit(parts._replace(netloc=f"{user}:{quote(password, safe='')}@{host}"))


def load_config(path: str | Path | None = None) -> LoadedConfig:
    """Load the config named by ``path``, else $HAITIWATCH_CONFIG, else the shipped default."""
    chosen = path or os.environ.get(CONFIG_ENV)
    if chosen:
        file = Path(chosen).expanduser()
        try:
            text = file.read_text("utf-8")
        except OSError as e:
            raise ConfigError(f"{file}: cannot read config file: {e.strerror or e}") from e
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"{file}: not UTF-8 text (byte {e.start}): save the config file as UTF-8"
            ) from e
        origin, base_dir = str(file), file.resolve().parent
    else:
        text, origin, base_dir = default_config_text(), "(built-in default config)", Path.cwd()
    config = parse_config(text, origin, env_overrides(os.environ))
    url = os.environ.get(DATABASE_URL_ENV) or config.database.url
    try:
        if (password := database_password(config.database, base_dir)) is not None:
            url = url_with_password(url, password)
    except ConfigError as e:
        raise ConfigError(f"{origin}: {e}") from e
    redis_url = os.environ.get(REDIS_URL_ENV) or config.cluster.redis_url
    for secret_bearing in (url, redis_url):
        if secret_bearing:
            remember_credentials(secret_bearing)
    return LoadedConfig(
        config=config,
        origin=origin,
        base_dir=base_dir,
        database_url=resolve_database_url(url, base_dir),
        redis_url=redis_url,
    )
