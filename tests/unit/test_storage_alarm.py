"""When the operator hears that storage refuses writes: at the first refused write, once,
and again only when every source refused has stored a poll since."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from haitiwatch.scheduler.storage_alarm import AlarmChange, StorageAlarm

#: (source, refused, stored): a poll's end as the Poller sees it.
polls = st.lists(
    st.tuples(
        st.sampled_from(["news", "other", "third"]),
        st.one_of(st.none(), st.just("database or disk is full")),
        st.booleans(),
    ),
    max_size=40,
)


def test_one_alert_while_any_source_is_refused_though_others_store() -> None:
    alarm = StorageAlarm()
    full = "database or disk is full"
    assert alarm.after_poll("news", full, stored=True) is AlarmChange.RAISE
    assert alarm.after_poll("other", None, stored=True) is None  # small polls still fit
    assert alarm.after_poll("news", full, stored=True) is None
    assert alarm.after_poll("news", None, stored=False) is None  # crashed: tells nothing
    assert alarm.after_poll("news", None, stored=True) is AlarmChange.CLEAR
    assert alarm.after_poll("other", None, stored=True) is None


@given(polls)
def test_alerts_alternate_and_follow_the_latest_poll_of_each_source(
    events: list[tuple[str, str | None, bool]],
) -> None:
    alarm = StorageAlarm()
    told: list[AlarmChange] = []
    latest: dict[str, bool] = {}  # source -> its latest telling poll was refused
    for source, refused, stored in events:
        change = alarm.after_poll(source, refused, stored)
        if change is not None:
            told.append(change)
        if refused is not None or stored:
            latest[source] = refused is not None
    assert told == [AlarmChange.RAISE, AlarmChange.CLEAR] * (len(told) // 2) + (
        [AlarmChange.RAISE] if len(told) % 2 else []
    )
    assert alarm.raised == any(latest.values()) == (len(told) % 2 == 1)
