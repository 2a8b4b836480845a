"""The embedded store: one SQLite file in WAL mode with a single writer thread.

Durability: ``synchronous=FULL`` by default, so an acknowledged write survives power loss as
well as a crash; group commit keeps that affordable by syncing many writes at once.

Writes are *jobs* (functions of a connection) run on the writer: concurrent ones (those
queued within a few rounds of the event loop) share one transaction, each in its own
savepoint so one failing job does not fail its neighbours, and each is answered only after
``COMMIT`` returns. Reads run on the event loop's own connection: a local file answers in
microseconds. Before the writer starts (start-up, the command line) a job runs in its own
transaction at once.

One server process serves a file (``claim``): two would each keep the home in memory and
drift apart. The command line still writes it beside a server; the server learns of its
account changes through ``data_changed`` and the account events.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import operator
import os
import queue
import sqlite3
import threading
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from roost.model.compact import Sharing
from roost.model.home import Change, Obj
from roost.store import devices as device_sql
from roost.store import queries, schema
from roost.store.base import Conflict, Duplicate, OnAccount, OnCommit, Store, StoreInUse
from roost.store.records import (
    AccountEvent,
    ChangeEntry,
    Client,
    Code,
    DeviceRecord,
    Grant,
    LiveToken,
    TokenInfo,
    User,
    WebSession,
)

T = TypeVar("T")
Job = Callable[[sqlite3.Connection], T]
AccountJob = Callable[[sqlite3.Connection, list[AccountEvent]], T]
BATCH = 512  # jobs per transaction at most
HOLD = 3  # rounds of the event loop a job is held at most for more to join it (_hold)
KEEP_CHANGES = 10_000  # change rows kept for catching up; older ones are pruned
# Objects per upsert statement: 7 parameters each stays under SQLite's oldest variable limit
# (999); one statement, not one per object, for the reason in _upsert.
ROWS = 100
# What a change row records of each object it wrote.
_ENTRY = operator.attrgetter("kind", "id", "version")


@dataclass(eq=False, slots=True)
class _Pending:
    job: AccountJob[Any] | None  # None for a commit: its objects are written (_write_commits)
    future: asyncio.Future[Any]
    objects: tuple[Obj, ...] | None = None  # set for commits of home objects
    events: list[AccountEvent] = field(default_factory=list)  # recorded by the job
    result: Any = None
    error: BaseException | None = field(default=None)
    # The (slot, epoch) pairs a store shared by several processes checks in the committing
    # transaction (roost.store.postgres); empty for the embedded store.
    fence: frozenset[tuple[int, int]] = frozenset()


class SQLiteStore(Store):
    dialect: schema.Dialect = "sqlite"
    # A batch of commits written with one statement per table (_run_commits): their change
    # rows are numbered from the last one's, as SQLite numbers a statement's rows one after
    # another.
    together = True

    def __init__(self, path: str | Path, synchronous: str = "FULL") -> None:
        self.path = str(path)
        self.synchronous = synchronous
        self._reader: sqlite3.Connection | None = None
        self._queue: queue.SimpleQueue[list[_Pending] | None] = queue.SimpleQueue()
        self._held: list[_Pending] = []
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._on_commit: OnCommit = lambda changes: None
        self._on_account: OnAccount = lambda event: None
        self._lock: int | None = None  # the file descriptor holding the serving lock
        self._data_version: int | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(f"PRAGMA synchronous={self.synchronous}")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.execute("PRAGMA foreign_keys=ON")
        return conn

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        if self._reader is None:
            self._reader = self._connect()
            self._write_now(lambda conn, events: schema.migrate(conn))

    def claim(self) -> None:
        """An advisory lock on a file beside the database, held while the store is open.
        flock, not SQLite's own fcntl locks: on Linux the two never interact, and closing a
        descriptor of the database file itself would drop SQLite's locks with it."""
        if self._lock is not None:
            return
        path = self.path + ".lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise StoreInUse(f"{self.path} is already served by another Roost process"
                             + (f" (pid {holder})" if holder.isdigit() else "")) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock = fd

    async def start(self, on_commit: OnCommit,
                    on_account: OnAccount = lambda event: None) -> None:
        self.claim()
        self.open()
        self._on_commit = on_commit
        self._on_account = on_account
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="roost-sqlite-writer",
                                        daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        if self._thread is not None:
            self._flush()
            self._queue.put(None)
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._lock is not None:
            os.close(self._lock)  # the lock file stays: unlinking it would race a new server
            self._lock = None

    # -- jobs --------------------------------------------------------------------------------

    def _read_now(self, job: Job[T]) -> T:
        assert self._reader is not None, "store is not open"
        return job(self._reader)

    async def _read(self, job: Job[T]) -> T:
        """A read for a running server: on the event loop's own connection here (a local
        file answers in microseconds); a network database's store reads off the loop."""
        return self._read_now(job)

    def _write_now(self, job: AccountJob[T]) -> T:
        """Run one job in its own transaction, blocking: before the writer starts."""
        assert self._reader is not None, "store is not open"
        conn = self._reader
        conn.execute("BEGIN IMMEDIATE")
        try:
            result = job(conn, [])
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        return result

    async def _write(self, job: AccountJob[T]) -> T:
        if self._thread is None:
            return self._write_now(job)
        return await self._submit(_Pending(job, self._new_future()))

    def commit(self, objects: Iterable[Obj]) -> Awaitable[Change]:
        # Not a coroutine: the writer's future itself is awaited (see _submit).
        objs = tuple(objects)
        return self._submit(_Pending(None, self._new_future(), objs))

    async def changes_since(self, seq: int) -> list[ChangeEntry]:
        rows = await self._read(lambda conn: conn.execute(
            "SELECT seq, objects FROM changes WHERE seq > ? ORDER BY seq", (seq,)).fetchall())
        return [ChangeEntry(s, tuple((k, i, v) for k, i, v in orjson.loads(objects)))
                for s, objects in rows]

    def load(self) -> tuple[list[Obj], int]:
        def job(conn: sqlite3.Connection) -> tuple[list[Obj], int]:
            seq = conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0]
            # Row by row, not fetchall, and each object's values shared as it is parsed: a
            # row's JSON text and its unshared copy are freed before the next row is read,
            # so neither the table's text nor a second copy of the home sits in memory.
            rows = conn.execute(
                "SELECT kind, id, user_id, structure_id, version, data, updated FROM objects")
            sharing = Sharing()
            return [sharing.obj(k, i, u, s, v, orjson.loads(d), t)
                    for k, i, u, s, v, d, t in rows], seq

        return self._read_now(job)

    def _new_future(self) -> asyncio.Future[Any]:
        if self._loop is None:
            raise RuntimeError("store writer is not started")
        return self._loop.create_future()

    def _submit(self, pending: _Pending) -> Awaitable[Any]:
        """Queue a job for the writer; what to await for its result. Here its future, with no
        coroutine around it: each frame of a request's await chain costs it again when the
        commit wakes it, and commits are the busiest thing the store does."""
        self._hold(pending)
        return pending.future

    def _hold(self, pending: _Pending) -> None:
        """Queue a job for the writer once a round of the event loop queues no more, after
        at most :data:`HOLD` rounds, or once a batch is held. The writes of a burst of
        requests arrive over two or three rounds; handed over one by one, the idle writer
        would begin a transaction for the first few and the rest would wait for a second. A
        transaction costs the writer about 0.25 ms of CPU however little it holds, so under
        load more than the requests themselves (docs/benchmarks.md). Steady traffic brings a
        write nearly every round: it waits no more than the few rounds. A lone write waits
        one round of an idle loop: microseconds."""
        self._held.append(pending)
        if len(self._held) == 1:
            assert self._loop is not None
            self._loop.call_soon(self._hand_over, 1, 1)

    def _hand_over(self, seen: int, rounds: int) -> None:
        if seen < len(self._held) < BATCH and rounds < HOLD:  # more came: wait a round
            assert self._loop is not None
            self._loop.call_soon(self._hand_over, len(self._held), rounds + 1)
        else:
            self._flush()

    def _flush(self) -> None:
        if self._held:
            held, self._held = self._held, []
            self._queue.put(held)

    # -- accounts ----------------------------------------------------------------------------

    async def secret(self) -> str:
        return await self._read(queries.secret)

    async def ensure_client(self, client_id: str, name: str, permissions: Iterable[str],
                            description: str = "") -> None:
        chosen = tuple(permissions)
        await self._write(lambda conn, events: queries.ensure_client(
            conn, client_id, name, chosen, description))

    async def create_user(self, email: str, password_hash: str) -> User:
        def job(conn: sqlite3.Connection, events: list[AccountEvent]) -> User:
            try:
                return queries.create_user(conn, email, password_hash)
            except sqlite3.IntegrityError:
                raise Duplicate(f"a user with email {email} already exists") from None

        return await self._write(job)

    async def user_by_email(self, email: str) -> User | None:
        return await self._read(lambda conn: queries.user_by_email(conn, email))

    async def user_by_id(self, user_id: str) -> User | None:
        return await self._read(lambda conn: queries.user_by_id(conn, user_id))

    async def users(self) -> list[User]:
        return await self._read(queries.users)

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        await self._write(lambda conn, events: queries.set_password_hash(
            conn, user_id, password_hash))

    async def delete_user(self, user_id: str) -> bool:
        return await self._write(lambda conn, events: queries.delete_user(conn, events, user_id))

    async def create_client(self, name: str, description: str, secret_hash: str,
                            redirect_uri: str | None, permissions: Iterable[str],
                            owner_id: str | None = None) -> Client:
        chosen = tuple(permissions)
        return await self._write(lambda conn, events: queries.create_client(
            conn, name, description, secret_hash, redirect_uri, chosen, owner_id))

    async def client(self, client_id: str) -> Client | None:
        return await self._read(lambda conn: queries.client(conn, client_id))

    async def clients(self) -> list[Client]:
        return await self._read(queries.clients)

    async def update_client(self, client_id: str, *, name: str | None = None,
                            description: str | None = None, redirect_uri: str | None = None,
                            clear_redirect_uri: bool = False,
                            permissions: Iterable[str] | None = None,
                            owner_id: str | None = None) -> Client | None:
        chosen = None if permissions is None else tuple(permissions)
        return await self._write(lambda conn, events: queries.update_client(
            conn, events, client_id, name=name, description=description,
            redirect_uri=redirect_uri, clear_redirect_uri=clear_redirect_uri,
            permissions=chosen, owner_id=owner_id))

    async def delete_client(self, client_id: str) -> list[str] | None:
        return await self._write(lambda conn, events: queries.delete_client(
            conn, events, client_id))

    async def accept(self, user_id: str, product: Client,
                     structures: Iterable[str] | None = None) -> Grant:
        chosen = None if structures is None else tuple(structures)
        return await self._write(lambda conn, events: queries.accept(
            conn, events, user_id, product, chosen))

    async def grant(self, user_id: str, client_id: str) -> Grant | None:
        return await self._read(lambda conn: queries.grant(conn, user_id, client_id))

    async def add_token(self, token_hash: str, user_id: str, client_id: str,
                        code_hash: str | None = None, expires: str | None = None) -> None:
        await self._write(lambda conn, events: queries.add_token(
            conn, events, token_hash, user_id, client_id, code_hash, expires))

    async def live_token(self, token_hash: str) -> LiveToken | None:
        return await self._read(lambda conn: queries.live_token(conn, token_hash))

    async def grants_of(self, user_id: str) -> list[Grant]:
        return await self._read(lambda conn: queries.grants_of(conn, user_id))

    async def users_of(self, client_id: str) -> int:
        return await self._read(lambda conn: queries.users_of(conn, client_id))

    async def disconnect(self, user_id: str, client_id: str) -> list[str] | None:
        return await self._write(lambda conn, events: queries.disconnect(
            conn, events, user_id, client_id))

    async def tokens_of(self, user_id: str, client_id: str) -> list[TokenInfo]:
        return await self._read(lambda conn: queries.tokens_of(conn, user_id, client_id))

    async def revoke_token(self, token_hash: str) -> bool:
        return await self._write(lambda conn, events: queries.revoke_token(
            conn, events, token_hash))

    async def add_code(self, code_hash: str, grant_id: str, redirect_uri: str | None,
                       expires: str) -> None:
        await self._write(lambda conn, events: queries.add_code(
            conn, code_hash, grant_id, redirect_uri, expires))

    async def code(self, code_hash: str) -> Code | None:
        return await self._read(lambda conn: queries.code(conn, code_hash))

    async def redeem_code(self, code_hash: str, at: str, token_hash: str) -> bool:
        return await self._write(lambda conn, events: queries.redeem_code(
            conn, events, code_hash, at, token_hash))

    async def revoke_code_tokens(self, code_hash: str) -> list[str]:
        return await self._write(lambda conn, events: queries.revoke_code_tokens(
            conn, events, code_hash))

    async def add_session(self, session_hash: str, user_id: str, csrf_hash: str,
                          expires: str) -> None:
        await self._write(lambda conn, events: queries.add_session(
            conn, session_hash, user_id, csrf_hash, expires))

    async def session(self, session_hash: str) -> WebSession | None:
        return await self._read(lambda conn: queries.session(conn, session_hash))

    async def end_session(self, session_hash: str) -> None:
        await self._write(lambda conn, events: queries.end_session(conn, session_hash))

    # -- account events ----------------------------------------------------------------------

    async def device(self, serial: str) -> DeviceRecord | None:
        return await self._read(lambda conn: device_sql.device(conn, serial))

    async def devices(self) -> list[DeviceRecord]:
        return await self._read(device_sql.devices)

    async def save_device_buckets(self, serial: str, buckets: str) -> None:
        await self._write(lambda conn, events: device_sql.save_buckets(conn, serial, buckets))

    async def set_entry_key(self, serial: str, key_hash: str, expires: int) -> None:
        await self._write(lambda conn, events: device_sql.set_entry_key(
            conn, serial, key_hash, expires))

    async def claim_device(self, key_hash: str, now_ms: int, user_id: str,
                           structure_id: str | None) -> DeviceRecord | None:
        return await self._write(lambda conn, events: device_sql.claim(
            conn, events, key_hash, now_ms, user_id, structure_id))

    async def attach_device(self, serial: str, structure_id: str, device_id: str) -> None:
        await self._write(lambda conn, events: device_sql.attach(
            conn, serial, structure_id, device_id))

    async def account_events(self, after: int) -> list[AccountEvent]:
        return await self._read(lambda conn: queries.account_events(conn, after))

    async def last_account_event(self) -> int:
        return await self._read(queries.last_account_event)

    async def data_changed(self) -> bool:
        """``PRAGMA data_version`` of the reader's connection moves with every commit of
        another connection: the writer thread's, or another process's."""
        version = await self._read(
            lambda conn: conn.execute("PRAGMA data_version").fetchone()[0])
        changed = version != self._data_version
        self._data_version = version
        return changed

    # -- the writer thread -------------------------------------------------------------------

    def _run(self) -> None:
        conn = self._connect()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    return
                batch, stop = self._gather(first)
                self._run_batch(conn, batch)
                assert self._loop is not None
                self._loop.call_soon_threadsafe(self._finish, batch)
                if stop:
                    return
        finally:
            conn.close()

    def _gather(self, first: list[_Pending]) -> tuple[list[_Pending], bool]:
        """The writes queued behind ``first``, up to about a batch; and whether the queue
        said to stop after them."""
        batch = first
        while len(batch) < BATCH:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch, True
            batch.extend(item)
        return batch, False

    def _run_batch(self, conn: sqlite3.Connection, batch: list[_Pending]) -> None:
        try:
            if not self._run_commits(conn, batch):
                for item in self._begin(conn, batch):
                    _run_alone(conn, item)
            conn.execute("COMMIT")
        except Exception as exc:  # the transaction itself failed: nothing of it is durable
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            for item in batch:
                item.error = exc

    def _run_commits(self, conn: sqlite3.Connection, batch: list[_Pending]) -> bool:
        """Begin the transaction of a batch of commits alone, the usual batch, and write them
        together with no savepoint: four statements in all, where a savepoint's two more cost
        each write about 2 µs of a busy server (docs/benchmarks.md). False if it is not such
        a batch (one with an account job in it is rare), or if writing it failed: then it is
        rolled back, to run again with each job in its own savepoint, so that a refused
        commit fails alone."""
        commits = [item.objects for item in batch]
        if not self.together or None in commits:
            return False
        self._begin(conn, batch)
        try:
            changes = _write_commits(conn, cast(list[tuple[Obj, ...]], commits))
        except Exception:
            conn.execute("ROLLBACK")
            return False
        for item, change in zip(batch, changes, strict=True):
            item.result = change
        return True

    def _begin(self, conn: Any, batch: list[_Pending]) -> list[_Pending]:
        """Begin the batch's transaction; the jobs to run in it (all of them here)."""
        conn.execute("BEGIN IMMEDIATE")
        return batch

    def _finish(self, batch: list[_Pending]) -> None:
        """On the event loop, in commit order: publish the changes, each run of them in one
        call, and the account events; then answer the writers."""
        run: list[Change] = []
        for item in batch:
            if item.error is None and item.objects is not None:
                run.append(item.result)
                continue
            self._publish(run)
            run = []
            for event in item.events if item.error is None else ():
                try:
                    self._on_account(event)
                except Exception as exc:
                    asyncio.get_running_loop().call_exception_handler(
                        {"message": "on_account failed", "exception": exc})
        self._publish(run)
        for item in batch:
            if item.future.done():
                continue
            if item.error is not None:
                item.future.set_exception(item.error)
            else:
                item.future.set_result(item.result)

    def _publish(self, changes: list[Change]) -> None:
        if not changes:
            return
        try:
            self._on_commit(changes)
        except Exception as exc:  # a broken subscriber must not hide a durable write
            asyncio.get_running_loop().call_exception_handler(
                {"message": "on_commit failed", "exception": exc})


