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
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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
from db.redact import remember_credentials, remember_secret

CONFIG_ENV = "HAITIWATCH_CONFIG"
DATABASE_URL_ENV = "HAITIWATCH_DATABASE_URL"
REDIS_URL_ENV = "HAITIWATCH_REDIS_URL"
DEFAULT_CONFIG_NAME = "default_config.toml"
DEFAULT_USER_AGENT = "haitiwatch/0.1 (+https://github.com/haitiwatch/haitiwatch)"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
#: Longer is a typo: now + or - a duration must stay a valid date (and 10 years covers every
#: interval, window and --since a person means).
MAX_DURATION = timedelta(days=3650)
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
#: A rule with a possible-misses digest has outbox rows under "NAME:misses", which must fit
#: the outbox's 64-character rule column (db/near_misses.py).
MAX_AUDITED_NAME = 64 - len(":misses")


def parse_duration(value: object) -> timedelta:
    """ "30s", "15m", "2h", "1d" (or a number of seconds) -> timedelta, up to MAX_DURATION."""
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNIT_SECONDS[m.group(2)]
    else:
        seconds = 0.0
    if 0 < seconds <= MAX_DURATION.total_seconds():
        return timedelta(seconds=seconds)
    raise ValueError(
        f'expected a duration like "30s", "15m", "2h" or "1d", at most {MAX_DURATION.days}d'
    )


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HttpConfig(_Section):
    """The service's HTTP endpoint (/healthz, /metrics): off unless enabled."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8765, ge=1, le=65535)


class ServiceConfig(_Section):
    timezone: str = "UTC"
    #: How long a source may fail before an operator alert is raised.
    source_failure_alert_after: Duration = timedelta(hours=6)
    #: Channels (names under [channels]) that hear about failing sources.
    operator_channels: list[str] = Field(default_factory=list)
    #: Logs as JSON lines instead of text.
    log_json: bool = False
    #: How long a graceful stop waits for polls in flight before cancelling them.
    stop_timeout: Duration = timedelta(seconds=20)
    http: HttpConfig = HttpConfig()

    @field_validator("timezone")
    @classmethod
    def _zone_known(cls, v: str) -> str:
        return check_timezone(v)


class DatabaseConfig(_Section):
    url: str = "sqlite:///haitiwatch.db"


class ClusterConfig(_Section):
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


class CrawlConfig(_Section):
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


SourceKind = Literal["feed", "sitemap", "html", "gnews", "gdelt"]
#: Kinds whose URL may be built from a query instead of given.
_QUERY_KINDS = ("gnews", "gdelt")
#: Options that only some kinds read: naming one on another kind is a mistake worth reporting.
_KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "query": _QUERY_KINDS,
    "country": _QUERY_KINDS,
    "endpoint": _QUERY_KINDS,
    "timespan": ("gdelt",),
    "selectors": ("html",),
    "link_pattern": ("html",),
    "next_selector": ("html",),
    "pagination_depth": ("html",),
    "lastmod_window": ("sitemap",),
    "max_sitemaps": ("sitemap",),
}
_GDELT_TIMESPAN = re.compile(r"^\d+(min|h|d|w|m)$")
#: A news sitemap lists two days; a window a little wider tolerates missed polls.
DEFAULT_LASTMOD_WINDOW = timedelta(days=3)


class SourceConfig(_Section):
    name: str
    kind: SourceKind = "feed"
    url: str
    #: The URL from this environment variable instead (for a URL with a key or a password):
    #: its credentials and query values are masked wherever the URL is logged or shown.
    url_env: str | None = None
    interval: Duration = timedelta(minutes=15)
    fetch_articles: bool = True
    enabled: bool = True
    #: Per-source politeness override (seconds between requests to this source's host).
    download_delay: float | None = Field(None, ge=0)
    #: Language hint when neither feed nor page declares one (ISO 639-1); for gnews and
    #: gdelt also the language searched ("es-419" for a Google News regional edition).
    language: str | None = None
    # -- gnews / gdelt: a query instead of a URL ------------------------------------------
    query: str | None = None
    country: str | None = None
    #: Base URL of the search endpoint (default: Google News RSS search, GDELT DOC 2.0).
    endpoint: str | None = None
    #: gdelt: how far back each query looks ("1d", "12h", "90min", "1w").
    timespan: str | None = None
    # -- html -------------------------------------------------------------------------------
    selectors: list[str] = Field(default_factory=list)
    link_pattern: str | None = None
    next_selector: str | None = None
    pagination_depth: int = Field(0, ge=0, le=20)
    # -- sitemap ----------------------------------------------------------------------------
    lastmod_window: Duration | None = None
    max_sitemaps: int = Field(50, ge=1, le=50_000)
    # -- listings: article pages fetched per poll at most (newest first) -------------------
    max_pages: int = Field(200, ge=1, le=10_000)

    @model_validator(mode="before")
    @classmethod
    def _url_from_query(cls, data: object) -> object:
        """The URL may come from the environment; gnews and gdelt sources may give a query
        instead, and their URL is built from it."""
        if isinstance(data, dict) and data.get("url_env") is not None:
            data = _url_from_environment(data)
        if not isinstance(data, dict) or data.get("kind") not in _QUERY_KINDS:
            return data
        if data.get("url") is not None:
            return data
        if not isinstance(data.get("query"), str) or not data["query"].strip():
            raise ValueError(
                f'source {data.get("name")!r}: kind = "{data["kind"]}" needs query '
                "(the search terms) or a full url"
            )
        return {**data, "url": _search_url(data)}

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("expected a short lowercase name of letters, digits, '.', '_' or '-'")
        return v

    @field_validator("url", "endpoint")
    @classmethod
    def _url_is_http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+", v):
            raise ValueError("expected an http:// or https:// URL")
        return v

    @model_validator(mode="after")
    def _kind_options(self) -> SourceConfig:
        for option, kinds in _KIND_OPTIONS.items():
            if option in self.model_fields_set and self.kind not in kinds:
                shown = " or ".join(f'"{k}"' for k in kinds)
                raise ValueError(
                    f"source {self.name!r}: {option} is only read by kind = {shown} "
                    f'(this source is kind = "{self.kind}")'
                )
        if self.kind == "html":
            self._check_html()
        if self.kind == "gdelt" and self.timespan and not _GDELT_TIMESPAN.match(self.timespan):
            raise ValueError(
                f"source {self.name!r}: timespan: expected GDELT's form like "
                f'"90min", "12h", "1d", "1w" (got {self.timespan!r})'
            )
        return self

    def _check_html(self) -> None:
        from crawler.listings.html import compile_selector

        if not self.selectors and not self.link_pattern:
            raise ValueError(
                f'source {self.name!r}: kind = "html" needs selectors (CSS or XPath) '
                "or link_pattern (a regular expression article URLs match)"
            )
        for selector in [*self.selectors, *([self.next_selector] if self.next_selector else [])]:
            try:
                compile_selector(selector)
            except ValueError as e:
                raise ValueError(f"source {self.name!r}: selector {selector!r}: {e}") from e
        if self.link_pattern:
            try:
                re.compile(self.link_pattern)
            except re.error as e:
                raise ValueError(
                    f"source {self.name!r}: link_pattern {self.link_pattern!r} is not a valid "
                    f"regular expression: {e}"
                ) from e


def _search_url(data: dict[str, object]) -> str:
    from crawler.listings.gdelt import GDELT_ENDPOINT, query_url
    from crawler.listings.gnews import GNEWS_ENDPOINT, search_url

    query = str(data["query"])
    language = data.get("language")
    country = data.get("country")
    endpoint = data.get("endpoint")
    if data["kind"] == "gnews":
        return search_url(
            query,
            str(language or "en"),
            str(country or "US"),
            str(endpoint or GNEWS_ENDPOINT),
        )
    return query_url(
        query,
        str(language).split("-")[0] if language else None,
        str(country) if country else None,
        timespan=str(data.get("timespan") or "1d"),
        endpoint=str(endpoint or GDELT_ENDPOINT),
    )


class RuleConfig(_Section):
    name: str
    query: str
    channels: list[str] = Field(default_factory=list)
    mode: Literal["immediate", "digest"] = "immediate"
    #: Digest schedule: "daily 07:00" (or "07:00", or several: "daily 07:00, 18:00").
    digest: str | None = None
    timezone: str | None = None
    description: str | None = None
    #: "Possible misses" digest schedule ("daily 08:00"): the day's top near misses; off: None.
    audit_digest: str | None = None
    #: The rule's learned second opinion (`haitiwatch rules learn NAME`): "suggest" only
    #: scores what the query misses (for ranking near misses); "alert" also alerts on an
    #: article the query misses when the score is at least ``assist_threshold``.
    assist: Literal["off", "suggest", "alert"] = "off"
    assist_threshold: float = Field(default=0.9, ge=0.0, le=1.0)

    @field_validator("name")
    @classmethod
    def _rule_name_is_slug(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError("expected a short lowercase name of letters, digits, '.', '_' or '-'")
        return v

    @field_validator("audit_digest")
    @classmethod
    def _audit_schedule(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                digest_times(v)
            except ValueError:
                raise ValueError(
                    f'expected a schedule like "daily 08:00" or "daily 08:00, 18:00", got {v!r}'
                ) from None
        return v

    @field_validator("timezone")
    @classmethod
    def _rule_zone_known(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)

    @model_validator(mode="after")
    def _query_and_schedule(self) -> RuleConfig:
        from crawler.rules import QuerySyntaxError, parse_query  # scheduler -> crawler

        try:
            parse_query(self.query)
        except QuerySyntaxError as e:
            raise ValueError(f"rule {self.name!r}: query: {e}") from None
        if self.mode == "digest":
            if self.digest is None:
                raise ValueError(
                    f'rule {self.name!r}: mode = "digest" needs digest = "daily 07:00"'
                )
            try:
                digest_times(self.digest)
            except ValueError as e:
                raise ValueError(f"rule {self.name!r}: {e}") from None
        elif self.digest is not None:
            raise ValueError(f'rule {self.name!r}: digest is only used with mode = "digest"')
        if self.audit_digest is not None and not self.channels:
            raise ValueError(f"rule {self.name!r}: audit_digest needs channels to send to")
        if self.audit_digest is not None and len(self.name) > MAX_AUDITED_NAME:
            raise ValueError(
                f"rule {self.name!r}: audit_digest: expected a rule name of at most "
                f"{MAX_AUDITED_NAME} characters (its outbox rows are keyed NAME:misses)"
            )
        return self


_DIGEST_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def digest_times(schedule: str) -> list[tuple[int, int]]:
    """ "daily 07:00", "07:00" or "daily 07:00, 18:00" -> [(7, 0), (18, 0)] (local times)."""
    text = schedule.strip().removeprefix("daily").strip()
    times = []
    for part in text.split(","):
        match = _DIGEST_TIME.match(part.strip())
        if match is None:
            raise ValueError(
                f'digest: expected a schedule like "daily 07:00" or "daily 07:00, 18:00", '
                f"got {schedule!r}"
            )
        times.append((int(match.group(1)), int(match.group(2))))
    return sorted(set(times))


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f'unknown time zone {name!r} (expected e.g. "UTC", "America/Port-au-Prince")'
        ) from None
    return name


class StoriesConfig(_Section):
    """Story grouping (docs/stories.md): how long articles stay findable, and when two
    texts are copies (Jaccard of their 5-word shingles, or the smaller one's share in the other)."""

    window: Duration = timedelta(days=30)
    min_jaccard: float = Field(0.25, gt=0, le=1)
    min_containment: float = Field(0.5, gt=0, le=1)


def _url_from_environment(data: dict[str, object]) -> dict[str, object]:
    name = data["url_env"]
    if data.get("url") is not None:
        raise ValueError("expected url or url_env, not both")
    value = os.environ.get(str(name), "").strip()
    if not value:
        raise ValueError(f"url_env: environment variable {name} is not set")
    remember_credentials(value)
    return {**data, "url": value}


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


class WebConfig(_Section):
    """The web archive (search, stories, coverage, API): `haitiwatch serve`, or mounted into
    `haitiwatch run`'s HTTP endpoint when enabled. Read-only. Bound anywhere but loopback, it
    requires an access token, read from an environment variable or a file (never the config)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    token_env: str | None = None
    token_file: Path | None = None
    #: The archive's address as readers reach it: alerts carry signed mark links under it.
    public_url: str | None = None
    #: The mark links' HMAC key, from an environment variable or a file (never the config).
    link_secret_env: str | None = None
    link_secret_file: Path | None = None

    @field_validator("public_url")
    @classmethod
    def _public_url_is_http(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"^https?://[^/\s]+/?$", v):
            raise ValueError('expected the archive\'s address like "https://news.example.org"')
        return v


class Config(_Section):
    service: ServiceConfig = ServiceConfig()
    database: DatabaseConfig = DatabaseConfig()
    crawl: CrawlConfig = CrawlConfig()
    sources: list[SourceConfig] = Field(default_factory=list)
    rules: list[RuleConfig] = Field(default_factory=list)
    channels: dict[str, ChannelConfig] = Field(default_factory=dict)
    stories: StoriesConfig = StoriesConfig()
    web: WebConfig = WebConfig()
    cluster: ClusterConfig = ClusterConfig()

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
    #: [cluster] redis_url, or $HAITIWATCH_REDIS_URL when set.
    redis_url: str = ClusterConfig().redis_url


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
        except UnicodeDecodeError as e:
            raise ConfigError(
                f"{file}: not UTF-8 text (byte {e.start}): save the config file as UTF-8"
            ) from e
        origin, base_dir = str(file), file.resolve().parent
    else:
        text, origin, base_dir = default_config_text(), "(built-in default config)", Path.cwd()
    config = parse_config(text, origin)
    url = os.environ.get(DATABASE_URL_ENV) or config.database.url
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


def _secret(key: str, env: str | None, file: Path | None, base_dir: Path) -> str | None:
    """A secret from an environment variable or a file, masked in logs from now on
    (db/redact.py)."""
    if env is not None:
        value = os.environ.get(env, "").strip()
        if not value:
            raise ConfigError(f"{key}_env: environment variable {env} is empty")
    elif file is not None:
        path = file if file.is_absolute() else base_dir / file
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
