"""Which alerted events are due a follow-up (crawler/event_followups.py, pure), and how a
webhook tells one from an alert."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.crawler.event_followups import due_followups, gained_coverage, summarise
from haitiwatch.db.alerts import FOLLOWUP, Alert
from haitiwatch.db.event_followups import AlertedEvent, DueFollowup, EventReport
from haitiwatch.scheduler.notify import Notifier
from haitiwatch.scheduler.webhook import webhook_payload

ALERTED = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
QUIET = {"mission": timedelta(hours=2)}


def seen(n: int, outlet: str, language: str | None, minutes: int) -> EventReport:
    at = ALERTED + timedelta(minutes=minutes)
    return EventReport(n, f"title {n}", f"https://{outlet}.example/{n}", outlet, language, at)


def event(*reports: EventReport, rule: str = "mission") -> AlertedEvent:
    return AlertedEvent(rule, "desk", 7, 1, ALERTED, (seen(1, "wire", "en", 0), *reports))


def test_due_once_quiet_after_new_outlets_and_not_before() -> None:
    grown = event(seen(2, "lenouvelliste", "fr", 10), seen(3, "daily", "en", 30))
    quiet_from = ALERTED + timedelta(minutes=30) + QUIET["mission"]
    assert due_followups([grown], QUIET, quiet_from - timedelta(seconds=1)) == []
    assert due_followups([grown], QUIET, quiet_from) == [DueFollowup("mission", "desk", 7, 1)]
    summary = summarise(grown)
    assert (summary.new_outlets, summary.languages) == (2, 2)
    assert [r.article_id for r in summary.added] == [2, 3]


def test_not_due_without_new_coverage_or_without_the_option() -> None:
    later = ALERTED + timedelta(days=1)
    same_outlet_again = event(seen(2, "wire", "en", 10))
    assert due_followups([same_outlet_again], QUIET, later) == []
    assert due_followups([event()], QUIET, later) == []
    other_rule = event(seen(2, "daily", "en", 10), rule="gangs")
    assert due_followups([other_rule], QUIET, later) == []
    # A new language from an outlet already counted is news.
    assert gained_coverage(event(seen(2, "wire", "fr", 10)))


reports = st.lists(
    st.tuples(
        st.sampled_from(["wire", "daily", "lenouvelliste"]),
        st.sampled_from(["en", "fr", None]),
        st.integers(min_value=-60, max_value=600),
    ),
    max_size=8,
)


@given(reports, st.integers(min_value=0, max_value=2000))
def test_due_exactly_when_gained_and_quiet(
    found: list[tuple[str, str | None, int]], minutes: int
) -> None:
    alerted = event(*(seen(n + 2, o, lang, m) for n, (o, lang, m) in enumerate(found)))
    now = ALERTED + timedelta(minutes=minutes)
    due = due_followups([alerted], QUIET, now)
    before = [(o, lang) for o, lang, m in found if m <= 0] + [("wire", "en")]
    after = [(o, lang) for o, lang, m in found if m > 0]
    gained = any(
        o not in {b[0] for b in before} or lang not in {b[1] for b in before} for o, lang in after
    )
    last = max([0, *(m for _, _, m in found)])
    assert bool(due) == (gained and minutes >= last + 120)


def test_a_webhook_tells_a_followup_from_an_alert() -> None:
    alert = Alert(
        id=1, rule="mission", channel="hook", mode=FOLLOWUP, status="sending", attempts=1,
        created_at=ALERTED, next_attempt_at=ALERTED, sent_at=None, last_error=None, targets={},
        article_id=1, title="Vote", url="https://wire.example/1", outlet="wire",
        published=None, first_seen=ALERTED, language="en", text="", story_id=1, event_id=7,
    )  # fmt: skip
    notifier = Notifier({"hook": None})
    assert webhook_payload([alert], notifier, "hook", ALERTED)["kind"] == "followup"
    immediate = replace(alert, mode="immediate")
    assert webhook_payload([immediate], notifier, "hook", ALERTED)["kind"] == "alert"
