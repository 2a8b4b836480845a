"""A whole database moved into another (``roost db copy``): SQLite to PostgreSQL and back.

Both databases are at the same schema version when this runs (opening a store migrates it),
which by :mod:`roost.store.schema` means the same tables and columns, so every row is copied
as it is: ids, password and token digests, grants, codes, sessions, home objects with their
versions, changes and account events with their numbers, and the ``meta`` secret that keys
per-product user ids. A token, a signed-in session or a per-product user id from before the
copy is the same after it.

The source is read in one snapshot; the destination is written in one transaction, after
checking it holds nothing of anyone's (a server, a migration or the command line may have
made Roost's own product in it, which is replaced). The caller holds both stores' ``claim``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from roost.store import schema
from roost.store.base import StoreError
from roost.store.sqlite import SQLiteStore

# Parameters per statement: under SQLite's oldest limit of variables (999).
PARAMETERS = 999


class NotEmpty(StoreError):
    """The destination holds someone's data; the message says what."""


def copy(source: SQLiteStore, destination: SQLiteStore, own_client: str) -> dict[str, int]:
    """Replace everything in ``destination`` with ``source``'s rows; how many of each table.
    ``own_client`` is the id of Roost's own product, which an empty database may hold."""
    with _snapshot(source) as read:
        return destination._write_now(
            lambda conn, events: _fill(read, conn, destination.dialect, own_client))


@contextmanager
def _snapshot(store: SQLiteStore) -> Iterator[schema.Connection]:
    """The store's connection inside one read-only transaction: every table as of one
    moment, even if the command line writes meanwhile."""
    conn: schema.Connection = store._read(lambda conn: conn)
    conn.execute("BEGIN" if store.dialect == "sqlite"
                 else "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")


def _fill(read: schema.Connection, write: schema.Connection, dialect: schema.Dialect,
          own_client: str) -> dict[str, int]:
    held = _held(write, own_client)
    if held:
        raise NotEmpty(f"is not empty ({held}); copy into a new database")
    for table in reversed(schema.TABLES):
        write.execute(f"DELETE FROM {table}")
    counts = {table: _copy_table(read, write, table, dialect) for table in schema.TABLES}
    if dialect == "postgres":  # identity columns number on from the copied rows
        for table in schema.NUMBERED:
            write.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'seq'), "
                          f"coalesce(max(seq), 0) + 1, false) FROM {table}")
        write.execute("UPDATE event_counter SET seq = "
                      "(SELECT coalesce(max(seq), 0) FROM account_events)")
    # SQLite's AUTOINCREMENT does that itself: its counter follows the greatest seq inserted.
    return counts


def _held(conn: schema.Connection, own_client: str) -> str:
    """What of anyone's a database holds, in words; empty if nothing."""
    counts = conn.execute(
        "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM clients WHERE id <> ?), "
        "(SELECT count(*) FROM objects), (SELECT count(*) FROM devices)",
        (own_client,)).fetchone()
    names = ("users", "products", "home objects", "thermostats")
    return ", ".join(f"{n} {name}" for n, name in zip(counts, names, strict=True) if n)


def _copy_table(read: schema.Connection, write: schema.Connection, table: str,
                dialect: schema.Dialect) -> int:
    cursor = read.execute(f"SELECT * FROM {table}")
    columns = [d[0] for d in cursor.description]
    insert = _inserter(write, table, columns, dialect)
    rows_per_statement = PARAMETERS // len(columns)
    batch: list[Any] = []
    copied = 0
    for row in cursor:
        batch.append(row)
        if len(batch) == rows_per_statement:
            copied += insert(batch)
            batch = []
    return copied + (insert(batch) if batch else 0)


def _inserter(conn: schema.Connection, table: str, columns: list[str],
              dialect: schema.Dialect) -> Callable[[list[Any]], int]:
    # PostgreSQL numbers identity columns itself unless told to keep the given numbers.
    keep = " OVERRIDING SYSTEM VALUE" if dialect == "postgres" \
        and table in schema.NUMBERED else ""
    row = "(" + ", ".join("?" * len(columns)) + ")"

    def insert(rows: list[Any]) -> int:
        try:
            conn.execute(f"INSERT INTO {table} ({', '.join(columns)}){keep} VALUES "
                         + ", ".join([row] * len(rows)),
                         [value for r in rows for value in r])
        except Exception as exc:  # a driver's error: one line saying which table and why
            lines = str(exc).strip().splitlines() or [type(exc).__name__]
            why = [lines[0], *(line.strip() for line in lines if line.startswith("DETAIL:"))]
            raise StoreError(f"cannot copy {table}: {' '.join(why)}") from None
        return len(rows)

    return insert