def _run_alone(conn: sqlite3.Connection, item: _Pending) -> None:
    """One job in its own savepoint: if it fails, it alone is undone."""
    conn.execute("SAVEPOINT job")
    try:
        item.result = (item.job(conn, item.events) if item.job is not None
                       else _write_commits(conn, [item.objects or ()])[0])
        conn.execute("RELEASE job")
    except Exception as exc:
        item.error = exc
        item.events.clear()
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")


def _write_commits(conn: sqlite3.Connection, commits: list[tuple[Obj, ...]]) -> list[Change]:
    """Commits in order, each one change with the next sequence number: every object's row
    in as few statements as fit, then the change rows. An object several of them write is
    written once, as the last of them left it, on top of the version the first followed
    (:func:`_rows`). A deletion is run before its commit's other rows, so commits with one
    are written one at a time."""
    kept = [o for objects in commits for o in objects]
    if any(o.deleted for o in kept):
        if len(commits) > 1:
            return [change for objects in commits for change in _write_commits(conn, [objects])]
        for o in kept:
            if o.deleted:
                conn.execute("DELETE FROM objects WHERE kind = ? AND id = ?", (o.kind, o.id))
        kept = [o for o in kept if not o.deleted]
    upserted, combined = _rows(kept)
    written = 0
    for start in range(0, len(upserted), ROWS):
        rows = upserted[start:start + ROWS]
        written += conn.execute(_upsert(len(rows)), [
            value for o in rows for value in (
                o.kind, o.id, o.user_id, o.structure_id, o.version,
                orjson.dumps(o.data).decode(), o.updated)
        ]).rowcount
    for o, follows in combined:
        written += conn.execute(
            "UPDATE objects SET structure_id = ?, version = ?, data = ?, updated = ? "
            "WHERE kind = ? AND id = ? AND version = ? AND user_id = ?",
            (o.structure_id, o.version, orjson.dumps(o.data).decode(), o.updated, o.kind, o.id,
             follows, o.user_id)).rowcount
    if written != len(upserted) + len(combined):
        raise Conflict(_not_next(conn, kept))
    at = datetime.now(UTC).isoformat()
    logged = [orjson.dumps(list(map(_ENTRY, objects))).decode() for objects in commits]
    last = 0
    for start in range(0, len(logged), ROWS):
        rows = logged[start:start + ROWS]
        # AUTOINCREMENT numbers one statement's rows one after another.
        values = [at] * (2 * len(rows))
        values[1::2] = rows
        last = conn.execute(_insert_changes(len(rows)), values).lastrowid or 0
    first = last - len(commits) + 1
    if last // 1000 != (first - 1) // 1000:  # every thousandth change: prune
        conn.execute("DELETE FROM changes WHERE seq <= ?", (last - KEEP_CHANGES,))
    return [Change(first + n, objects) for n, objects in enumerate(commits)]


