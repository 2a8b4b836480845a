"""One batch of the PostgreSQL writer in one round trip: psycopg's pipeline mode.

A batch of writes to the home (the common case: data PUTs, the simulator) is sent as
``BEGIN``, each write's statements, ``COMMIT``, and one sync; the writer waits once for all
the answers instead of once per statement, which on a database across a network is most of a
write's time. Each write is answered only after ``COMMIT`` has returned. (The common batch
is a single statement, a transaction by itself: see below.)

In a pipeline an error skips everything up to the next sync, savepoints and ``ROLLBACK TO``
included, so one refused write would take its neighbours with it. So the statements check
themselves where the embedded store's Python checks them: a write not on top of the stored
versions gets a change row with no objects, which the table refuses, and the whole
transaction fails. Then, on that or any other error, the batch is rolled back and run again
the embedded store's way, unpipelined, one savepoint per write, where each write's own checks
say which one fails and why (the rare path). Batches holding other jobs (accounts), or a
write of more objects than one statement takes, go that way from the start.

A batch whose objects each follow on from their last version in it (no deletions) is one
statement, run as a transaction of its own: the fence of several processes, every object's
last row upserted once, on top of the version stored before the batch, and every commit's
change row, numbered in commit order from numbers taken from the sequence first (a sequence
does not number one statement's rows in any promised order). Any other batch is one
statement per write. Each statement is prepared by name once per connection and then only
executed: planning it anew was half of the database's time per write.
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
# change row, roost_batch a whole batch's. After a pipeline error, whose PREPARE may have
# been skipped, they are read back. (Not psycopg's automatic preparing, which the store's
# connections have off: it may count a statement as prepared whose PREPARE an error
# skipped.)
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
    together = _together(batch)
    try:
        with conn.pipeline():
            if together is not None:
                # One statement, a transaction by itself (the connection autocommits): its
                # fence, its objects and its change rows. Four statements (BEGIN, the fence,
                # the batch, COMMIT) made the writer's round trip slower while the event
                # loop was busy (docs/benchmarks.md).
                params, texts = together
                owner, slots, epochs = fence or (None, [], [])
                cursors.append(_execute(conn, prepared, _BATCH, [
                    *params, owner, _array(slots), _array(epochs), len(slots)], texts))
            else:
                conn.execute("BEGIN")
                if fence is not None:
                    conn.execute(_FENCED, (*fence, len(fence[1])))  # type: ignore[arg-type]
                for item in batch:
                    assert item.objects is not None
                    for o in item.objects:
                        if o.deleted:
                            conn.execute("DELETE FROM objects WHERE kind = %s AND id = %s",
                                         (o.kind, o.id))
                    cursors.append(_execute(conn, prepared, *_change(item.objects)))
                conn.execute("COMMIT")
    except Exception:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        prepared.clear()
        prepared.update(name for (name,) in conn.execute(
            "SELECT name FROM pg_prepared_statements WHERE name LIKE 'roost\\_%'"))
        raise
    seqs = [int(seq) for cursor in cursors for (seq,) in cursor.fetchall()]
    for item, seq in zip(batch, seqs, strict=True):
        assert item.objects is not None
        item.result = Change(seq, item.objects)
    # Old change rows go as the embedded store's do, when the numbers pass a thousand, after
    # the commit: pruning is no part of any write.
    if seqs and seqs[-1] // 1000 != (seqs[0] - 1) // 1000:
        conn.execute("DELETE FROM changes WHERE seq <= %s", (seqs[-1] - KEEP_CHANGES,))


def _execute(conn: psycopg.Connection[Any], prepared: set[str], name: str,
             params: list[Any], texts: list[str] | None = None) -> psycopg.ClientCursor[Any]:
    """Queue the prepared statement ``name`` (preparing it first on this connection); with
    ``texts``, its last parameter is the array of them."""
    if name not in prepared:
        conn.execute(_prepare(name))
        prepared.add(name)
    # EXECUTE takes no parameters of the protocol's: psycopg quotes them in. An array is
    # written as ARRAY[...] of its texts, which the database takes as they are, unparsed.
    given = ["%s"] * len(params)
    if texts is not None:
        given.append(f"ARRAY[{', '.join(['%s'] * len(texts))}]::text[]")
    cursor = psycopg.ClientCursor(conn)
    cursor.execute(f"EXECUTE {name} ({', '.join(given)})", [*params, *(texts or ())])
    return cursor


def _together(batch: list[_Pending]) -> tuple[list[Any], list[str]] | None:
    """The parameters of ``_BATCH`` for the batch and its objects' data, or None if it cannot
    be one statement: it deletes, or an object's versions in it do not each follow on from
    the one before."""
    last: dict[tuple[str, str], Obj] = {}
    bases: dict[tuple[str, str], int] = {}
    for item in batch:
        assert item.objects is not None
        for o in item.objects:
            key = (o.kind, o.id)
            before = last.get(key)
            if o.deleted or (before is not None and (before.version + 1, before.user_id)
                             != (o.version, o.user_id)):
                return None
            bases.setdefault(key, o.version - 1)
            last[key] = o
    # Two JSON texts, not a list per column: psycopg quotes EXECUTE's parameters in Python,
    # lists element by element (some 300 µs per written thermostat), a text in C. The
    # objects' data, nine tenths of the bytes, go as texts of their own: inside JSON, the
    # database parsed them twice (checking the JSON, then reading its rows).
    rows = [{"kind": o.kind, "id": o.id, "user_id": o.user_id, "structure_id": o.structure_id,
             "base": bases[key], "version": o.version, "updated": o.updated}
            for key, o in last.items()]
    return ([orjson.dumps(rows).decode(), datetime.now(UTC).isoformat(), len(rows),
             orjson.dumps([_listed(item.objects or ()) for item in batch]).decode()],
            [orjson.dumps(o.data).decode() for o in last.values()])


def _array(numbers: list[int]) -> str:
    """An array's text, for a cast in the statement: psycopg quotes a list in Python, element
    by element."""
    return "{" + ",".join(map(str, numbers)) + "}"


# First the fence ($5 the owner, $6 and $7 the slots and their epochs, $8 how many): the row
# locks of the slots still this owner's at those epochs, or a division by zero that fails the
# statement (read by the final SELECT, so taken before the upserts, which run at its end).
# Every object once, on top of the version stored before the batch (``base``); then the
# change rows, each numbered from the sequence's numbers for the batch taken in order, so
# the n-th commit has the n-th number. Their objects are NULL (refused) unless every upsert
# counted. The sequence is looked up once per batch, not once per number. Each given row
# is parsed once (``json_to_recordset``; extracting fields one by one with ``->>`` parsed a
# row's whole text again for each) and paired with its data by position (``ROWS FROM``).
_BATCH = "roost_batch"
_BATCH_STATEMENT = """
WITH fenced AS MATERIALIZED (
    SELECT 1 FROM slots WHERE owner = $5::text AND (slot, epoch) IN (
        SELECT * FROM unnest($6::text::integer[], $7::text::bigint[]))
    ORDER BY slot FOR UPDATE),
