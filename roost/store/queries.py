"""Jobs on accounts: users, products (OAuth clients), grants, tokens, codes and web sessions.

Every secret arrives here already hashed; nothing in these tables can be used as a credential.
"""

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


def _json(values: Iterable[str]) -> str:
    return orjson.dumps(sorted(values)).decode()


def secret(conn: Conn) -> str:
    return conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0]


# -- users ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class User:
    id: str
    email: str
    password_hash: str


def create_user(conn: Conn, email: str, password_hash: str) -> User:
    user = User(uuid.uuid4().hex, email, password_hash)
    conn.execute("INSERT INTO users (id, email, password_hash, created) VALUES (?, ?, ?, ?)",
                 (user.id, email, password_hash, _now()))
    return user


def user_by_email(conn: Conn, email: str) -> User | None:
    row = conn.execute("SELECT id, email, password_hash FROM users WHERE email = ?",
                       (email,)).fetchone()
    return User(*row) if row else None


def user_by_id(conn: Conn, user_id: str) -> User | None:
    row = conn.execute("SELECT id, email, password_hash FROM users WHERE id = ?",
                       (user_id,)).fetchone()
    return User(*row) if row else None


def users(conn: Conn) -> list[User]:
    rows = conn.execute("SELECT id, email, password_hash FROM users ORDER BY created, email")
    return [User(*row) for row in rows]


def set_password_hash(conn: Conn, user_id: str, password_hash: str) -> None:
    conn.execute("UPDATE users SET password_hash = ? WHERE id = ?", (password_hash, user_id))


# -- products ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    id: str
    name: str
    description: str
    secret_hash: str | None
    redirect_uri: str | None
    permissions: frozenset[str]
    version: int
    owner_id: str | None = None  # the developer who manages it; None for Roost's own


_CLIENT = "id, name, description, secret_hash, redirect_uri, permissions, version, owner_id"


def _client(row: tuple | None) -> Client | None:  # type: ignore[type-arg]
    if row is None:
        return None
    *head, permissions, version, owner_id = row
    return Client(*head, frozenset(orjson.loads(permissions)), version, owner_id)


def ensure_client(conn: Conn, client_id: str, name: str, permissions: Iterable[str],
                  description: str = "") -> None:
    """Create a product, or give an existing one these permissions (version unchanged)."""
    conn.execute(
        "INSERT INTO clients (id, name, description, permissions, created) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET permissions = excluded.permissions",
        (client_id, name, description, _json(permissions), _now()),
    )


def create_client(conn: Conn, name: str, description: str, secret_hash: str,
                  redirect_uri: str | None, permissions: Iterable[str],
                  owner_id: str | None = None) -> Client:
    client_id = str(uuid.uuid4())
    conn.execute(
        "INSERT INTO clients (id, name, description, secret_hash, redirect_uri, permissions, "
        "version, owner_id, created) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
        (client_id, name, description, secret_hash, redirect_uri, _json(permissions), owner_id,
         _now()))
    found = client(conn, client_id)
    assert found is not None
    return found


def client(conn: Conn, client_id: str) -> Client | None:
    return _client(conn.execute(f"SELECT {_CLIENT} FROM clients WHERE id = ?",
                                (client_id,)).fetchone())


def clients(conn: Conn) -> list[Client]:
    rows = conn.execute(f"SELECT {_CLIENT} FROM clients ORDER BY created, id").fetchall()
    return [c for c in map(_client, rows) if c is not None]


def update_client(conn: Conn, client_id: str, *, name: str | None = None,
                  description: str | None = None, redirect_uri: str | None = None,
                  clear_redirect_uri: bool = False,
                  permissions: Iterable[str] | None = None) -> Client | None:
    """Edit a product. New permissions bump its version; users keep what they accepted."""
    current = client(conn, client_id)
    if current is None:
        return None
    new_permissions = current.permissions if permissions is None else frozenset(permissions)
    bump = new_permissions != current.permissions
    conn.execute(
        "UPDATE clients SET name = ?, description = ?, redirect_uri = ?, permissions = ?, "
        "version = version + ? WHERE id = ?",
        (name if name is not None else current.name,
         description if description is not None else current.description,
         None if clear_redirect_uri else (redirect_uri or current.redirect_uri),
         _json(new_permissions), int(bump), client_id))
    return client(conn, client_id)


def delete_client(conn: Conn, client_id: str) -> list[str]:
    """Delete a product with its grants, codes and tokens; the digests of its live tokens."""
    live = _live_tokens(conn, "client_id", client_id)
    conn.execute("DELETE FROM clients WHERE id = ?", (client_id,))
    return live


# -- grants and tokens ---------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    id: str
    user_id: str
    client_id: str
    client_version: int
    permissions: frozenset[str]
    structures: frozenset[str] | None = None  # the homes the user chose; None: all


_GRANT = "g.id, g.user_id, g.client_id, g.client_version, g.permissions, g.structures"


def _grant(row: tuple | None) -> Grant | None:  # type: ignore[type-arg]
    if row is None:
        return None
    *head, permissions, structures = row
    return Grant(*head, frozenset(orjson.loads(permissions)),
                 None if structures is None else frozenset(orjson.loads(structures)))


