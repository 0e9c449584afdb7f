"""``db.textnorm.valid_text`` output is stored as it is by both databases (PostgreSQL refuses
NUL and SQLite's driver refuses lone surrogates; they must never reach either)."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import Column, MetaData, Table, Text, create_engine, insert, select

from haitiwatch.db.textnorm import valid_text

ANY_CODE_POINT = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, categories=None)


def test_repaired_text_round_trips_through_the_database(db_url: str) -> None:
    engine = create_engine(db_url)
    table = Table("valid_text_probe", MetaData(), Column("value", Text))
    table.create(engine)

    @settings(
        max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(st.text(ANY_CODE_POINT, max_size=40))
    @example("bad \ud800 title\x00 \ufffe")
    def round_trip(text: str) -> None:
        repaired = valid_text(text)
        with engine.begin() as conn:
            conn.execute(table.delete())
            conn.execute(insert(table), {"value": repaired})
            assert conn.execute(select(table.c.value)).scalar_one() == repaired

    try:
        round_trip()
    finally:
        table.drop(engine)
        engine.dispose()
