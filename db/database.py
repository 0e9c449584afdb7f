"""Engines and migrations. SQLite gets WAL, a busy timeout and foreign keys on every connection."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar, TypeVarTuple

from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Connection,
    Engine,
    Row,
    Select,
    String,
    Table,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import QueryableAttribute, Session
from sqlalchemy.pool import ConnectionPoolEntry

from haitiwatch.db.errors import StorageError

MIGRATIONS = Path(__file__).with_name("migrations")


#: Execution option that makes a SQLite transaction take the write lock at BEGIN.
WRITE_OPTION = "haitiwatch_write"
#: Execution option of work that is one statement, atomic on its own: no BEGIN and COMMIT
#: round trips around it (``one_statement``).
ONE_STATEMENT_OPTION = "haitiwatch_one_statement"


#: WAL pages (4 KiB each) between automatic checkpoints (SQLite's default: 1,000).
WAL_AUTOCHECKPOINT_PAGES = 10_000
WAL_SIZE_LIMIT_BYTES = 64 * 1024 * 1024
#: SQLite's page cache per connection, KiB (SQLite's default is 2 MiB). Ingest inserts at
#: random places in the story-band, article-key and full-text indexes; with 2 MiB a write
#: transaction evicted pages and read them back.
CACHE_KIB = 8 * 1024

T = TypeVar("T")


class _HasId(Protocol):
    @property
    def id(self) -> int: ...


Keyed = TypeVar("Keyed", bound=_HasId)
Columns = TypeVarTuple("Columns")


def in_id_batches(
    read: Callable[[], Session],
    stmt: Select[*Columns],
    id_column: QueryableAttribute[int],
    make: Callable[[Session, Sequence[Row[*Columns]]], list[Keyed]],
    batch_size: int = 500,
) -> Iterator[Keyed]:
    """``stmt``'s rows in ``id_column`` order, made into items ``batch_size`` at a time.

    Keyset paging (each batch starts after the last id, in a session of its own): memory stays
    constant and no session stays open while the caller works on a batch."""
    last_id = 0
    while True:
        with read() as session:
            page = stmt.where(id_column > last_id).order_by(id_column).limit(batch_size)
            batch = make(session, session.execute(page).all())
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


def one_of(
    session: Session, column: ColumnElement[T] | QueryableAttribute[T], values: Iterable[T]
) -> ColumnElement[bool]:
    """``column IN values``, with every value in one bound parameter: a JSON array that
    SQLite reads with ``json_each``, an array that PostgreSQL compares with ``= ANY``. Both
    look each value up in ``column``'s index, as for an IN list.

    An IN list has one placeholder per value, which SQLAlchemy renders and binds at every
    execution, and one SQL text per length, each a prepared statement SQLite keeps (up to 128
    a connection, large with many values) in the long-lived service. Here the SQL
    text is always the same and compiled once, and there is no limit on the number of values
    to chunk around (figures: benchmarks/README.md).
    """
    items = list(values)
    element = column if isinstance(column, ColumnElement) else column.expression
    if session.get_bind().dialect.name == "postgresql":
        return element == any_(bindparam(None, items, type_=ARRAY(element.type), unique=True))
    listed = json.dumps(items, ensure_ascii=False)
    rows = func.json_each(bindparam(None, listed, type_=String(), unique=True))
    return element.in_(select(rows.table_valued("value").c.value))


def insert_rows(
    connection: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert many rows of plain values (already in the columns' database form) with the
    driver's executemany.

    ``session.execute(insert(table), dicts)`` builds and type-processes a parameter dict for
    every row; for index tables that get dozens of small rows per article, that per-row work
    in Python costs more than SQLite's own insert. Only for columns that need no conversion
    (numbers, strings), or values converted once by the caller (``bind_value``).
    """
    if not rows:
        return
    marker = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    names = ", ".join(connection.dialect.identifier_preparer.quote(c) for c in columns)
    # Only identifiers, quoted by the dialect, are formatted in; every value is bound.
    sql = (
        f"INSERT INTO {connection.dialect.identifier_preparer.format_table(table)} ({names}) "  # noqa: S608
        f"VALUES ({', '.join([marker] * len(columns))})"
    )
    connection.exec_driver_sql(sql, [tuple(row) for row in rows])


