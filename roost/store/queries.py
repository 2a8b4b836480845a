"""Jobs on accounts: users, products (OAuth clients) and tokens. Secrets arrive hashed."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import orjson

Conn = sqlite3.Connection


def _now() -> str:
    return datetime.now(UTC).isoformat()


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str


@dataclass(frozen=True)
class TokenGrant:
    user_id: str
    client_id: str
    client_version: int
    permissions: frozenset[str]


def secret(conn: Conn) -> str:
    return conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0]


def create_user(conn: Conn, email: str, password_hash: str) -> User:
    user = User(uuid.uuid4().hex, email, password_hash)
    conn.execute("INSERT INTO users (id, email, password_hash, created) VALUES (?, ?, ?, ?)",
                 (user.id, email, password_hash, _now()))
    return user


def user_by_email(conn: Conn, email: str) -> User | None:
    row = conn.execute("SELECT id, email, password_hash FROM users WHERE email = ?",
                       (email,)).fetchone()
    return User(*row) if row else None


def ensure_client(conn: Conn, client_id: str, name: str, permissions: Iterable[str],
                  description: str = "") -> None:
    conn.execute(
        "INSERT INTO clients (id, name, description, permissions, created) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET permissions = excluded.permissions",
        (client_id, name, description, orjson.dumps(sorted(permissions)).decode(), _now()),
    )


def add_token(conn: Conn, token_hash: str, user_id: str, client_id: str) -> None:
    """Record a token granting what the product asks for now, at its current version."""
    version, permissions = conn.execute(
        "SELECT version, permissions FROM clients WHERE id = ?", (client_id,)).fetchone()
    conn.execute(
        "INSERT INTO tokens (hash, user_id, client_id, client_version, permissions, created) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (token_hash, user_id, client_id, version, permissions, _now()),
    )


def revoke_token(conn: Conn, token_hash: str) -> bool:
    """Revoke a live token; False if there is none with that digest."""
    return conn.execute("UPDATE tokens SET revoked = ? WHERE hash = ? AND revoked IS NULL",
                        (_now(), token_hash)).rowcount == 1


def token_grant(conn: Conn, token_hash: str) -> TokenGrant | None:
    row = conn.execute(
        "SELECT user_id, client_id, client_version, permissions FROM tokens "
        "WHERE hash = ? AND revoked IS NULL", (token_hash,)).fetchone()
    if row is None:
        return None
    user_id, client_id, version, permissions = row
    return TokenGrant(user_id, client_id, version, frozenset(orjson.loads(permissions)))
