"""One batch of the PostgreSQL writer in one round trip: one statement in psycopg's pipeline.

A batch of writes to the home (the common case: data PUTs, the simulator) whose objects each
follow on from their last version in it (no deletion) is one statement, sent with one sync
and run as a transaction of its own (the connection autocommits): the fence of several
processes, every object's last row upserted once on top of the version stored before the
batch, and every commit's change row, numbered in commit order from numbers taken from the
sequence first (a sequence does not number one statement's rows in any promised order).
Each write is answered only after that statement has committed. The statement is prepared
by name once per connection and then only executed: planning it anew was half of the
database's time per write.

In one statement an error undoes the whole batch, so one refused write would take its
neighbours with it. So the statement checks itself where the embedded store's Python checks
each write: a write not on top of the stored versions gets a change row with no objects,
which the table refuses, and the statement fails. Then, on that or any other error, the
batch is run again the embedded store's way, one savepoint per write, where each write's own
checks say which one fails and why (the rare path). Other batches (accounts, deletions, an
object written twice out of order) go that way from the start.
"""

from __future__ import annotations

import weakref
from datetime import UTC, datetime
from typing import Any

import orjson
import psycopg

from roost.model.home import Change, Obj
from roost.store.sqlite import KEEP_CHANGES, _Pending

# The connections that have prepared the batch statement; after a pipeline error, whose
# PREPARE may have been skipped, it is looked up again. (Not psycopg's automatic preparing,
# which the store's connections have off: it deallocates every statement on a ROLLBACK.)
_prepared: weakref.WeakSet[psycopg.Connection[Any]] = weakref.WeakSet()


def pipelines(batch: list[_Pending]) -> bool:
    """Whether the batch can be one statement: writes of home objects only, none deleting,
    each object's versions in it following on from the one before."""
    last: dict[tuple[str, str], Obj] = {}
    for item in batch:
        if item.objects is None:
            return False
        for o in item.objects:
            before = last.get((o.kind, o.id))
            if o.deleted or (before is not None and (before.version + 1, before.user_id)
                             != (o.version, o.user_id)):
                return False
            last[o.kind, o.id] = o
    return True


# A commit's fence: its slots still this owner's at the epochs it took them at (the owner,
# the slots, their epochs). The row locks hold a takeover back until the transaction ends;
# taken in slot order, as every lock on several slots is.
FENCE = ("SELECT slot, epoch FROM slots WHERE owner = {} AND (slot, epoch) IN "
         "(SELECT * FROM unnest({}::integer[], {}::bigint[])) ORDER BY slot FOR UPDATE")

Fence = tuple[str, list[int], list[int]]  # owner, slots, their epochs


def run(conn: psycopg.Connection[Any], batch: list[_Pending], fence: Fence | None = None
        ) -> None:
    """Commit the batch (one that :func:`pipelines`) in one statement and one round trip,
    behind ``fence`` if given, and set each write's result. If the statement failed, raises
    with nothing committed."""
    params, texts = _params(batch)
    owner, slots, epochs = fence or (None, [], [])
    params += [owner, _array(slots), _array(epochs), len(slots)]
    # EXECUTE takes no parameters of the protocol's: psycopg quotes them in. The data go as
    # ARRAY[...] of their texts, which the database takes as they are, unparsed.
    execute = (f"EXECUTE {_BATCH} ({', '.join(['%s'] * len(params))}, "
               f"ARRAY[{', '.join(['%s'] * len(texts))}]::text[])")
    try:
        with conn.pipeline():
            if conn not in _prepared:
                conn.execute(f"PREPARE {_BATCH} AS {_BATCH_STATEMENT}")
                _prepared.add(conn)
            cursor = psycopg.ClientCursor(conn)
            cursor.execute(execute, [*params, *texts])
    except Exception:
        _prepared.discard(conn)
        if not conn.broken and conn.execute(
                "SELECT 1 FROM pg_prepared_statements WHERE name = %s", (_BATCH,)).fetchone():
            _prepared.add(conn)
        raise
    seqs = [int(seq) for (seq,) in cursor.fetchall()]
    for item, seq in zip(batch, seqs, strict=True):
        assert item.objects is not None
        item.result = Change(seq, item.objects)
    # Old change rows go as the embedded store's do, when the numbers pass a thousand, after
    # the commit: pruning is no part of any write.
    if seqs and seqs[-1] // 1000 != (seqs[0] - 1) // 1000:
        conn.execute("DELETE FROM changes WHERE seq <= %s", (seqs[-1] - KEEP_CHANGES,))


def _params(batch: list[_Pending]) -> tuple[list[Any], list[str]]:
    """The batch statement's first parameters, and its objects' data."""
    last: dict[tuple[str, str], Obj] = {}
    bases: dict[tuple[str, str], int] = {}
    for item in batch:
        for o in item.objects or ():
            bases.setdefault((o.kind, o.id), o.version - 1)
            last[o.kind, o.id] = o
    # Two JSON texts, not a list per column: psycopg quotes EXECUTE's parameters in Python,
    # lists element by element (some 300 µs per written thermostat), a text in C. The
    # objects' data, nine tenths of the bytes, go as texts of their own: inside JSON, the
    # database parsed them twice (checking the JSON, then reading its rows).
    rows = [{"kind": o.kind, "id": o.id, "user_id": o.user_id, "structure_id": o.structure_id,
             "base": bases[key], "version": o.version, "updated": o.updated}
            for key, o in last.items()]
    listed = [[[o.kind, o.id, o.version] for o in item.objects or ()] for item in batch]
    return ([orjson.dumps(rows).decode(), datetime.now(UTC).isoformat(), len(rows),
             orjson.dumps(listed).decode()],
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
_BATCH_STATEMENT = f"""
WITH fenced AS MATERIALIZED ({FENCE.format("$5::text", "$6::text", "$7::text")}),
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
