"""The SQL schema of both stores, applied in one list of numbered steps.

Step N is the same schema on SQLite (numbered in ``PRAGMA user_version``) and on PostgreSQL
(numbered in the ``roost_schema`` table), so one version number means the same tables and
columns on both, and a database of either kind written by a newer Roost is refused. Each step
is a list of parts run in order: plain SQL where both speak it, a :class:`Dialects` pair where
they must differ (SQLite's AUTOINCREMENT and COLLATE NOCASE against PostgreSQL's identity
columns and an index on ``lower(email)``). Milliseconds are BIGINT: PostgreSQL's INTEGER has
32 bits, and to SQLite both names are its 64-bit INTEGER.

A new step is one more entry at the end of :data:`STEPS` (and its new tables in
:data:`TABLES`, which ``roost db copy`` copies). A step a database may already have run must
keep doing exactly what it did to it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from roost.store import slots
from roost.store.base import StoreError

Dialect = Literal["sqlite", "postgres"]


@dataclass(frozen=True)
class Dialects:
    """One part of a step, in each store's own words."""

    sqlite: str
    postgres: str


Part = str | Dialects


class Connection(Protocol):
    def execute(self, sql: str, params: Sequence[Any] = ...) -> Any: ...


STEPS: list[list[Part]] = [
    [
        """
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        """,
        Dialects(
            sqlite="""
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL UNIQUE COLLATE NOCASE,
                password_hash TEXT NOT NULL,
                created TEXT NOT NULL
            );
            """,
            postgres="""
            CREATE TABLE users (
                id TEXT PRIMARY KEY,
                email TEXT NOT NULL,
                password_hash TEXT NOT NULL,
                created TEXT NOT NULL
            );
            CREATE UNIQUE INDEX users_email ON users (lower(email));
            """),
        """
        CREATE TABLE clients (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            description TEXT NOT NULL DEFAULT '',
            secret_hash TEXT,
            redirect_uri TEXT,
            permissions TEXT NOT NULL,
            version INTEGER NOT NULL DEFAULT 1,
            created TEXT NOT NULL
        );
        CREATE TABLE tokens (
            hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
            client_version INTEGER NOT NULL,
            permissions TEXT NOT NULL,
            created TEXT NOT NULL,
            revoked TEXT
        );
        CREATE INDEX tokens_user ON tokens (user_id);
        CREATE TABLE objects (
            kind TEXT NOT NULL,
            id TEXT NOT NULL,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            structure_id TEXT NOT NULL,
            version INTEGER NOT NULL,
            data TEXT NOT NULL,
            PRIMARY KEY (kind, id)
        );
        CREATE INDEX objects_user ON objects (user_id);
        """,
        Dialects(
            sqlite="""
            CREATE TABLE changes (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                at TEXT NOT NULL,
                objects TEXT NOT NULL
            );
            """,
            postgres="""
            CREATE TABLE changes (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at TEXT NOT NULL,
                objects TEXT NOT NULL
            );
            """),
    ],
    # What a user accepted for a product is a grant; tokens and codes hang off it, so accepting
    # a product's update (or narrowing it) reaches every token of that user and product.
    [
        """
        CREATE TABLE grants (
            id TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            client_id TEXT NOT NULL REFERENCES clients (id) ON DELETE CASCADE,
            client_version INTEGER NOT NULL,
            permissions TEXT NOT NULL,
            structures TEXT,
            created TEXT NOT NULL,
            updated TEXT NOT NULL,
            UNIQUE (user_id, client_id)
        );
        """,
        Dialects(  # a random grant id for each (user, product) pair that has tokens
            sqlite="""
            INSERT INTO grants (id, user_id, client_id, client_version, permissions, created,
                                updated)
                SELECT lower(hex(randomblob(16))), user_id, client_id, max(client_version),
                       permissions, min(created), max(created)
                FROM tokens GROUP BY user_id, client_id;
            """,
            postgres="""
            INSERT INTO grants (id, user_id, client_id, client_version, permissions, created,
                                updated)
                SELECT replace(gen_random_uuid()::text, '-', ''), user_id, client_id,
                       max(client_version), min(permissions), min(created), max(created)
                FROM tokens GROUP BY user_id, client_id;
            """),
        """
        ALTER TABLE clients ADD COLUMN owner_id TEXT REFERENCES users (id) ON DELETE CASCADE;
        ALTER TABLE tokens ADD COLUMN grant_id TEXT REFERENCES grants (id) ON DELETE CASCADE;
        ALTER TABLE tokens ADD COLUMN code_hash TEXT;
        UPDATE tokens SET grant_id = (SELECT g.id FROM grants g
                                      WHERE g.user_id = tokens.user_id
                                      AND g.client_id = tokens.client_id);
        ALTER TABLE tokens DROP COLUMN permissions;
        ALTER TABLE tokens DROP COLUMN client_version;
        CREATE INDEX tokens_grant ON tokens (grant_id);
        CREATE INDEX tokens_code ON tokens (code_hash);
        CREATE TABLE codes (
            hash TEXT PRIMARY KEY,
            grant_id TEXT NOT NULL REFERENCES grants (id) ON DELETE CASCADE,
            redirect_uri TEXT,
            expires TEXT NOT NULL,
            used TEXT
        );
        CREATE TABLE sessions (
            hash TEXT PRIMARY KEY,
            user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
            csrf_hash TEXT NOT NULL,
            expires TEXT NOT NULL
        );
        """,
    ],
    # Sessions of the legacy mobile API end after 30 days; other tokens never do (NULL).
    [
        """
        ALTER TABLE tokens ADD COLUMN expires TEXT;
        """,
    ],
    # When each object last changed (ms since the epoch): the legacy API's bucket timestamps.
    [
        """
        ALTER TABLE objects ADD COLUMN updated BIGINT NOT NULL DEFAULT 0;
        """,
    ],
    # Changes to accounts a running server must act on, whichever process made them.
    [
        Dialects(
            sqlite="""
            CREATE TABLE account_events (
                seq INTEGER PRIMARY KEY AUTOINCREMENT,
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                data TEXT NOT NULL
            );
            """,
            postgres="""
            CREATE TABLE account_events (
                seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                at TEXT NOT NULL,
                kind TEXT NOT NULL,
                subject TEXT NOT NULL,
                data TEXT NOT NULL
            );
            """),
    ],
    # Real thermostats speaking the device protocol: kept from their first call, claimed by a
    # user with the entry key they show (only its digest is stored), with their buckets.
    [
        """
        CREATE TABLE devices (
            serial TEXT PRIMARY KEY,
            key_hash TEXT,
            key_expires BIGINT NOT NULL DEFAULT 0,
            user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
            structure_id TEXT,
            device_id TEXT,
            buckets TEXT NOT NULL DEFAULT '{}',
            created TEXT NOT NULL
        );
        CREATE INDEX devices_key ON devices (key_hash);
        """,
    ],
    # Several server processes over one PostgreSQL database (docs/scale-out.md): the slots
    # homes are shared out in, with their leases; the processes; and the counter account
    # events are numbered through there, so several writers' events are read in commit order.
    # Unused on SQLite, one process per file, but the same tables on both.
    [
        slots.TABLE + ";",
        f"""
        INSERT INTO slots (slot) WITH RECURSIVE n (slot) AS
            (SELECT 0 UNION ALL SELECT slot + 1 FROM n WHERE slot < {slots.SLOTS - 1})
            SELECT slot FROM n;
        CREATE TABLE members (owner TEXT PRIMARY KEY, url TEXT NOT NULL,
                              seen TIMESTAMPTZ NOT NULL);
        CREATE TABLE event_counter (seq BIGINT NOT NULL);
        INSERT INTO event_counter (seq) SELECT coalesce(max(seq), 0) FROM account_events;
        """,
        Dialects(sqlite="", postgres="ALTER TABLE account_events ALTER COLUMN seq DROP IDENTITY"),
    ],
    # PostgreSQL's storage of objects, rewritten on every write. A thermostat's row is over
    # 2 KB, where PostgreSQL starts to compress a row's values: a tenth of its time per
    # write went to compressing what is rewritten moments later; rows up to a page are kept
    # as they are (longer ones are still compressed and moved out). Pages half filled leave
    # room for a row's next version beside it, so an update need not add index entries.
    [
        Dialects(sqlite="", postgres="ALTER TABLE objects SET (toast_tuple_target = 8160, "
                                     "fillfactor = 50)"),
    ],
]

