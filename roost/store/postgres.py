"""The PostgreSQL store (``--db postgresql://…``): the embedded store's design on a server.

The same SQL as :mod:`roost.store.sqlite` (``queries``, ``devices`` and the commit of home
objects), spoken through :mod:`roost.store.postgres_connection`, which turns SQLite's
dialect into PostgreSQL's. And the same writer: one thread with its own connection takes the
writes queued together as one transaction (group commit) and answers each only after
``COMMIT`` returns, so acknowledged means committed in PostgreSQL. A batch of writes to the
home goes in one round trip (pipeline mode, :mod:`roost.store.postgres_batch`); any other,
each job in its own savepoint.

Several serving processes share one database: each serves the homes of the slots it holds a
lease on (:mod:`roost.store.leases`, docs/scale-out.md), and every commit of home objects
re-checks in its own transaction that their slots are still this process's (the fence in
:meth:`PostgresStore.commit`). While serving, reads run off the event loop on a few
connections of their own (:mod:`roost.store.readers`), and every wait on the database is
bounded: a read or a write the database does not answer in time is answered
:class:`Unavailable` (503), its connection cut. The writer survives losing its connection:
it connects again by itself, with backoff, and settles the outcome of a batch whose
``COMMIT`` was cut off before writing anything else (docs/scale-out.md, "Losing the
database").

Sequence numbers: ``changes`` are numbered by a PostgreSQL sequence, which hands out numbers
at insert and makes them visible at commit, so with several writers they may become visible
out of order; nothing reads them across processes (each process learns of its own homes'
changes as it commits them). ``account_events`` are read across processes and must be read
in commit order: they are numbered through the one-row ``event_counter``, updated in the
transaction that records the event, so its row lock makes each number wait for the commit of
the one before and ``account_events(after)`` never skips one. A rolled-back write leaves a gap
in the numbers: readers take numbers as ordered, never as consecutive.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import errors

from roost.model.home import Change, Obj
from roost.store import postgres_batch, queries, schema, slots
from roost.store.base import (
    Duplicate,
    Fenced,
    LeaseTiming,
    OnAccount,
    OnCommit,
    Ownership,
    StoreInUse,
    Unavailable,
)
from roost.store.leases import Leases
from roost.store.postgres_connection import Connection, first_line, migrate
from roost.store.readers import Readers
from roost.store.records import AccountEvent, User
from roost.store.sqlite import Job, SQLiteStore, T, _Pending

log = logging.getLogger("roost.store")

READ_TIMEOUT = 5.0  # seconds a read may take, waiting for a connection included
WRITE_TIMEOUT = 5.0  # seconds a write may wait for its commit, queueing included
READERS = 4  # connections for reads
RETRY_FIRST, RETRY_MOST = 0.25, 2.0  # seconds between the writer's attempts to reconnect

_FENCE = postgres_batch.FENCE.format("?", "?", "?")


class PostgresStore(SQLiteStore):
    """Roost's store in a PostgreSQL database, given by its URL."""

    dialect: schema.Dialect = "postgres"
    # A sequence promises no run of consecutive numbers to one statement's rows, and the
    # batches of home writes go by postgres_batch: the rare other way is a savepoint each.
    together = False

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.url = url
        self.ownership: Leases | None = None
        self._seen: int | None = None
        self._follower: psycopg.AsyncConnection[Any] | None = None
        self._readers: Readers[Connection] | None = None
        # The writer's connection; replaced (under _swap) by the writer thread when it
        # breaks, cut by the event loop when a write waits too long.
        self._writing: Connection | None = None
        self._swap = threading.Lock()
        self._backend: int | None = None  # the server process of the writer's session
        self._retry_at = 0.0
        self._retry_in = RETRY_FIRST
        self._down = "the database cannot be reached"  # why writes are refused while down
        self._unsure: list[_Pending] = []  # the batch whose COMMIT was cut off
        self._fenced: set[_Pending] = set()  # commits behind a fence, until answered

    def _connect(self) -> Connection:  # type: ignore[override]
        try:
            return Connection(self.url)
        except psycopg.OperationalError as exc:
            raise Unavailable(f"cannot reach the database: {first_line(exc)}") from None

    def open(self) -> None:
        if self._reader is None:
            self._reader = self._connect()  # type: ignore[assignment]
            try:
                self._write_now(lambda conn, events: migrate(conn))  # type: ignore[arg-type]
            except BaseException:
                self.close()
                raise

    def claim(self) -> None:
        """Serving processes share the database (:meth:`join`); what needs it whole (``roost
        db copy``) is refused while a server is a live member."""
        if self.ownership is not None:
            return
        self.open()
        assert self._reader is not None
        (live,) = self._reader.execute(
            "SELECT count(*) FROM members WHERE seen > now() - interval '10 seconds'"
        ).fetchone()
        if live:
            raise StoreInUse("the database is already served by a Roost process")

    def join(self, url: str, timing: LeaseTiming) -> Ownership:
        self.ownership = Leases(self.url, url, timing, self._fence_out)
        return self.ownership

    async def commit(self, objects: Iterable[Obj]) -> Change:
        """Commit behind the fence: Fenced (nothing written) if one of the objects' slots is
        no longer this process's at the epoch it was taken at (checked in :meth:`_begin`, in
        the committing transaction). Fenced at once, never acknowledged, if its slots are
        lost while it waits (this process cut off from the database, say): should it still
        commit, the fence proved the slots were this process's in that transaction."""
        objs = tuple(objects)
        if self.ownership is None:
            return await super().commit(objs)
        held = self.ownership.held
        chosen = {slots.slot_of(o.user_id) for o in objs}
        if not chosen <= held.keys():
            raise Fenced(chosen - held.keys())
        pending = _Pending(None, self._new_future(), objs,
                           fence=frozenset((s, held[s]) for s in chosen))
        self._fenced.add(pending)
        try:
            return await self._submit(pending)
        finally:
            self._fenced.discard(pending)

    def _fence_out(self, lost: frozenset[int]) -> None:
        """Slots are no longer this process's: its commits waiting on them end (Fenced)."""
        for pending in self._fenced:
            gone = frozenset(slot for slot, _ in pending.fence) & lost
            if gone and not pending.future.done():
                pending.future.set_exception(Fenced(gone))

    def _fence(self, batch: list[_Pending]) -> postgres_batch.Fence | None:
        wanted = sorted(frozenset().union(*(item.fence for item in batch)))
        if not wanted or self.ownership is None:
            return None
        return self.ownership.owner, [s for s, _ in wanted], [e for _, e in wanted]

    def _begin(self, conn: Any, batch: list[_Pending]) -> list[_Pending]:
        """Begin the batch's transaction and take the fence of all its commits at once: the
        slots' row locks, held to the end of the transaction, keep a takeover waiting until
        it has ended. A commit whose slot moved is refused (Fenced) and left out."""
        conn.execute("BEGIN")
        fence = self._fence(batch)
        if fence is None:
            return batch
        kept = set(map(tuple, conn.execute(_FENCE, fence).fetchall()))
        running = []
        for item in batch:
            if item.fence <= kept:
                running.append(item)
            else:
                item.error = Fenced(slot for slot, _ in item.fence - kept)
        return running

    def _run_batch(self, conn: Any, batch: list[_Pending]) -> None:
        """A batch of writes to the home in one round trip (``postgres_batch``); any other
        batch, or one whose pipeline failed, one savepoint per write as in SQLite."""
        if postgres_batch.pipelines(batch):
            try:
                postgres_batch.run(conn.pg, batch, self._fence(batch))
                return
            except Exception:  # nothing committed: each write's own checks tell which failed
                if conn.broken:
                    # The connection broke with the batch perhaps committing; its change
                    # numbers never came back (_settle reads the objects instead).
                    conn.unsure = True
                    for item in batch:
                        item.result = None
                        item.error = Unavailable("lost the database")
                    return
                for item in batch:
                    item.error = None
        super()._run_batch(conn, batch)

    def _end_old_session(self, conn: Connection) -> None:
        """End the writer's previous session, if the database still runs it (cut off, and the
        server has not noticed yet), and wait until it is gone: then whatever it was
        committing has been committed or never will be. ``conn``'s session becomes the one
        to end next time."""
        if self._backend is not None:
            conn.execute("SELECT pg_terminate_backend(?)", (self._backend,))
            for _ in range(50):
                if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = ?)",
                                (self._backend,)).fetchone()[0]:
                    break
                time.sleep(0.1)
            else:
                raise Unavailable("the writer's previous database session did not end")
        (self._backend,) = conn.execute("SELECT pg_backend_pid()").fetchone()

    async def start(self, on_commit: OnCommit,
                    on_account: OnAccount = lambda event: None) -> None:
        self._readers = Readers(self._connect, READERS, READ_TIMEOUT)
        await super().start(on_commit, on_account)

    async def stop(self) -> None:
        thread = self._thread
        if thread is not None:
            self._flush()
            self._queue.put(None)
            await asyncio.to_thread(thread.join, WRITE_TIMEOUT)
            if thread.is_alive():  # stuck on a database that stopped answering
                self._cut_writer()
            await asyncio.to_thread(thread.join)
            self._thread = None
        if self._follower is not None:
            await self._follower.close()
            self._follower = None

    def close(self) -> None:
        if self._readers is not None:
            self._readers.close()
            self._readers = None
        with self._swap:
            if self._writing is not None:
                self._writing.close()
                self._writing = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- reads and writes while serving ------------------------------------------------------

    async def _read(self, job: Job[T]) -> T:
        if self._readers is None:  # not serving: the command line's own connection
            return self._read_now(job)
        return await self._readers.run(job)

    async def _submit(self, pending: _Pending) -> Any:
        self._hold(pending)
        assert self._loop is not None
        # A timer, not asyncio.wait_for: that cost more of the loop per write than the rest
        # of waiting for it. Shielded: a caller that goes away does not undo its write.
        late = self._loop.call_later(WRITE_TIMEOUT, self._too_late, pending)
        try:
            return await asyncio.shield(pending.future)
        finally:
            late.cancel()

    def _too_late(self, pending: _Pending) -> None:
        """The writer is stuck on a database that stopped answering: answer the write 503 (if
        the writer has not taken it yet, it never will) and cut the writer's connection, so
        that it fails its batch and connects again for the next."""
        if not pending.future.done():
            pending.future.set_exception(Unavailable("the database did not answer in time"))
            self._cut_writer()

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
        """The account events' counter moved: another process (or this one) recorded one."""
        (now,) = await self._follow("SELECT seq FROM event_counter") or [(0,)]
        changed = now != self._seen
        self._seen = now
        return changed

    async def account_events(self, after: int) -> list[AccountEvent]:
        return queries.events_from(await self._follow(
            queries.ACCOUNT_EVENTS.replace("?", "%s"), (after,)))

    async def _follow(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """A read of the server's loop that follows other processes, on an async connection
        of its own: cut off from the database, it waits without holding the loop up."""
        try:
            if self._follower is None or self._follower.closed:
                self._follower = await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=2)
            return await (await self._follower.execute(sql, params)).fetchall()  # type: ignore[arg-type]
        except psycopg.Error as exc:
            conn, self._follower = self._follower, None
            if conn is not None:
                await conn.close()
            if isinstance(exc, psycopg.OperationalError):  # the database, not the statement
                raise Unavailable(f"cannot reach the database: {first_line(exc)}") from None
            raise

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
                    # only when a write comes: a cut-off batch is settled before anyone
                    # looks.
                    self._connection()
                    continue
                if first is None:
                    return
                batch, stop = self._gather(first)
                # A write answered 503 for waiting too long is not run.
                batch = [item for item in batch if not item.future.done()]
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

    def _lost_connection(self, conn: Connection, batch: list[_Pending]) -> None:
        log.warning("lost the database while writing: %d write(s) answered 503%s", len(batch),
                    "; whether they were committed is settled when it is back"
                    if conn.unsure else "")
        if conn.unsure:
            self._unsure = batch
        self._retry_at = 0.0  # the next batch tries at once

    def _connection(self) -> Connection | None:
        """The writer's connection; a new one if it broke and it is time to try again
        (backoff); None while the database cannot be reached."""
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
                again = self._backend is not None
                self._end_old_session(conn)
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
        if again:
            log.warning("connected to the database again")
        return conn

    def _settle(self, conn: Connection) -> None:
        """Whether the batch whose COMMIT was cut off was committed (its old session has
        been ended, so the answer is final): if it was, its changes and account
        events are published now, before anything else is written, as if answered late (its
        writers were answered 503). If not, nothing of it is shown: the home never took it."""
        batch = self._unsure
        if batch and postgres_batch.pipelines(batch) and batch[0].result is None:
            self._settle_pipelined(conn, batch)
            return
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

    def _settle_pipelined(self, conn: Connection, batch: list[_Pending]) -> None:
        """:meth:`_settle` of a pipelined batch, one transaction whose change numbers never
        came back: committed if the last object it wrote is stored as it wrote it (only
        this process writes its slots' objects; should the slot have moved meanwhile, the
        home leaves this process anyway). The last: a later write of the batch may have
        written an earlier one's object again."""
        last = next(o for item in reversed(batch) for o in reversed(item.objects or ()))
        row = conn.execute("SELECT version FROM objects WHERE kind = ? AND id = ?",
                           (last.kind, last.id)).fetchone()
        committed = row is None if last.deleted else (row is not None and
                                                        row[0] == last.version)
        self._unsure = []
        log.warning("the writes whose commit was cut off were %s", "committed" if committed
                    else "not committed")
        if committed:
            (seq,) = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()
            for item in batch:
                assert item.objects is not None
                item.result, item.error = Change(int(seq), item.objects), None
            assert self._loop is not None
            self._loop.call_soon_threadsafe(self._finish, batch)
