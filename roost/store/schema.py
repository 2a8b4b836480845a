"""The SQL schema, applied in numbered steps recorded in ``PRAGMA user_version``."""

from __future__ import annotations

import secrets
import sqlite3

MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL UNIQUE COLLATE NOCASE,
        password_hash TEXT NOT NULL,
        created TEXT NOT NULL
    );
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
    CREATE TABLE changes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        objects TEXT NOT NULL
    );
    """,
    # What a user accepted for a product is a grant; tokens and codes hang off it, so accepting
    # a product's update (or narrowing it) reaches every token of that user and product.
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
    INSERT INTO grants (id, user_id, client_id, client_version, permissions, created, updated)
        SELECT lower(hex(randomblob(16))), user_id, client_id, max(client_version),
               permissions, min(created), max(created)
        FROM tokens GROUP BY user_id, client_id;
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
    # Sessions of the legacy mobile API end after 30 days; other tokens never do (NULL).
    """
    ALTER TABLE tokens ADD COLUMN expires TEXT;
    """,
    # When each object last changed (ms since the epoch): the legacy API's bucket timestamps.
    """
    ALTER TABLE objects ADD COLUMN updated INTEGER NOT NULL DEFAULT 0;
    """,
    # Changes to accounts a running server must act on, whichever process made them.
    """
    CREATE TABLE account_events (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        kind TEXT NOT NULL,
        subject TEXT NOT NULL,
        data TEXT NOT NULL
    );
    """,
    # Real thermostats speaking the device protocol: kept from their first call, claimed by a
    # user with the entry key they show (only its digest is stored), with their buckets.
    """
    CREATE TABLE devices (
        serial TEXT PRIMARY KEY,
        key_hash TEXT,
        key_expires INTEGER NOT NULL DEFAULT 0,
        user_id TEXT REFERENCES users (id) ON DELETE SET NULL,
        structure_id TEXT,
        device_id TEXT,
        buckets TEXT NOT NULL DEFAULT '{}',
        created TEXT NOT NULL
    );
    CREATE INDEX devices_key ON devices (key_hash);
    """,
]


def migrate(conn: sqlite3.Connection) -> None:
    """Bring the schema up to date; run inside the caller's transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
        for statement in filter(str.strip, script.split(";")):
            conn.execute(statement)
        if number == 1:
            # Keys the per-product user ids in metadata; never leaves the database.
            conn.execute("INSERT INTO meta (key, value) VALUES ('secret', ?)",
                         (secrets.token_hex(32),))
        conn.execute(f"PRAGMA user_version = {number}")
