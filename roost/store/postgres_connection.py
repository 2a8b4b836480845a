"""A psycopg connection that speaks the embedded store's SQL, and the schema's migration.

The PostgreSQL store (:mod:`roost.store.postgres`) runs the same SQL as the SQLite store
(``queries``, ``devices``, the commit of home objects) through :class:`Connection`, which
answers the calls of sqlite3's connection that SQL makes and turns SQLite's dialect into
PostgreSQL's (:func:`dialect`); :func:`migrate` brings a database's schema up to date.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import select
import socket
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import ConnStatus, TransactionStatus

from roost.store import schema
from roost.store.base import StoreError, Unavailable

# The advisory lock key of schema migrations: one per database, so any constant does.
MIGRATION_LOCK = 0x526F6F7375

# Bounds on waiting for the database while serving (docs/scale-out.md). A URL's own
# connection parameters win over these.
BOUNDS = {
    "connect_timeout": 2,  # seconds, libpq's least
    # A database machine that vanished is found out on an idle connection too.
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # ms of unacknowledged data before the connection is dead
}
# The shared step whose schema a database of the first PostgreSQL store (version 1) has.
PRESHARED = 6
# A transaction left open by a process cut off from the database ends after this, freeing the
# slot rows its fence locked, well before their lease ends.
IDLE_IN_TRANSACTION_MS = 5000

_RECORD_EVENT = "INSERT INTO account_events (at, kind, subject, data) VALUES (?, ?, ?, ?)"
# The same, numbered through the counter's row lock (held until this transaction ends).
_NUMBERED_EVENT = ("WITH n AS (UPDATE event_counter SET seq = seq + 1 RETURNING seq) "
                   "INSERT INTO account_events (seq, at, kind, subject, data) "
                   "SELECT n.seq, ?, ?, ?, ? FROM n")


class Cursor:
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


class Connection:
    """A psycopg connection answering the sqlite3 calls of the shared SQL: ``execute`` with
    ``?`` parameters, ``lastrowid`` of the numbered tables, ``in_transaction``. In autocommit
    mode, so ``BEGIN``/``COMMIT`` are the writer's own, as with SQLite."""

    def __init__(self, url: str) -> None:
        given = conninfo_to_dict(url)
        # psycopg's own preparing is off: seeing a ROLLBACK, it deallocates every prepared
        # statement of the session, the writer's named ones too (postgres_batch).
        self._conn = psycopg.connect(url, autocommit=True, prepare_threshold=None, **{
            key: value for key, value in BOUNDS.items() if key not in given})
        self._conn.execute(f"SET idle_in_transaction_session_timeout = {IDLE_IN_TRANSACTION_MS}")
        # The writer's prepared statements (postgres_batch) are planned once: a plan made for
        # each execution's parameters chose the same plan and took a tenth of the database's
        # time per write.
        self._conn.execute("SET plan_cache_mode = force_generic_plan")
        self._closing = threading.Lock()
        # Set when the connection broke during COMMIT: whether it committed is unknown.
        self.unsure = False

    @property
    def in_transaction(self) -> bool:
        return not self.broken and self._conn.info.transaction_status != TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        return self._conn.broken or self._conn.closed

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        statement, numbered = dialect(sql)
        try:
            cursor = self._conn.execute(statement, params)  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            if not self.broken:  # a refusal of this statement, not a lost connection
                raise
            self.unsure = self.unsure or statement == "COMMIT"
            raise Unavailable(f"lost the database: {first_line(exc)}") from exc
        if numbered:
            row = cursor.fetchone()
            return Cursor(cursor, None if row is None else int(row[0]))
        return Cursor(cursor)

    @property
    def pg(self) -> psycopg.Connection[Any]:
        """The psycopg connection itself, for the writer's pipeline."""
        return self._conn

    def alive(self) -> bool:
        """Whether an idle connection still stands, without a round trip: one its peer
        closed has become readable, and reading it finds the end."""
        if self.broken:
            return False
        try:
            if select.select([self._conn.fileno()], [], [], 0)[0]:
                self._conn.pgconn.consume_input()
        except (OSError, psycopg.Error):
            return False
        return self._conn.pgconn.status == ConnStatus.OK

    def abort(self) -> None:
        """Cut the connection's socket, from any thread: a call blocked on it fails at once
        (psycopg's blocking calls wait on the socket for as long as it stays open)."""
        with self._closing, contextlib.suppress(OSError, psycopg.Error):
            if not self.broken:
                with socket.socket(fileno=os.dup(self._conn.fileno())) as sock:
                    sock.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        with self._closing:  # never while abort() holds the socket's number
            self._conn.close()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@functools.cache
def dialect(sql: str) -> tuple[str, bool]:
    """A statement of the shared SQL in PostgreSQL's words, and whether it numbers a row
    (then it returns the number, sqlite3's ``lastrowid``)."""
    statement = sql.strip()
    if statement == "BEGIN IMMEDIATE":
        return "BEGIN", False
    if statement == _RECORD_EVENT:
        statement = _NUMBERED_EVENT
    if statement.startswith("INSERT OR IGNORE "):
        statement = "INSERT " + statement[len("INSERT OR IGNORE "):] + " ON CONFLICT DO NOTHING"
    # Emails match in any case (SQLite's COLLATE NOCASE; the unique index is on lower()).
    statement = re.sub(r"\bemail = \?", "lower(email) = lower(?)", statement)
    numbered = statement.startswith(("INSERT INTO changes ", _NUMBERED_EVENT))
    if numbered:
        statement += " RETURNING seq"
    return statement.replace("%", "%%").replace("?", "%s"), numbered


def migrate(conn: Connection) -> None:
    """Bring the schema up to date (:mod:`roost.store.schema`); run inside the caller's
    transaction, one process at a time (a transaction-scoped advisory lock)."""
    conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
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