fence AS MATERIALIZED (SELECT 1 / (count(*) = $8::bigint)::integer AS held FROM fenced),
given AS MATERIALIZED (
    SELECT * FROM ROWS FROM (
        json_to_recordset($1::json) AS (kind text, id text, user_id text, structure_id text,
                                        base integer, version integer, updated bigint),
        unnest($9::text[]))
    AS r (kind, id, user_id, structure_id, base, version, updated, data)),
written AS (
    INSERT INTO objects AS o (kind, id, user_id, structure_id, version, data, updated)
    SELECT kind, id, user_id, structure_id, version, data, updated FROM given
    ON CONFLICT (kind, id) DO UPDATE SET
        structure_id = excluded.structure_id, version = excluded.version,
        data = excluded.data, updated = excluded.updated
    WHERE o.user_id = excluded.user_id AND o.version = (
        SELECT base FROM given WHERE given.kind = excluded.kind AND given.id = excluded.id)
    RETURNING 1),
numbers AS MATERIALIZED (
    SELECT nextval((SELECT pg_get_serial_sequence('changes', 'seq'))::regclass) AS seq
    FROM generate_series(1, json_array_length($4::json))),
ordered AS MATERIALIZED (
    SELECT seq, row_number() OVER (ORDER BY seq) AS n FROM numbers),
logged AS (
    INSERT INTO changes (seq, at, objects) OVERRIDING SYSTEM VALUE
    SELECT ordered.seq, $2::text,
           CASE WHEN (SELECT count(*) FROM written) = $3::bigint THEN l.objects END
    FROM json_array_elements_text($4::json) WITH ORDINALITY AS l (objects, n)
    JOIN ordered USING (n))
SELECT seq FROM ordered, fence ORDER BY n"""


def _change(objects: tuple[Obj, ...]) -> tuple[str, list[Any]]:
    """The name of the prepared statement that writes a commit's objects and its change row,
    and its parameters."""
    at = datetime.now(UTC).isoformat()
    listed = _listed(objects)
    kept = [o for o in objects if not o.deleted]
    rows = [value for o in kept for value in (
        o.kind, o.id, o.user_id, o.structure_id, o.version, orjson.dumps(o.data).decode(),
        o.updated)]
    return f"roost_change_{len(kept)}", [*rows, at, len(kept), listed]


def _listed(objects: tuple[Obj, ...]) -> str:
    """A change row's ``objects``: what the commit wrote, deletions included."""
    return orjson.dumps([[o.kind, o.id, o.version] for o in objects]).decode()


def _prepare(name: str) -> Any:
    """PREPARE of the statement ``name`` stands for, its parameters typed (PostgreSQL cannot
    tell a type from a select list)."""
    if name == _BATCH:
        return f"PREPARE {_BATCH} AS {_BATCH_STATEMENT}"
    count = int(name.rsplit("_", 1)[1])
    # kind, id, user_id, structure_id, version, data, updated; then at, count, objects.
    types = ["text", "text", "text", "text", "integer", "text", "bigint"] * count + [
        "text", "bigint", "text"]
    written = f"{_upsert(count)} RETURNING 1" if count else "SELECT 1 WHERE false"
    statement = f"WITH written AS ({written}) {_CHANGE}"
    numbers = iter(range(1, statement.count("?") + 1))
    statement = re.sub(r"\?", lambda _: f"${next(numbers)}", statement)
    return f"PREPARE {name} ({', '.join(types)}) AS {statement}"
