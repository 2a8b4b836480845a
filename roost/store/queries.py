"""The SQL of accounts: users, products (OAuth clients), grants, tokens, codes, web sessions,
and the account events their changes record. Used only by :mod:`roost.store.sqlite`.

Every secret arrives here already hashed; nothing in these tables can be used as a credential.
A function that changes what a running server must know appends the event it records to
``events``, in the same transaction as the change.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

import orjson

from roost.store.records import (
    CLIENT_DELETED,
    CLIENT_UPDATED,
    GRANT_CHANGED,
    TOKENS_REVOKED,
    USER_DELETED,
    AccountEvent,
    Client,
    Code,
    Grant,
    LiveToken,
    TokenInfo,
    User,
    WebSession,
)

Conn = sqlite3.Connection
Events = list[AccountEvent]
KEEP_EVENTS = 10_000  # account events kept for servers catching up; older ones are pruned


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(values: Iterable[str]) -> str:
    return orjson.dumps(sorted(values)).decode()


def secret(conn: Conn) -> str:
    return conn.execute("SELECT value FROM meta WHERE key = 'secret'").fetchone()[0]


# -- users ---------------------------------------------------------------------------------


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


def delete_user(conn: Conn, events: Events, user_id: str) -> bool:
    """Delete a user with everything of theirs (the schema cascades)."""
    # Their own tokens, and other users' tokens for the products they own.
    live = [h for (h,) in conn.execute(
        "SELECT hash FROM tokens WHERE revoked IS NULL AND (user_id = ? OR client_id IN "
        "(SELECT id FROM clients WHERE owner_id = ?))", (user_id, user_id))]
    if conn.execute("DELETE FROM users WHERE id = ?", (user_id,)).rowcount != 1:
        return False
    events.append(record(conn, USER_DELETED, user_id, live))
    return True


# -- products ------------------------------------------------------------------------------


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


def update_client(conn: Conn, events: Events, client_id: str, *, name: str | None = None,
                  description: str | None = None, redirect_uri: str | None = None,
                  clear_redirect_uri: bool = False, permissions: Iterable[str] | None = None,
                  owner_id: str | None = None) -> Client | None:
    """Edit a product (of ``owner_id``, when given). New permissions bump its version; users
    keep what they accepted."""
    current = client(conn, client_id)
    if current is None or (owner_id is not None and current.owner_id != owner_id):
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
    events.append(record(conn, CLIENT_UPDATED, client_id))
    return client(conn, client_id)


def delete_client(conn: Conn, events: Events, client_id: str) -> list[str] | None:
    """Delete a product with its grants, codes and tokens; the digests of its live tokens,
    None if there is no such product."""
    live = _live_tokens(conn, "client_id", client_id)
    if conn.execute("DELETE FROM clients WHERE id = ?", (client_id,)).rowcount != 1:
        return None
    events.append(record(conn, CLIENT_DELETED, client_id, live))
    return live


# -- grants and tokens ---------------------------------------------------------------------


_GRANT = "g.id, g.user_id, g.client_id, g.client_version, g.permissions, g.structures"


def _grant(row: tuple | None) -> Grant | None:  # type: ignore[type-arg]
    if row is None:
        return None
    *head, permissions, structures = row
    return Grant(*head, frozenset(orjson.loads(permissions)),
                 None if structures is None else frozenset(orjson.loads(structures)))


def accept(conn: Conn, events: Events, user_id: str, product: Client,
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
    events.append(record(conn, GRANT_CHANGED, found.id, grant_tokens(conn, found.id), found))
    return found


def grant(conn: Conn, user_id: str, client_id: str) -> Grant | None:
    return _grant(conn.execute(f"SELECT {_GRANT} FROM grants g "
                               "WHERE g.user_id = ? AND g.client_id = ?",
                               (user_id, client_id)).fetchone())


def add_token(conn: Conn, events: Events, token_hash: str, user_id: str, client_id: str,
              code_hash: str | None = None, expires: str | None = None) -> None:
    """A token under the user's grant for the product (accepting it first if there is none);
    ``expires`` (ISO 8601) ends it, None never does."""
    found = grant(conn, user_id, client_id)
    if found is None:
        product = client(conn, client_id)
        assert product is not None, f"no product {client_id}"
        found = accept(conn, events, user_id, product)
    conn.execute(
        "INSERT INTO tokens (hash, user_id, client_id, grant_id, code_hash, created, expires) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (token_hash, user_id, client_id, found.id, code_hash, _now(), expires))


def grants_of(conn: Conn, user_id: str) -> list[Grant]:
    rows = conn.execute(f"SELECT {_GRANT} FROM grants g WHERE g.user_id = ? ORDER BY g.created",
                        (user_id,)).fetchall()
    return [g for row in rows if (g := _grant(row)) is not None]


def users_of(conn: Conn, client_id: str) -> int:
    (count,) = conn.execute("SELECT count(*) FROM grants WHERE client_id = ?",
                            (client_id,)).fetchone()
    return int(count)


def disconnect(conn: Conn, events: Events, user_id: str, client_id: str) -> list[str] | None:
    """Revoke the grant's live tokens and forget it (its codes go with it)."""
    found = grant(conn, user_id, client_id)
    if found is None:
        return None
    live = grant_tokens(conn, found.id)
    conn.execute("UPDATE tokens SET revoked = ? WHERE grant_id = ? AND revoked IS NULL",
                 (_now(), found.id))
    conn.execute("DELETE FROM grants WHERE id = ?", (found.id,))
    events.append(record(conn, TOKENS_REVOKED, found.id, live))
    return live