def _rows(kept: list[Obj]) -> tuple[list[Obj], list[tuple[Obj, int]]]:
    """The objects to upsert, each on top of the version before its own, in order; and the
    objects several commits of the batch wrote one version after another, each as the last
    left it with the version the first followed. Their rows in between would be overwritten
    in the same transaction, unseen: a thermostat many clients write at once (a batch is
    whatever queued while the one before it was written) costs one row, not one per write.
    A new object keeps its insert: there is no version to follow."""
    by_key: dict[tuple[str, str], list[Obj]] = {}
    for o in kept:
        key = (o.kind, o.id)  # not Obj.key, nor setdefault's new list: once per write
        versions = by_key.get(key)
        if versions is None:
            by_key[key] = [o]
        else:
            versions.append(o)
    if len(by_key) == len(kept):
        return kept, []
    upserted: list[Obj] = []
    combined: list[tuple[Obj, int]] = []
    for versions in by_key.values():
        first, last = versions[0], versions[-1]
        if len(versions) > 1 and first.version > 1 \
                and last.version - first.version == len(versions) - 1:
            combined.append((last, first.version - 1))
        else:
            upserted.extend(versions)
    return upserted, combined


@functools.cache
def _insert_changes(rows: int) -> str:
    return "INSERT INTO changes (at, objects) VALUES " + ", ".join(["(?, ?)"] * rows)