def accept(conn: Conn, user_id: str, product: Client,
           structures: Iterable[str] | None = None) -> Grant:
    """The user accepts the product as it is now: its permissions at its current version,
    for the chosen structures (all of them when None)."""
    now = _now()
    chosen = None if structures is None else _json(structures)
    conn.execute(
        "INSERT INTO grants (id, user_id, client_id, client_version, permissions, structures, "
        "created, updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, client_id) "
        "DO UPDATE SET client_version = excluded.client_version, "
        "permissions = excluded.permissions, structures = excluded.structures, "
        "updated = excluded.updated",
        (uuid.uuid4().hex, user_id, product.id, product.version, _json(product.permissions),
         chosen, now, now))
    found = grant(conn, user_id, product.id)
    assert found is not None
    return found


def grant(conn: Conn, user_id: str, client_id: str) -> Grant | None:
    return _grant(conn.execute(f"SELECT {_GRANT} FROM grants g "
                               "WHERE g.user_id = ? AND g.client_id = ?",
                               (user_id, client_id)).fetchone())


def add_token(conn: Conn, token_hash: str, user_id: str, client_id: str,
              code_hash: str | None = None, expires: str | None = None) -> None:
    """A token under the user's grant for the product (accepting it first if there is none);
    ``expires`` (ISO 8601) ends it, None never does."""
    found = grant(conn, user_id, client_id)
    if found is None:
        product = client(conn, client_id)
        assert product is not None, f"no product {client_id}"
        found = accept(conn, user_id, product)
    conn.execute(
        "INSERT INTO tokens (hash, user_id, client_id, grant_id, code_hash, created, expires) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (token_hash, user_id, client_id, found.id, code_hash, _now(), expires))


def token_expires(conn: Conn, token_hash: str) -> str | None:
    """When a token stops working (ISO 8601); None if never, or if there is no such token."""
    row = conn.execute("SELECT expires FROM tokens WHERE hash = ?", (token_hash,)).fetchone()
    return row[0] if row else None


def token_grant(conn: Conn, token_hash: str) -> Grant | None:
    return _grant(conn.execute(f"SELECT {_GRANT} FROM tokens t JOIN grants g "
                               "ON g.id = t.grant_id WHERE t.hash = ? AND t.revoked IS NULL",
                               (token_hash,)).fetchone())


def revoke_token(conn: Conn, token_hash: str) -> bool:
    """Revoke a live token; False if there is none with that digest."""
    return conn.execute("UPDATE tokens SET revoked = ? WHERE hash = ? AND revoked IS NULL",
                        (_now(), token_hash)).rowcount == 1


def revoke_code_tokens(conn: Conn, code_hash: str) -> list[str]:
    """Revoke every live token a code issued; their digests."""
    live = _live_tokens(conn, "code_hash", code_hash)
    conn.execute("UPDATE tokens SET revoked = ? WHERE code_hash = ? AND revoked IS NULL",
                 (_now(), code_hash))
    return live


def grant_tokens(conn: Conn, grant_id: str) -> list[str]:
    """The digests of a grant's live tokens."""
    return _live_tokens(conn, "grant_id", grant_id)


def _live_tokens(conn: Conn, column: str, value: str) -> list[str]:
    """Digests of the unrevoked tokens whose ``column`` (a fixed name, never input) is value."""
    return [h for (h,) in conn.execute(
        f"SELECT hash FROM tokens WHERE {column} = ? AND revoked IS NULL", (value,))]


# -- authorization codes and PINs ------------------------------------------------------------


@dataclass(frozen=True)
class Code:
    hash: str
    grant_id: str
    client_id: str
    user_id: str
    redirect_uri: str | None
    expires: str
    used: str | None


def add_code(conn: Conn, code_hash: str, grant_id: str, redirect_uri: str | None,
             expires: str) -> None:
    conn.execute("INSERT INTO codes (hash, grant_id, redirect_uri, expires) VALUES (?, ?, ?, ?)",
                 (code_hash, grant_id, redirect_uri, expires))


def code(conn: Conn, code_hash: str) -> Code | None:
    row = conn.execute(
        "SELECT c.hash, c.grant_id, g.client_id, g.user_id, c.redirect_uri, c.expires, c.used "
        "FROM codes c JOIN grants g ON g.id = c.grant_id WHERE c.hash = ?",
        (code_hash,)).fetchone()
    return Code(*row) if row else None


def use_code(conn: Conn, code_hash: str, at: str) -> bool:
    """Mark a code used; False if it already was (a second redemption)."""
    return conn.execute("UPDATE codes SET used = ? WHERE hash = ? AND used IS NULL",
                        (at, code_hash)).rowcount == 1


# -- web sessions --------------------------------------------------------------------------


def add_session(conn: Conn, session_hash: str, user_id: str, csrf_hash: str,
                expires: str) -> None:
    conn.execute("INSERT INTO sessions (hash, user_id, csrf_hash, expires) VALUES (?, ?, ?, ?)",
                 (session_hash, user_id, csrf_hash, expires))


def session(conn: Conn, session_hash: str) -> tuple[str, str, str] | None:
    """(user_id, csrf_hash, expires) of a session."""
    return conn.execute("SELECT user_id, csrf_hash, expires FROM sessions WHERE hash = ?",
                        (session_hash,)).fetchone()