def tokens_of(conn: Conn, user_id: str, client_id: str) -> list[TokenInfo]:
    return [TokenInfo(*row) for row in conn.execute(
        "SELECT hash, client_id, created, expires FROM tokens WHERE user_id = ? "
        "AND client_id = ? AND revoked IS NULL ORDER BY created", (user_id, client_id))]


def live_token(conn: Conn, token_hash: str) -> LiveToken | None:
    row = conn.execute(f"SELECT {_GRANT}, t.expires FROM tokens t JOIN grants g "
                       "ON g.id = t.grant_id WHERE t.hash = ? AND t.revoked IS NULL",
                       (token_hash,)).fetchone()
    if row is None:
        return None
    found = _grant(row[:-1])
    assert found is not None
    return LiveToken(found, row[-1])


def revoke_token(conn: Conn, events: Events, token_hash: str) -> bool:
    """Revoke a live token; False if there is none with that digest."""
    row = conn.execute("UPDATE tokens SET revoked = ? WHERE hash = ? AND revoked IS NULL "
                       "RETURNING grant_id", (_now(), token_hash)).fetchone()
    if row is None:
        return False
    events.append(record(conn, TOKENS_REVOKED, row[0], [token_hash]))
    return True


def revoke_code_tokens(conn: Conn, events: Events, code_hash: str) -> list[str]:
    """Revoke every live token a code issued; their digests."""
    live = _live_tokens(conn, "code_hash", code_hash)
    conn.execute("UPDATE tokens SET revoked = ? WHERE code_hash = ? AND revoked IS NULL",
                 (_now(), code_hash))
    if live:
        events.append(record(conn, TOKENS_REVOKED, code_hash, live))
    return live


def grant_tokens(conn: Conn, grant_id: str) -> list[str]:
    """The digests of a grant's live tokens."""
    return _live_tokens(conn, "grant_id", grant_id)


def grant_by_id(conn: Conn, grant_id: str) -> Grant | None:
    return _grant(conn.execute(f"SELECT {_GRANT} FROM grants g WHERE g.id = ?",
                               (grant_id,)).fetchone())