# The tables the steps make, parents before the rows that refer to them: the order to fill a
# database in (``roost db copy``).
TABLES = ("meta", "users", "clients", "grants", "tokens", "codes", "sessions", "objects",
          "changes", "account_events", "devices")
# Tables of the servers sharing a database (who serves which homes now, the account events'
# counter): not copied, as a new database's own say nothing is served yet.
SHARING = ("slots", "members", "event_counter")
# Tables numbered by the database (AUTOINCREMENT, identity columns), by their ``seq`` column;
# on PostgreSQL, account events through ``event_counter`` instead.
NUMBERED = ("changes", "account_events")


def latest() -> int:
    """The schema version this Roost writes."""
    return len(STEPS)


def newer(where: str, version: int) -> str:
    """Why a database of ``version`` is refused, when this Roost does not know it."""
    return (f"{where} was written by a newer Roost (schema version {version}; this Roost "
            f"knows up to {latest()})")


def statements(step: list[Part], dialect: Dialect) -> list[str]:
    """A step's statements for one store, in order."""
    texts = [getattr(part, dialect) if isinstance(part, Dialects) else part for part in step]
    return [s for text in texts for s in text.split(";") if s.strip()]


def apply(conn: Connection, dialect: Dialect, version: int,
          record: Callable[[int], None]) -> None:
    """Run the steps after ``version``, each followed by ``record`` of its number; inside the
    caller's transaction, so a database is at the version it had or the newest, never between."""
    for number, step in enumerate(STEPS[version:], start=version + 1):
        for statement in statements(step, dialect):
            conn.execute(statement)
        if number == 1:
            # Keys the per-product user ids in metadata; never leaves the database but
            # for `roost db copy`, into another.
            conn.execute("INSERT INTO meta (key, value) VALUES ('secret', ?)",
                         (secrets.token_hex(32),))
        record(number)


def migrate(conn: Connection) -> None:
    """Bring a SQLite database's schema up to date; run inside the caller's transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > latest():
        raise StoreError(newer("the database", version))
    apply(conn, "sqlite", version, lambda number: conn.execute(f"PRAGMA user_version = {number}"))
