"""One batch of the PostgreSQL writer in one round trip: psycopg's pipeline mode.

A batch of writes to the home (the common case: data PUTs, the simulator) is sent as
``BEGIN``, each write's statements, ``COMMIT``, and one sync; the writer waits once for all
the answers instead of once per statement, which on a database across a network is most of a
write's time. Each write is answered only after ``COMMIT`` has returned.

In a pipeline an error skips everything up to the next sync, savepoints and ``ROLLBACK TO``
included, so one refused write would take its neighbours with it. So the statements check
themselves where the embedded store's Python checks them: a write not on top of the stored
versions gets a change row with no objects, which the table refuses, and the whole
transaction fails. Then, on that or any other error, the batch is rolled back and run again
the embedded store's way, unpipelined, one savepoint per write, where each write's own checks
say which one fails and why (the rare path). Batches holding other jobs (accounts), or a
write of more objects than one statement takes, go that way from the start.

Each write is one statement, prepared by name once per connection and then only executed:
planning it anew was half of the database's time per write.
"""

from __future__ import annotations

import re
import weakref
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from roost.model.home import Change, Obj
from roost.store.sqlite import KEEP_CHANGES, ROWS, _Pending, _upsert

# The upsert of the embedded store, whose rows count only when each is one version ahead of
# the stored one and of the same owner; the change row's objects are NULL unless all did.
_CHANGE = ("INSERT INTO changes (at, objects) SELECT ?, CASE WHEN count(*) = ? THEN ? END "
           "FROM written RETURNING seq")

# The statements each connection has prepared: roost_change_N writes N objects and their
# change row. After a pipeline error, whose PREPARE may have been skipped, they are read back.
# (Not psycopg's automatic preparing, which the store's connections have off: it may count a
# statement as prepared whose PREPARE an error skipped.)
_prepared: weakref.WeakKeyDictionary[psycopg.Connection[Any], set[str]] = (
    weakref.WeakKeyDictionary())


def pipelines(batch: list[_Pending]) -> bool:
    """Whether the batch can go in one round trip: writes of home objects only, each small
    enough for one statement."""
    return all(item.objects is not None and len(item.objects) <= ROWS for item in batch)


# The fence of several processes over one database (roost.store.postgres): the slots still
# this owner's at these epochs, or an error that fails the pipeline (and the batch then runs
# the other way, where the writes whose slot moved are told apart).
_FENCED = ("WITH fenced AS (SELECT 1 FROM slots WHERE owner = %s AND (slot, epoch) IN "
           "(SELECT * FROM unnest(%s::integer[], %s::bigint[])) ORDER BY slot FOR UPDATE) "
           "SELECT 1 / (count(*) = %s)::integer FROM fenced")

Fence = tuple[str, list[int], list[int]]  # owner, slots, their epochs


def run(conn: psycopg.Connection[Any], batch: list[_Pending], fence: Fence | None = None
        ) -> None:
    """Commit the batch in one transaction and one round trip, behind ``fence`` if given,
    and set each write's result. If any statement failed, raises with nothing committed and
    the connection out of any transaction."""
    cursors = []
    prepared = _prepared.setdefault(conn, set())
    try:
        with conn.pipeline():
            conn.execute("BEGIN")
            if fence is not None:
                conn.execute(_FENCED, (*fence, len(fence[1])))  # type: ignore[arg-type]
            for item in batch:
                assert item.objects is not None
                for o in item.objects:
                    if o.deleted:
                        conn.execute("DELETE FROM objects WHERE kind = %s AND id = %s",
                                     (o.kind, o.id))
                name, params = _change(item.objects)
                if name not in prepared:
                    conn.execute(_prepare(name))
                    prepared.add(name)
                # EXECUTE takes no parameters of the protocol's: psycopg quotes them in.
                cursor = psycopg.ClientCursor(conn)
                cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})", params)
                cursors.append(cursor)
            conn.execute("COMMIT")
    except Exception:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        prepared.clear()
        prepared.update(name for (name,) in conn.execute(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE 'roost_change_%'"))
        raise
    seqs = []
    for item, cursor in zip(batch, cursors, strict=True):
        row = cursor.fetchone()
        assert row is not None and item.objects is not None
        item.result = Change(int(row[0]), item.objects)
        seqs.append(int(row[0]))
    # Old change rows go as the embedded store's do, every thousandth change, after the
    # commit: pruning is no part of any write.
    for seq in seqs:
        if seq % 1000 == 0:
            conn.execute("DELETE FROM changes WHERE seq <= %s", (seq - KEEP_CHANGES,))


def _change(objects: tuple[Obj, ...]) -> tuple[str, list[Any]]:
    """The name of the prepared statement that writes a commit's objects and its change row,
    and its parameters."""
    at = datetime.now(UTC).isoformat()
    listed = orjson.dumps([[o.kind, o.id, o.version] for o in objects]).decode()
    kept = [o for o in objects if not o.deleted]
    rows = [value for o in kept for value in (
        o.kind, o.id, o.user_id, o.structure_id, o.version, orjson.dumps(o.data).decode(),
        o.updated)]
    return f"roost_change_{len(kept)}", [*rows, at, len(kept), listed]


def _prepare(name: str) -> Any:
    """PREPARE of the statement ``name`` stands for, its parameters typed (PostgreSQL cannot
    tell a type from a select list)."""
    count = int(name.rsplit("_", 1)[1])
    # kind, id, user_id, structure_id, version, data, updated; then at, count, objects.
    types = ["text", "text", "text", "text", "integer", "text", "bigint"] * count + [
        "text", "bigint", "text"]
    written = f"{_upsert(count)} RETURNING 1" if count else "SELECT 1 WHERE false"
    statement = f"WITH written AS ({written}) {_CHANGE}"
    numbers = iter(range(1, statement.count("?") + 1))
    statement = re.sub(r"\?", lambda _: f"${next(numbers)}", statement)
    return f"PREPARE {name} ({', '.join(types)}) AS {statement}"