def _live_tokens(conn: Conn, column: str, value: str) -> list[str]:
    """Digests of the unrevoked tokens whose ``column`` (a fixed name, never input) is value."""
    return [h for (h,) in conn.execute(
        f"SELECT hash FROM tokens WHERE {column} = ? AND revoked IS NULL", (value,))]


# -- authorization codes and PINs ------------------------------------------------------------


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


def redeem_code(conn: Conn, events: Events, code_hash: str, at: str, token_hash: str) -> bool:
    """Mark a code used and add its token; False if it already was used (a second
    redemption)."""
    found = code(conn, code_hash)
    if found is None or conn.execute("UPDATE codes SET used = ? WHERE hash = ? AND used IS NULL",
                                     (at, code_hash)).rowcount != 1:
        return False
    add_token(conn, events, token_hash, found.user_id, found.client_id, code_hash=code_hash)
    return True


# -- web sessions --------------------------------------------------------------------------


def add_session(conn: Conn, session_hash: str, user_id: str, csrf_hash: str,
                expires: str) -> None:
    conn.execute("INSERT INTO sessions (hash, user_id, csrf_hash, expires) VALUES (?, ?, ?, ?)",
                 (session_hash, user_id, csrf_hash, expires))


def session(conn: Conn, session_hash: str) -> WebSession | None:
    row = conn.execute("SELECT user_id, csrf_hash, expires FROM sessions WHERE hash = ?",
                       (session_hash,)).fetchone()
    return WebSession(*row) if row else None


def end_session(conn: Conn, session_hash: str) -> None:
    conn.execute("DELETE FROM sessions WHERE hash = ?", (session_hash,))


# -- account events ------------------------------------------------------------------------


def record(conn: Conn, kind: str, subject: str, tokens: Iterable[str] = (),
           grant: Grant | None = None) -> AccountEvent:
    """Record an account event in the caller's transaction."""
    digests = tuple(tokens)
    data = {"tokens": digests}
    if grant is not None:
        data["grant"] = _grant_data(grant)
    seq = conn.execute("INSERT INTO account_events (at, kind, subject, data) VALUES (?, ?, ?, ?)",
                       (_now(), kind, subject, orjson.dumps(data).decode())).lastrowid
    assert seq is not None
    if seq % 1000 == 0:
        conn.execute("DELETE FROM account_events WHERE seq <= ?", (seq - KEEP_EVENTS,))
    return AccountEvent(seq, kind, subject, digests, grant)


ACCOUNT_EVENTS = "SELECT seq, kind, subject, data FROM account_events WHERE seq > ? ORDER BY seq"


def account_events(conn: Conn, after: int) -> list[AccountEvent]:
    return events_from(conn.execute(ACCOUNT_EVENTS, (after,)).fetchall())


def events_from(rows: Iterable[tuple[int, str, str, str]]) -> list[AccountEvent]:
    """Account events from their rows (seq, kind, subject, data)."""
    events = []
    for seq, kind, subject, data in rows:
        fields = orjson.loads(data)
        stored = fields.get("grant")
        events.append(AccountEvent(seq, kind, subject, tuple(fields["tokens"]),
                                   None if stored is None else _grant_from(stored)))
    return events


def last_account_event(conn: Conn) -> int:
    return conn.execute("SELECT coalesce(max(seq), 0) FROM account_events").fetchone()[0]


def _grant_data(found: Grant) -> dict[str, object]:
    return {"id": found.id, "user_id": found.user_id, "client_id": found.client_id,
            "client_version": found.client_version, "permissions": sorted(found.permissions),
            "structures": None if found.structures is None else sorted(found.structures)}


def _grant_from(data: dict[str, object]) -> Grant:
    structures = data["structures"]
    return Grant(str(data["id"]), str(data["user_id"]), str(data["client_id"]),
                 int(data["client_version"]),  # type: ignore[call-overload]
                 frozenset(data["permissions"]),  # type: ignore[call-overload]
                 None if structures is None else frozenset(structures))  # type: ignore[call-overload]
