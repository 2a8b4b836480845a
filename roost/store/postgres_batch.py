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
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from roost.model.home import Change, Obj
from roost.store.sqlite import KEEP_CHANGES, ROWS, _Pending, _upsert

# The upsert of the embedded store, whose rows count only when each is one version ahead of
# the stored one and of the same owner; the change row's objects are NULL unless all did.
_CHANGE = ("INSERT INTO changes (at, objects) SELECT %s, CASE WHEN count(*) = %s THEN %s END "
           "FROM written RETURNING seq")


def pipelines(batch: list[_Pending]) -> bool:
    """Whether the batch can go in one round trip: writes of home objects only, each small
    enough for one statement."""
    return all(item.objects is not None and len(item.objects) <= ROWS for item in batch)


def run(conn: psycopg.Connection[Any], batch: list[_Pending]) -> None:
    """Commit the batch in one transaction and one round trip and set each write's result.
    If any statement failed, raises with nothing committed and the connection out of any
    transaction."""
    cursors = []
    try:
        with conn.pipeline():
            # Never prepared: psycopg would count a statement as prepared whose PREPARE an
            # error skipped, and the savepoint run after would find no such statement.
            conn.execute("BEGIN", prepare=False)
            for item in batch:
                assert item.objects is not None
                for o in item.objects:
                    if o.deleted:
                        conn.execute("DELETE FROM objects WHERE kind = %s AND id = %s",
                                     (o.kind, o.id), prepare=False)
                statement, params = _change(item.objects)
                cursors.append(conn.execute(statement, params, prepare=False))  # type: ignore[arg-type]
            conn.execute("COMMIT", prepare=False)
    except Exception:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
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
    """The statement that writes a commit's objects and its change row, and its
    parameters."""
    at = datetime.now(UTC).isoformat()
    listed = orjson.dumps([[o.kind, o.id, o.version] for o in objects]).decode()
    kept = [o for o in objects if not o.deleted]
    if not kept:
        return "INSERT INTO changes (at, objects) VALUES (%s, %s) RETURNING seq", [at, listed]
    rows = [value for o in kept for value in (
        o.kind, o.id, o.user_id, o.structure_id, o.version, orjson.dumps(o.data).decode(),
        o.updated)]
    upsert = _upsert(len(kept)).replace("?", "%s")
    return (f"WITH written AS ({upsert} RETURNING 1) {_CHANGE}",
            [*rows, at, len(kept), listed])
