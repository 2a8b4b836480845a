"""The PostgreSQL store (``--db postgresql://…``): the embedded store's design on a server.

The same SQL as :mod:`roost.store.sqlite` (``queries``, ``devices`` and the commit of home
objects), spoken through :class:`_Connection`, which turns SQLite's dialect into
PostgreSQL's. And the same writer: one thread with its own connection takes the writes queued
together as one transaction (group commit), each in its own savepoint, and answers each only
after ``COMMIT`` returns, so acknowledged means committed in PostgreSQL.

First step, one process per database (``claim`` takes an advisory lock on it, on the
writer's connection). While serving, reads run off the event loop on a few connections of
their own (:mod:`roost.store.readers`), and every wait on the database is bounded: a read or
a write the database does not answer in time is answered :class:`Unavailable` (503), its
connection cut. The writer survives losing its connection: it connects again by itself,
with backoff, takes the lock again, and settles the outcome of a batch whose ``COMMIT``
was cut off before writing anything else (docs/scale-out.md, "Losing the database").

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

import asyncio
import contextlib
import functools
import logging
import os
import queue
import re
import select
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import errors
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import ConnStatus, TransactionStatus

from roost.model.home import Change
from roost.store import queries, schema
from roost.store.base import (
    Duplicate,
    OnAccount,
    OnCommit,
    StoreError,
    StoreInUse,
    Unavailable,
)
from roost.store.readers import Readers
from roost.store.records import AccountEvent, User
from roost.store.sqlite import Job, SQLiteStore, T, _Pending

log = logging.getLogger("roost.store")

# The advisory lock key of a serving process: one per database, so any constant does.
SERVING_LOCK = 0x526F6F7374  # "Roost"

# Bounds on waiting for the database while serving (docs/scale-out.md). A URL's own
# connection parameters win over these.
BOUNDS = {
    "connect_timeout": 2,  # seconds, libpq's least
    # A database machine that vanished is found out on an idle connection too.
    "keepalives": 1, "keepalives_idle": 5, "keepalives_interval": 2, "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # ms of unacknowledged data before the connection is dead
}
READ_TIMEOUT = 5.0  # seconds a read may take, waiting for a connection included
WRITE_TIMEOUT = 5.0  # seconds a write may wait for its commit, queueing included
READERS = 4  # connections for reads
RETRY_FIRST, RETRY_MOST = 0.25, 2.0  # seconds between the writer's attempts to reconnect

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
        given = conninfo_to_dict(url)
        self._conn = psycopg.connect(url, autocommit=True, **{
            key: value for key, value in BOUNDS.items() if key not in given})
        self._closing = threading.Lock()
        # Set when the connection broke during COMMIT: whether it committed is unknown.
        self.unsure = False

    @property
    def in_transaction(self) -> bool:
        return not self.broken and self._conn.info.transaction_status != TransactionStatus.IDLE

    @property
    def broken(self) -> bool:
        return self._conn.broken or self._conn.closed

    def execute(self, sql: str, params: Sequence[Any] = ()) -> _Cursor:
        statement, numbered = _dialect(sql)
        try:
            cursor = self._conn.execute(statement, params)  # type: ignore[arg-type]
        except psycopg.OperationalError as exc:
            if not self.broken:  # a refusal of this statement, not a lost connection
                raise
            self.unsure = self.unsure or statement == "COMMIT"
            raise Unavailable(f"lost the database: {_first_line(exc)}") from exc
        if numbered:
            row = cursor.fetchone()
            return _Cursor(cursor, None if row is None else int(row[0]))
        return _Cursor(cursor)

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


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


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
        self._readers: Readers[_Connection] | None = None
        # The writer's connection, holding the serving lock; replaced (under _swap) by the
        # writer thread when it breaks, cut by the event loop when a write waits too long.
        self._writing: _Connection | None = None
        self._swap = threading.Lock()
        self._backend: int | None = None  # the server process of the session holding the lock
        self._retry_at = 0.0
        self._retry_in = RETRY_FIRST
        self._down = "the database cannot be reached"  # why writes are refused while down
        self._lost = False  # another process took the lock: this one never writes again
        self._unsure: list[_Pending] = []  # the batch whose COMMIT was cut off

    def _connect(self) -> _Connection:  # type: ignore[override]
        try:
            return _Connection(self.url)
        except psycopg.OperationalError as exc:
            raise Unavailable(f"cannot reach the database: {_first_line(exc)}") from None

    def open(self) -> None:
        if self._reader is None:
            self._reader = self._connect()  # type: ignore[assignment]
            try:
                self._write_now(lambda conn, events: migrate(conn))  # type: ignore[arg-type]
            except BaseException:
                self.close()
                raise

    def claim(self) -> None:
        """A session advisory lock on the database, held by the writer's connection while
        the store is open: one serving process per database for now. Held by the connection
        that commits, so a process whose session ended, and with it the lock, cannot commit
        until it has taken the lock again."""
        if self._claimed:
            return
        self.open()
        conn = self._connect()
        if not self._take_lock(conn):
            conn.close()
            raise StoreInUse("the database is already served by another Roost process")
        self._writing = conn
        self._claimed = True

    def _take_lock(self, conn: _Connection) -> bool:
        """Take the serving lock on ``conn``. Held by this process's own earlier session (cut
        off, and the server has not noticed yet), that session is ended first: then whatever
        it was committing has been committed or never will be."""
        for _ in range(20):
            taken, backend = conn.execute("SELECT pg_try_advisory_lock(?), pg_backend_pid()",
                                          (SERVING_LOCK,)).fetchone()
            if taken:
                self._backend = backend
                return True
            holder = conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database "
                "= (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND classid = ?::bigint::oid AND objid = ?::bigint::oid AND objsubid = 1",
                (SERVING_LOCK >> 32, SERVING_LOCK & 0xFFFFFFFF)).fetchone()
            if holder is not None:
                if holder[0] != self._backend:
                    return False  # another process serves the database
                conn.execute("SELECT pg_terminate_backend(?)", (holder[0],))
            time.sleep(0.1)  # the old session is ending
        return False

    async def start(self, on_commit: OnCommit,
                    on_account: OnAccount = lambda event: None) -> None:
        self._readers = Readers(self._connect, READERS, READ_TIMEOUT)
        await super().start(on_commit, on_account)

    async def stop(self) -> None:
        thread = self._thread
        if thread is not None:
            self._queue.put(None)
            await asyncio.to_thread(thread.join, WRITE_TIMEOUT)
            if thread.is_alive():  # stuck on a database that stopped answering
                self._cut_writer()
            await asyncio.to_thread(thread.join)
            self._thread = None

    def close(self) -> None:
        if self._readers is not None:
            self._readers.close()
            self._readers = None
        with self._swap:
            if self._writing is not None:
                self._writing.close()  # ends the session: the advisory lock goes with it
                self._writing = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        self._claimed = False

    # -- reads and writes while serving ------------------------------------------------------

    async def _read(self, job: Job[T]) -> T:
        if self._readers is None:  # not serving: the command line's own connection
            return self._read_now(job)
        return await self._readers.run(job)

    async def _submit(self, pending: _Pending) -> Any:
        self._queue.put(pending)
        try:
            return await asyncio.wait_for(asyncio.shield(pending.future), WRITE_TIMEOUT)
        except TimeoutError:
            # The writer is stuck on a database that stopped answering: cut its connection,
            # so that it fails this batch and connects again for the next.
            pending.future.cancel()
            self._cut_writer()
            raise Unavailable("the database did not answer in time") from None

    def _cut_writer(self) -> None:
        with self._swap:
            if self._writing is not None:
                self._writing.abort()

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
        now = await self._read(lambda conn: tuple(conn.execute(
            "SELECT (SELECT coalesce(max(seq), 0) FROM changes), "
            "(SELECT coalesce(max(seq), 0) FROM account_events)").fetchone()))
        changed = now != self._seen
        self._seen = now  # type: ignore[assignment]
        return changed

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        """SQLite's writer loop, on a connection that may break: a batch that finds no
        connection is refused at once (Unavailable), and the next batch connects again."""
        try:
            while True:
                try:
                    first = self._queue.get(timeout=RETRY_MOST)
                except queue.Empty:
                    # Idle: look at the connection, and connect again if it was lost, not
                    # only when a write comes: the lock is taken back and a cut-off batch
                    # settled before anyone looks.
                    self._connection()
                    continue
                if first is None:
                    return
                batch, stop = self._gather(first)
                # A write whose caller gave up waiting is not run: it was answered 503.
                batch = [item for item in batch if not item.future.cancelled()]
                conn = self._connection()
                if conn is None:
                    for item in batch:
                        item.error = Unavailable(self._down)
                elif batch:
                    self._run_batch(conn, batch)  # type: ignore[arg-type]
                    if conn.broken:
                        self._lost_connection(conn, batch)
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._finish, batch)
                if stop:
                    return
        finally:
            with self._swap:
                if self._writing is not None:
                    self._writing.close()
                    self._writing = None

    def _lost_connection(self, conn: _Connection, batch: list[_Pending]) -> None:
        log.warning("lost the database while writing: %d write(s) answered 503%s", len(batch),
                    "; whether they were committed is settled when it is back"
                    if conn.unsure else "")
        if conn.unsure:
            self._unsure = batch
        self._retry_at = 0.0  # the next batch tries at once

    def _connection(self) -> _Connection | None:
        """The writer's connection, holding the lock; a new one if it broke and it is time to
        try again (backoff); None while the database cannot be reached, or is another's."""
        if self._lost:
            return None
        if self._writing is not None and self._writing.alive():
            return self._writing
        with self._swap:
            if self._writing is not None:
                self._writing.close()
                self._writing = None
        if time.monotonic() < self._retry_at:
            return None
        try:
            conn = self._connect()
            try:
                if not self._take_lock(conn):
                    self._lost = True
                    self._down = "the database is served by another Roost process now"
                    log.error("the database is served by another Roost process now: this "
                              "process took it before losing its connection and answers every "
                              "write 503 from now on; stop it, or stop the other")
                    conn.close()
                    return None
                self._settle(conn)
            except BaseException:
                conn.close()
                raise
        except Exception as exc:  # whatever it is, the writer thread goes on
            if not isinstance(exc, Unavailable):
                log.exception("connecting the writer to the database failed")
            self._down = str(exc)
            self._retry_at = time.monotonic() + self._retry_in
            self._retry_in = min(self._retry_in * 2, RETRY_MOST)
            return None
        self._retry_in = RETRY_FIRST
        with self._swap:
            self._writing = conn
        log.warning("connected to the database again")
        return conn

    def _settle(self, conn: _Connection) -> None:
        """Whether the batch whose COMMIT was cut off was committed (its lock is held again,
        so its old session is over and the answer final): if it was, its changes and account
        events are published now, before anything else is written, as if answered late (its
        writers were answered 503). If not, nothing of it is shown: the home never took it."""
        batch = self._unsure
        changes = [item.result.seq for item in batch if isinstance(item.result, Change)]
        events = [event.seq for item in batch for event in item.events]
        if not changes and not events:
            self._unsure = []
            return  # nothing of it is held in memory
        (committed,) = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM changes WHERE seq = ANY(?)) "
            "OR EXISTS (SELECT 1 FROM account_events WHERE seq = ANY(?))",
            (changes, events)).fetchone()
        self._unsure = []  # settled: kept until here, for the next try if this one failed
        log.warning("the writes whose commit was cut off were %s", "committed" if committed
                    else "not committed")
        if committed:  # the writes that had run before the cut, not the ones refused
            done = [item for item in batch
                    if item.objects is None or isinstance(item.result, Change)]
            for item in done:
                item.error = None
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._finish, done)