def insert_returning_ids(
    connection: Connection, table: Table, rows: Sequence[dict[str, Any]]
) -> list[int]:
    """Insert ``rows`` into ``table`` (integer primary key ``id``); their ids, in row order."""
    if not rows:
        return []
    returning = insert(table).returning(table.c.id, sort_by_parameter_order=True)
    return list(connection.scalars(returning, list(rows)))


def dialect_insert(session: Session) -> Any:
    """The session's dialect's ``insert`` (with ON CONFLICT ...). Imported on use: a SQLite
    process need not import the PostgreSQL dialect."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert


def bind_value(connection: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` as the driver receives it for ``column`` (its type's bind processing)."""
    processor = column.type.dialect_impl(connection.dialect).bind_processor(connection.dialect)
    return processor(value) if processor is not None else value


def _sqlite_pragmas(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's own BEGIN is deferred).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable with WAL except on power loss
    # Checkpoint every ~40 MB of WAL instead of SQLite's 4 MB. Ingest dirties pages all over
    # the random-keyed indexes (story bands, article keys): at 4 MB nearly every feed's commit
    # ran a checkpoint with two fsyncs, and the same pages were copied back again and again
    # (figures: benchmarks/README.md). The WAL file is
    # cut back to 64 MB after a checkpoint if a long transaction grew it beyond.
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.execute(f"PRAGMA journal_size_limit={WAL_SIZE_LIMIT_BYTES}")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
    # Each source of a group commit has its savepoint, and SQLite first copies every page a
    # savepoint changes into a statement journal: in memory rather than a temporary file.
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


def create_db_engine(url: str) -> Engine:
    """An engine for ``url``, with SQLite's pragmas set on every connection."""
    try:
        parsed = make_url(url)
    except ArgumentError as e:
        raise StorageError(f"database.url: not a database URL: {e}") from e
    if parsed.drivername.startswith("postgresql") and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    kwargs: dict[str, Any] = {"future": True}
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    else:
        kwargs.update(pool_pre_ping=True, pool_size=5, max_overflow=5)
    try:
        engine = create_engine(parsed, **kwargs)
    except (ArgumentError, ImportError) as e:
        raise StorageError(f"database.url: cannot use {parsed.drivername}: {e}") from e
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def one_statement(engine: Engine) -> Engine:
    """``engine`` for work that is a single statement: each statement commits on its own
    (PostgreSQL's autocommit; SQLite without BEGIN). A poll's claim and its end are one
    statement each: a transaction around each would only add a BEGIN and a COMMIT."""
    if engine.dialect.name == "sqlite":
        return engine.execution_options(**{ONE_STATEMENT_OPTION: True})
    return engine.execution_options(isolation_level="AUTOCOMMIT", **{ONE_STATEMENT_OPTION: True})


def _sqlite_begin(connection: Connection) -> None:
    """Writers BEGIN IMMEDIATE: a deferred transaction that reads, then writes, fails at once
    with "database is locked" when another process wrote meanwhile (WAL snapshot); IMMEDIATE
    waits for the lock (busy_timeout) instead. One statement needs no BEGIN: SQLite makes it
    its own transaction (the connection has no pysqlite BEGIN: ``_sqlite_pragmas``)."""
    options = connection.get_execution_options()
    if options.get(ONE_STATEMENT_OPTION):
        return
    connection.exec_driver_sql("BEGIN IMMEDIATE" if options.get(WRITE_OPTION) else "BEGIN")


#: pg_advisory_xact_lock key held while migrating (any constant would do).
MIGRATE_LOCK = 0x6877_6D6967


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (idempotent; run on every start)."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    try:
        # Processes starting together (cluster workers) must not migrate at once: the loser
        # of a CREATE TABLE race fails. One migrates, the others wait, then find it done.
        with engine.execution_options(**{WRITE_OPTION: True}).begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATE_LOCK}
                )
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, "head")
    except OperationalError as e:
        raise StorageError(f"cannot open database {engine.url!r}: {e.orig}") from e
    except SQLAlchemyError as e:
        raise StorageError(f"cannot migrate database {engine.url!r}: {e}") from e
