"""A store held in memory: the second implementation of the store interface, which keeps the
interface honest (tests/test_store_contract.py runs the same cases against every store). It
forgets everything when the process ends; nothing in Roost serves from it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from roost.model.home import Change, Key, Obj
from roost.store.base import Conflict, Duplicate, OnAccount, OnCommit, Store
from roost.store.records import (
    CLIENT_DELETED,
    CLIENT_UPDATED,
    DEVICE_CLAIMED,
    GRANT_CHANGED,
    TOKENS_REVOKED,
    USER_DELETED,
    AccountEvent,
    ChangeEntry,
    Client,
    Code,
    DeviceRecord,
    Grant,
    LiveToken,
    TokenInfo,
    User,
    WebSession,
)


@dataclass
class _Token:
    user_id: str
    client_id: str
    grant_id: str
    code_hash: str | None
    expires: str | None
    revoked: bool = False
    created: str = ""


@dataclass
class _Code:
    grant_id: str
    redirect_uri: str | None
    expires: str
    used: str | None = None


_TokenTest = Callable[[_Token], bool]
_GrantTest = Callable[[Grant], bool]


class MemoryStore(Store):
    def __init__(self) -> None:
        self._objects: dict[Key, Obj] = {}
        self._changes: list[ChangeEntry] = []
        self._secret = secrets.token_hex(32)
        self._users: dict[str, User] = {}
        self._clients: dict[str, Client] = {}
        self._grants: dict[str, Grant] = {}
        self._tokens: dict[str, _Token] = {}
        self._codes: dict[str, _Code] = {}
        self._sessions: dict[str, WebSession] = {}
        self._events: list[AccountEvent] = []
        self._devices: dict[str, DeviceRecord] = {}
        self._on_commit: OnCommit = lambda changes: None
        self._on_account: OnAccount = lambda event: None
        self._seen: tuple[int, int] = (0, 0)

    # -- lifecycle ---------------------------------------------------------------------------

    def open(self) -> None:
        pass

    async def start(self, on_commit: OnCommit,
                    on_account: OnAccount = lambda event: None) -> None:
        self._on_commit = on_commit
        self._on_account = on_account

    async def stop(self) -> None:
        pass

    def close(self) -> None:
        pass

    # -- home objects ------------------------------------------------------------------------

    async def commit(self, objects: Iterable[Obj]) -> Change:
        objs = tuple(objects)
        wrong = [f"{o.kind}/{o.id} version {o.version}" for o in objs if not o.deleted
                 and (stored := self._objects.get(o.key)) is not None
                 and (stored.version != o.version - 1 or stored.user_id != o.user_id)]
        if wrong:
            raise Conflict("not next to the stored version, or of another owner: "
                           + ", ".join(wrong))
        for o in objs:
            if o.deleted:
                self._objects.pop(o.key, None)
            else:
                self._objects[o.key] = o
        seq = (self._changes[-1].seq if self._changes else 0) + 1
        self._changes.append(ChangeEntry(seq, tuple((o.kind, o.id, o.version) for o in objs)))
        change = Change(seq, objs)
        self._on_commit([change])
        return change

    def load(self) -> tuple[list[Obj], int]:
        return list(self._objects.values()), self._changes[-1].seq if self._changes else 0

    async def changes_since(self, seq: int) -> list[ChangeEntry]:
        return [c for c in self._changes if c.seq > seq]

    # -- accounts ----------------------------------------------------------------------------

    async def secret(self) -> str:
        return self._secret

    async def ensure_client(self, client_id: str, name: str, permissions: Iterable[str],
                            description: str = "") -> None:
        found = self._clients.get(client_id)
        if found is None:
            self._clients[client_id] = Client(client_id, name, description, None, None,
                                              frozenset(permissions), 1)
        else:
            self._clients[client_id] = replace(found, permissions=frozenset(permissions))

    async def create_user(self, email: str, password_hash: str) -> User:
        if await self.user_by_email(email) is not None:
            raise Duplicate(f"a user with email {email} already exists")
        user = User(uuid.uuid4().hex, email, password_hash)
        self._users[user.id] = user
        return user

    async def user_by_email(self, email: str) -> User | None:
        wanted = email.casefold()
        return next((u for u in self._users.values() if u.email.casefold() == wanted), None)

    async def user_by_id(self, user_id: str) -> User | None:
        return self._users.get(user_id)

    async def users(self) -> list[User]:
        return list(self._users.values())

    async def set_password_hash(self, user_id: str, password_hash: str) -> None:
        if user_id in self._users:
            self._users[user_id] = replace(self._users[user_id], password_hash=password_hash)

    async def delete_user(self, user_id: str) -> bool:
        if self._users.pop(user_id, None) is None:
            return False
        owned = {c.id for c in self._clients.values() if c.owner_id == user_id}
        live = self._live(lambda t: t.user_id == user_id or t.client_id in owned)
        for client_id in owned:
            self._drop_client(client_id)
        for serial, found in list(self._devices.items()):  # as ON DELETE SET NULL does
            if found.user_id == user_id:
                self._devices[serial] = replace(found, user_id=None)
        self._drop(lambda t: t.user_id == user_id, self._grants,
                   lambda g: g.user_id == user_id)
        self._objects = {k: o for k, o in self._objects.items() if o.user_id != user_id}
        self._sessions = {k: s for k, s in self._sessions.items() if s.user_id != user_id}
        self._record(USER_DELETED, user_id, live)
        return True

    async def create_client(self, name: str, description: str, secret_hash: str,
                            redirect_uri: str | None, permissions: Iterable[str],
                            owner_id: str | None = None) -> Client:
        product = Client(str(uuid.uuid4()), name, description, secret_hash, redirect_uri,
                         frozenset(permissions), 1, owner_id)
        self._clients[product.id] = product
        return product

    async def client(self, client_id: str) -> Client | None:
        return self._clients.get(client_id)

    async def clients(self) -> list[Client]:
        return list(self._clients.values())

    async def update_client(self, client_id: str, *, name: str | None = None,
                            description: str | None = None, redirect_uri: str | None = None,
                            clear_redirect_uri: bool = False,
                            permissions: Iterable[str] | None = None,
                            owner_id: str | None = None) -> Client | None:
        current = self._clients.get(client_id)
        if current is None or (owner_id is not None and current.owner_id != owner_id):
            return None
        chosen = current.permissions if permissions is None else frozenset(permissions)
        product = self._clients[client_id] = replace(
            current,
            name=current.name if name is None else name,
            description=current.description if description is None else description,
            redirect_uri=None if clear_redirect_uri else (redirect_uri or current.redirect_uri),
            permissions=chosen, version=current.version + (chosen != current.permissions))
        self._record(CLIENT_UPDATED, client_id)
        return product

    async def delete_client(self, client_id: str) -> list[str] | None:
        if client_id not in self._clients:
            return None
        live = self._live(lambda t: t.client_id == client_id)
        self._drop_client(client_id)
        self._record(CLIENT_DELETED, client_id, live)
        return live

    async def accept(self, user_id: str, product: Client,
                     structures: Iterable[str] | None = None) -> Grant:
        found = await self.grant(user_id, product.id)
        grant = Grant(found.id if found else uuid.uuid4().hex, user_id, product.id,
                      product.version, product.permissions,
                      None if structures is None else frozenset(structures))
        self._grants[grant.id] = grant
        self._record(GRANT_CHANGED, grant.id, self._live(lambda t: t.grant_id == grant.id),
                     grant)
        return grant

    async def grant(self, user_id: str, client_id: str) -> Grant | None:
        return next((g for g in self._grants.values()
                     if g.user_id == user_id and g.client_id == client_id), None)

    async def add_token(self, token_hash: str, user_id: str, client_id: str,
                        code_hash: str | None = None, expires: str | None = None) -> None:
        found = await self.grant(user_id, client_id)
        if found is None:
            product = self._clients.get(client_id)
            assert product is not None, f"no product {client_id}"
            found = await self.accept(user_id, product)
        self._tokens[token_hash] = _Token(user_id, client_id, found.id, code_hash, expires,
                                          created=datetime.now(UTC).isoformat())

    async def live_token(self, token_hash: str) -> LiveToken | None:
        token = self._tokens.get(token_hash)
        if token is None or token.revoked:
            return None
        return LiveToken(self._grants[token.grant_id], token.expires)

    async def grants_of(self, user_id: str) -> list[Grant]:
        return [g for g in self._grants.values() if g.user_id == user_id]

    async def users_of(self, client_id: str) -> int:
        return sum(1 for g in self._grants.values() if g.client_id == client_id)

    async def disconnect(self, user_id: str, client_id: str) -> list[str] | None:
        found = await self.grant(user_id, client_id)
        if found is None:
            return None
        live = self._live(lambda t: t.grant_id == found.id)
        self._drop(lambda t: False, self._grants, lambda g: g.id == found.id)
        self._record(TOKENS_REVOKED, found.id, live)
        return live

    async def tokens_of(self, user_id: str, client_id: str) -> list[TokenInfo]:
        return [TokenInfo(h, t.client_id, t.created, t.expires) for h, t in self._tokens.items()
                if t.user_id == user_id and t.client_id == client_id and not t.revoked]

    async def revoke_token(self, token_hash: str) -> bool:
        token = self._tokens.get(token_hash)
        if token is None or token.revoked:
            return False
        token.revoked = True
        self._record(TOKENS_REVOKED, token.grant_id, [token_hash])
        return True

    async def add_code(self, code_hash: str, grant_id: str, redirect_uri: str | None,
                       expires: str) -> None:
        self._codes[code_hash] = _Code(grant_id, redirect_uri, expires)

    async def code(self, code_hash: str) -> Code | None:
        found = self._codes.get(code_hash)
        if found is None:
            return None
        grant = self._grants[found.grant_id]
        return Code(code_hash, found.grant_id, grant.client_id, grant.user_id,
                    found.redirect_uri, found.expires, found.used)

    async def redeem_code(self, code_hash: str, at: str, token_hash: str) -> bool:
        found = await self.code(code_hash)
        if found is None or found.used is not None:
            return False
        self._codes[code_hash].used = at
        await self.add_token(token_hash, found.user_id, found.client_id, code_hash=code_hash)
        return True

    async def revoke_code_tokens(self, code_hash: str) -> list[str]:
        live = self._live(lambda t: t.code_hash == code_hash)
        for key in live:
            self._tokens[key].revoked = True
        if live:
            self._record(TOKENS_REVOKED, code_hash, live)
        return live

    async def add_session(self, session_hash: str, user_id: str, csrf_hash: str,
                          expires: str) -> None:
        self._sessions[session_hash] = WebSession(user_id, csrf_hash, expires)

    async def session(self, session_hash: str) -> WebSession | None:
        return self._sessions.get(session_hash)

    # -- real thermostats ---------------------------------------------------------------------

    async def device(self, serial: str) -> DeviceRecord | None:
        return self._devices.get(serial)

    async def devices(self) -> list[DeviceRecord]:
        return [self._devices[s] for s in sorted(self._devices)]

    async def save_device_buckets(self, serial: str, buckets: str) -> None:
        self._devices[serial] = replace(self._devices.get(serial, DeviceRecord(serial)),
                                        buckets=buckets)

    async def set_entry_key(self, serial: str, key_hash: str, expires: int) -> None:
        self._devices[serial] = replace(self._devices.get(serial, DeviceRecord(serial)),
                                        key_hash=key_hash, key_expires=expires)

    async def claim_device(self, key_hash: str, now_ms: int, user_id: str,
                           structure_id: str | None) -> DeviceRecord | None:
        found = next((d for d in self._devices.values()
                      if d.key_hash == key_hash and d.key_expires > now_ms), None)
        if found is None:
            return None
        if found.user_id is not None:
            raise Conflict(f"device {found.serial} is already claimed")
        claimed = self._devices[found.serial] = replace(
            found, user_id=user_id, structure_id=structure_id, device_id=None)
        self._record(DEVICE_CLAIMED, found.serial)
        return claimed

    async def attach_device(self, serial: str, structure_id: str, device_id: str) -> None:
        found = self._devices.get(serial)
        if found is not None:
            self._devices[serial] = replace(found, structure_id=structure_id,
                                            device_id=device_id)

    async def end_session(self, session_hash: str) -> None:
        self._sessions.pop(session_hash, None)

    # -- account events ----------------------------------------------------------------------

    async def account_events(self, after: int) -> list[AccountEvent]:
        return [e for e in self._events if e.seq > after]

    async def last_account_event(self) -> int:
        return self._events[-1].seq if self._events else 0

    async def data_changed(self) -> bool:
        now = (await self.last_account_event(), self.load()[1])
        changed, self._seen = now != self._seen, now
        return changed

    # -- internals ---------------------------------------------------------------------------

    def _record(self, kind: str, subject: str, tokens: Iterable[str] = (),
                grant: Grant | None = None) -> None:
        seq = (self._events[-1].seq if self._events else 0) + 1
        event = AccountEvent(seq, kind, subject, tuple(tokens), grant)
        self._events.append(event)
        self._on_account(event)

    def _live(self, predicate: _TokenTest) -> list[str]:
        return [h for h, t in self._tokens.items() if not t.revoked and predicate(t)]

    def _drop_client(self, client_id: str) -> None:
        self._clients.pop(client_id, None)
        self._drop(lambda t: t.client_id == client_id, self._grants,
                   lambda g: g.client_id == client_id)

    def _drop(self, tokens: _TokenTest, grants: dict[str, Grant],
              grant_test: _GrantTest) -> None:
        """Forget tokens, and grants with their codes, as the SQL schema cascades."""
        gone = {g.id for g in grants.values() if grant_test(g)}
        self._tokens = {h: t for h, t in self._tokens.items()
                        if not tokens(t) and t.grant_id not in gone}
        self._codes = {h: c for h, c in self._codes.items() if c.grant_id not in gone}
        for grant_id in gone:
            del grants[grant_id]

