"""An alert rule's configuration (`[[rules]]`): its query, channels, digest schedule and
learned second opinion."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from haitiwatch.db.errors import HaitiwatchError
from haitiwatch.scheduler.catalogs import ALERT_LANGUAGES
from haitiwatch.scheduler.config_values import (
    Duration,
    Name,
    Section,
    check_timezone,
    digest_times,
)
from haitiwatch.scheduler.digest_schedule import check_schedule

#: A rule with a possible-misses digest has outbox rows under "NAME:misses", which must fit
#: the outbox's 64-character rule column (db/near_misses.py).
MAX_AUDITED_NAME = 64 - len(":misses")
#: The longest quiet period before an event's follow-up alert.
MAX_EVENT_FOLLOWUP = timedelta(days=7)
#: An ISO 639 language code, optionally with a region ("fr", "ht", "pt-BR").
_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$")
#: A term's name, and a use of it in a query: $HAITI.
_TERM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TERM_USE = re.compile(rf"\$({_TERM_NAME.pattern})")


class RuleConfig(Section):
    name: Name
    #: The query, with its terms written out (what every matcher and page reads).
    query: str
    #: Named parts of the query (`[rules.terms]`): $NAME in the query, or in a later term,
    #: stands for the term's text in parentheses, so a long rule names a word list once.
    terms: dict[str, str] = Field(default_factory=dict)
    channels: list[str] = Field(default_factory=list)
    mode: Literal["immediate", "digest"] = "immediate"
    #: Digest schedule: "daily 07:00" (or "07:00", or several: "daily 07:00, 18:00"), or cron:
    #: "0 7 * * 1-5" (scheduler/digest_schedule.py).
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
    #: Only articles in these languages (ISO 639-1, e.g. ["fr", "ht"]); empty: every language.
    languages: list[str] = Field(default_factory=list)
    #: Only articles from these sources (names under [[sources]]); empty: every source.
    sources: list[str] = Field(default_factory=list)
    #: The language of the rule's alerts and digests: our own words in them (labels, headings),
    #: not the articles' text (scheduler/catalogs.py).
    language: str = "en"
    #: An event's follow-up alert: once the event this rule alerted on has gained outlets or
    #: languages and then had no new article for this long ("2h"), one message says what was
    #: added (scheduler/event_followups.py). None: no follow-up.
    event_followup: Duration | None = None

    @model_validator(mode="before")
    @classmethod
    def _write_out_terms(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        terms, query = data.get("terms"), data.get("query")
        if not terms or not isinstance(terms, dict) or not isinstance(query, str):
            return data  # no terms, or ill-typed: the field checks say what is wrong
        try:
            return {**data, "query": expand_terms(query, terms)}
        except ValueError as e:
            raise ValueError(f"rule {data.get('name')!r}: {e}") from None

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

    @field_validator("event_followup")
    @classmethod
    def _followup_within_a_week(cls, v: timedelta | None) -> timedelta | None:
        # Events stop growing within days; a longer quiet period would never end usefully.
        if v is not None and v > MAX_EVENT_FOLLOWUP:
            raise ValueError(
                f'expected a quiet period like "2h" or "1d", at most {MAX_EVENT_FOLLOWUP.days}d'
            )
        return v

    @field_validator("languages")
    @classmethod
    def _language_codes(cls, v: list[str]) -> list[str]:
        for code in v:
            if not _LANGUAGE.match(code):
                raise ValueError(f'expected language codes like "fr", "ht" or "en", got {code!r}')
        return v

    @field_validator("timezone")
    @classmethod
    def _rule_zone_known(cls, v: str | None) -> str | None:
        return None if v is None else check_timezone(v)

    @model_validator(mode="after")
    def _query_and_schedule(self) -> RuleConfig:
        from haitiwatch.db.query.parser import QuerySyntaxError, parse_query  # scheduler -> crawler

        try:
            parse_query(self.query)
        except QuerySyntaxError as e:
            raise ValueError(f"rule {self.name!r}: query: {e}") from None
        if self.language not in ALERT_LANGUAGES:
            accepted = ", ".join(f'"{code}"' for code in ALERT_LANGUAGES)
            raise ValueError(
                f"rule {self.name!r}: language: expected one of {accepted}, got {self.language!r}"
            )
        if self.mode == "digest":
            if self.digest is None:
                raise ValueError(
                    f'rule {self.name!r}: mode = "digest" needs digest = "daily 07:00" '
                    'or a cron schedule like "0 7 * * 1-5"'
                )
            try:
                check_schedule(self.digest)
            except ValueError as e:
                raise ValueError(f"rule {self.name!r}: {e}") from None
        elif self.digest is not None:
            raise ValueError(f'rule {self.name!r}: digest is only used with mode = "digest"')
        if self.event_followup is not None and not self.channels:
            raise ValueError(f"rule {self.name!r}: event_followup needs channels to send to")
        if self.audit_digest is not None and not self.channels:
            raise ValueError(f"rule {self.name!r}: audit_digest needs channels to send to")
        if self.audit_digest is not None and len(self.name) > MAX_AUDITED_NAME:
            raise ValueError(
                f"rule {self.name!r}: audit_digest: expected a rule name of at most "
                f"{MAX_AUDITED_NAME} characters (its outbox rows are keyed NAME:misses)"
            )
        return self


def expand_terms(query: str, terms: Mapping[str, object]) -> str:
    """``query`` with each $NAME replaced by its term's text in parentheses; a term may use
    the terms defined before it."""
    known: dict[str, str] = {}
    for name, text in terms.items():
        if not _TERM_NAME.fullmatch(name):
            raise ValueError(f"terms: expected a name of letters, digits and _, got {name!r}")
        if not isinstance(text, str):
            raise ValueError(f"terms.{name}: expected a query text, got {text!r}")
        known[name] = _substitute(text, known, f"terms.{name}")
    return _substitute(query, known, "query")


def _substitute(text: str, known: Mapping[str, str], where: str) -> str:
    def written_out(use: re.Match[str]) -> str:
        name = use.group(1)
        if name not in known:
            defined = ", ".join(f"${n}" for n in known) or "none"
            raise ValueError(
                f"{where}: ${name} is not a term defined before it (defined: {defined})"
            )
        return f"({known[name]})"

    return _TERM_USE.sub(written_out, text)


def rule_named(rules: Sequence[RuleConfig], name: str) -> RuleConfig:
    """The configured rule called ``name``; the error lists the names there are, sorted."""
    for rule in rules:
        if rule.name == name:
            return rule
    known = ", ".join(sorted(r.name for r in rules)) or "none"
    raise HaitiwatchError(f"no rule named {name!r} (known: {known})")