@functools.cache
def _upsert(rows: int) -> str:
    """Write ``rows`` objects in one statement.

    Many rows to a statement, not one (executemany): the sqlite3 module lets go of the
    interpreter lock for every statement it runs and must win it back after, and while the
    event loop is busy that wait dominates. A 2,000-object commit took 8 to 24 s under a busy
    loop one row at a time, 0.3 s a hundred at a time (docs/benchmarks.md).

    Only on top of the version it was computed from: an object staged on a write whose commit
    failed must not bring that write's values to disk. An object never changes owner, so
    user_id is matched, not set: setting it, even to the same value, makes SQLite rewrite its
    objects_user index entry, a third of the statement's cost.
    """
    values = ", ".join(["(?, ?, ?, ?, ?, ?, ?)"] * rows)
    return ("INSERT INTO objects (kind, id, user_id, structure_id, version, data, updated) "
            f"VALUES {values} ON CONFLICT (kind, id) DO UPDATE SET "
            "structure_id = excluded.structure_id, version = excluded.version, "
            "data = excluded.data, updated = excluded.updated "
            "WHERE objects.version = excluded.version - 1 AND objects.user_id = excluded.user_id")


def _not_next(conn: sqlite3.Connection, written: list[Obj]) -> str:
    """Which objects were not one version ahead of the stored ones, or not of the same
    owner (read inside the failed job's transaction: each row holds what was written, or
    what was kept)."""
    wrong = []
    for o in written:
        row = conn.execute("SELECT version, user_id FROM objects WHERE kind = ? AND id = ?",
                           (o.kind, o.id)).fetchone()
        if row is None or tuple(row) != (o.version, o.user_id):
            wrong.append(f"{o.kind}/{o.id} version {o.version}")
    return f"not next to the stored version, or of another owner: {', '.join(wrong)}"
