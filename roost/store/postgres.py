"""The PostgreSQL store (``--db postgresql://…``): the embedded store's design on a server.

The same SQL as :mod:`roost.store.sqlite` (``queries``, ``devices`` and the commit of home
objects), spoken through :class:`_Connection`, which turns SQLite's dialect into
PostgreSQL's. And the same writer: one thread with its own connection takes the writes queued
together as one transaction (group commit), each in its own savepoint, and answers each only
after ``COMMIT`` returns, so acknowledged means committed in PostgreSQL.

First step, one process per database (``claim`` takes an advisory lock on it). What this
store does not do yet: reads run on the event loop's connection with psycopg's blocking
API (a round trip to a near database; an async reader is still to come), and it serves one
process at a time (docs/scale-out.md).

Sequence numbers: ``changes`` and ``account_events`` are numbered by PostgreSQL sequences,
which hand out numbers at insert and make them visible at commit. Readers of
``changes_since`` and ``account_events(after)`` must see them in commit order, or a reader
may skip a number committed late. With one writer connection per database that holds (the
writer commits in the order it numbers). Several writing processes will need more: read only
rows below ``pg_snapshot_xmin(pg_current_snapshot())``'s horizon, or number rows through a
row lock taken in the committing transaction (docs/scale-out.md). A rolled-back write leaves
a gap in the numbers: readers take numbers as ordered, never as consecutive.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import errors
from psycopg.pq import TransactionStatus

from roost.store import queries, schema
from roost.store.base import Duplicate, StoreError, StoreInUse
from roost.store.records import AccountEvent, User
from roost.store.sqlite import SQLiteStore

# The advisory lock key of a serving process: one per database, so any constant does.
SERVING_LOCK = 0x526F6F7374  # "Roost"
# The shared step whose schema a database of the first PostgreSQL store (version 1) has.
PRESHARED = 6

class _Cursor:
    """The part of sqlite3's cursor the shared SQL uses."""

    def __init__(self, cursor: psycopg.Cursor[Any], lastrowid: int | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self.rowcount = cursor.rowcount
        self.description = cursor.description

    def fetchone(self) -> Any:
        return self._cursor.fetchone() if self._cursor.description else None

    def fetchall(self) -> list[Any]:
        return self._cursor.fetchall() if self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self._cursor) if self._cursor.description else iter(())


class _Connection:
    """A psycopg connection answering the sqlite3 calls of the shared SQL: ``execute`` with
    ``?`` parameters, ``lastrowid`` of the numbered tables, ``in_transaction``. In autocommit
    mode, so ``BEGIN``/``COMMIT`` are the writer's own, as with SQLite."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)

    @property
    def in_transaction(self) -> bool:
        return self._conn.info.transaction_status != TransactionStatus.IDLE

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        statement, numbered = _dialect(sql)
        cursor = self._conn.execute(statement, params)  # type: ignore[arg-type]
        if numbered:
            row = cursor.fetchone()
            return _Cursor(cursor, None if row is None else int(row[0]))
        return _Cursor(cursor)

    def close(self) -> None:
        self._conn.close()


@functools.cache
def _dialect(sql: str) -> tuple[str, bool]:
    """A statement of the shared SQL in PostgreSQL's words, and whether it numbers a row
    (then it returns the number, sqlite3's ``lastrowid``)."""
    statement = sql.strip()
    if statement == "BEGIN IMMEDIATE":
        return "BEGIN", False
    if statement.startswith("INSERT OR IGNORE "):
        statement = "INSERT " + statement[len("INSERT OR IGNORE "):] + " ON CONFLICT DO NOTHING"
    # Emails match in any case (SQLite's COLLATE NOCASE; the unique index is on lower()).
    statement = re.sub(r"\bemail = \?", "lower(email) = lower(?)", statement)
    numbered = bool(re.match(r"INSERT INTO (changes|account_events) ", statement))
    if numbered:
        statement += " RETURNING seq"
    return statement.replace("%", "%%").replace("?", "%s"), numbered


def migrate(conn: _Connection) -> None:
    """Bring the schema up to date (:mod:`roost.store.schema`); run inside the caller's
    transaction, one process at a time (a transaction-scoped advisory lock)."""
    conn.execute("SELECT pg_advisory_xact_lock(?)", (SERVING_LOCK + 1,))
    conn.execute("CREATE TABLE IF NOT EXISTS roost_schema (version INTEGER NOT NULL)")
    row = conn.execute("SELECT version FROM roost_schema").fetchone()
    if row is None:
        conn.execute("INSERT INTO roost_schema (version) VALUES (0)")
        version = 0
    else:
        version = int(row[0])
    if version == 1 and conn.execute("SELECT to_regclass('devices')").fetchone()[0]:
        # The first PostgreSQL store wrote the whole schema of SQLite's six steps as one
        # step, numbered 1. Step 1 of the shared list never stays alone (each migration
        # runs to the end in one transaction), so its tables mean that schema.
        version = PRESHARED
        conn.execute("UPDATE roost_schema SET version = ?", (version,))
    if version > schema.latest():
        raise StoreError(schema.newer("the database", version))
    schema.apply(conn, "postgres", version,
                 lambda number: conn.execute("UPDATE roost_schema SET version = ?", (number,)))


class PostgresStore(SQLiteStore):
    """Roost's store in a PostgreSQL database, given by its URL."""

    dialect: schema.Dialect = "postgres"

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url
        self._claimed = False
        self._seen: tuple[int, int] | None = None

    def _connect(self) -> _Connection:  # type: ignore[override]
        try:
            return _Connection(self.url)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreError(f"cannot reach the database: {first}") from None

    def open(self) -> None:
        if self._reader is None:
            self._reader = self._connect()  # type: ignore[assignment]
            try:
                self._write_now(lambda conn, events: migrate(conn))  # type: ignore[arg-type]
            except BaseException:
                self.close()
                raise

    def claim(self) -> None:
        """A session advisory lock on the database, held by the reader's connection while
        the store is open: one serving process per database for now."""
        if self._claimed:
            return
        self.open()
        assert self._reader is not None
        (taken,) = self._reader.execute("SELECT pg_try_advisory_lock(?)",
                                        (SERVING_LOCK,)).fetchone()
        if not taken:
            raise StoreInUse("the database is already served by another Roost process")
        self._claimed = True

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()  # ends the session: the advisory lock goes with it
            self._reader = None
        self._claimed = False

    async def create_user(self, email: str, password_hash: str) -> User:
        def job(conn: Any, events: list[AccountEvent]) -> User:
            try:
                return queries.create_user(conn, email, password_hash)
            except errors.UniqueViolation:
                raise Duplicate(f"a user with email {email} already exists") from None

        return await self._write(job)

    async def data_changed(self) -> bool:
        """The newest change and account event: what another process's write the server
        must act on moves."""
        now = self._read(lambda conn: tuple(conn.execute(
            "SELECT (SELECT coalesce(max(seq), 0) FROM changes), "
            "(SELECT coalesce(max(seq), 0) FROM account_events)").fetchone()))
        changed = now != self._seen
        self._seen = now  # type: ignore[assignment]
        return changed
