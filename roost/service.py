"""The one way in to the home: read, write and subscribe, for any principal.

Every writer (the data API, the legacy API, the web app, MQTT, real thermostats, the simulator
and Nest's cloud logic) goes through :meth:`Service.write`: locate the object, check the
fields against the table, apply the rules, commit atomically, and only then answer. The
commit's change is applied to the in-memory home and published to streams before the writer
hears back. Structures, rooms and devices are created and deleted the same way
(:meth:`Service.create`, :meth:`Service.delete`); nothing else commits home objects.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import gc
import logging
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from roost import errors, rules
from roost.auth import clients, tokens
from roost.auth.principal import Principal, View
from roost.caches import UserCaches
from roost.clock import Clock, millis, parse, system_clock
from roost.http.errors import Elsewhere
from roost.hub import Hub, Subscriber
from roost.model import document, paths, validate
from roost.model.home import Change, Home, Key, Obj
from roost.model.schema import effective, readable
from roost.rules import lifecycle
from roost.store.base import Fenced, Ownership, Store
from roost.store.records import USER_DELETED, AccountEvent, Grant
from roost.store.slots import slot_of

log = logging.getLogger("roost.service")

_PUT = b'event: put\ndata: {"path":"/","data":'
# Nest's payload for it was never seen; clients act on the event name alone.
AUTH_REVOKED = b"event: auth_revoked\ndata: null\n\n"

Write = tuple[Principal, paths.Path, Any]  # who writes, where, and the body
New = tuple[str, dict[str, Any]]  # what to create: a kind and its values
# Users whose projections (a whole home as one reader may see it) are kept between changes.
CACHED_TREES = 2_000
# Users whose encoded answers are kept: a few KiB each, so enough for every active home.
CACHED_BODIES = 50_000
# A user's slot once computed: asked on every request when several processes share a database.
_slot = functools.lru_cache(maxsize=65_536)(slot_of)
# How often a server looks for account changes another process made (the command line):
# one cheap check, and a read only when the database changed.
FOLLOW_INTERVAL = 0.3


def _frame_location(body: bytes | None) -> bytes:
    """A ``put`` of a location other than the root: the same bytes for every stream."""
    return _PUT + (body or b"null") + b"}\n\n"


async def _nothing() -> None:
    """What a write that changes nothing awaits: it is acknowledged without a commit."""


@contextlib.contextmanager
def _kept_for_good() -> Iterator[None]:
    """For what the block allocates to live as long as the server, with no cycles: the home
    as loaded. The collector is paused meanwhile (it would walk a dict per object again and
    again: half of start-up at 10,000 homes) and then told to leave it out of collections."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


class StreamKey(NamedTuple):
    """Streams with equal keys receive the same bytes, rendered once per change."""

    view: View
    path: paths.Path
    # Only a location under /metadata differs per token; the root splices it in per stream.
    metadata: tuple[tuple[str, object], ...] = ()


class Service:
    """``ownership``: when several processes share the store, the slots this one serves; only
    their homes are in memory, and a request for another home is sent to its owner
    (:meth:`owner_url`). None: the store is this process's alone and every home is served."""

    def __init__(self, store: Store, clock: Clock = system_clock,
                 ownership: Ownership | None = None) -> None:
        self.store = store
        self.clock = clock
        self.ownership = ownership
        self.home = Home()
        self.hub = Hub(self._render)
        # Projections and encoded bodies by user: a change drops only the homes it touched,
        # so a simulator commit of a few hundred homes leaves every other reader's cache.
        self._trees: UserCaches[View, dict[str, Any]] = UserCaches(CACHED_TREES)
        self._encoded: UserCaches[tuple[Hashable, ...], bytes] = UserCaches(CACHED_BODIES)
        # Each live token's principal by the token's digest, as the store names the tokens it
        # revokes; and by the token itself, for a request's one lookup (no digest, and no
        # least-recently-used bookkeeping: over 10,000 homes each cost cache misses).
        self._principals: dict[str, Principal] = {}
        self._by_token: dict[str, Principal] = {}
        self._secret = ""
        self._waiting: dict[str, asyncio.Future[None]] = {}  # user id -> its next change
        self.stopping = False
        self._event_seq = 0  # the newest account event looked at
        self._grant_seq: dict[str, int] = {}  # grant id -> its newest event applied
        self._revocations = 0  # counts revocations, so a token lookup can see one it raced
        self._following: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Change], None]] = []
        self._account_listeners: list[Callable[[AccountEvent], None]] = []

    async def start(self) -> None:
        self.store.open()
        await clients.ensure_first_party(self.store)
        if self.ownership is None:
            with _kept_for_good():
                objects, seq = self.store.load()
                self.home = Home.load(objects, seq)
        self._secret = await self.store.secret()
        # Everything recorded before now is already in what the store answers.
        self._event_seq = await self.store.last_account_event()
        await self.store.data_changed()
        await self.store.start(self._committed, self.account_changed)
        if self.ownership is not None:
            await self.ownership.start(self._take_slots, self._drop_slots)
        self._following = asyncio.create_task(self._follow_accounts())

    async def stop(self) -> None:
        self.end_streams()
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._following
            self._following = None
        await self.store.stop()
        if self.ownership is not None:  # after the last commits: the next owner loads them
            await self.ownership.stop()

    def end_streams(self) -> None:
        """End open streams and long-polls: the server is shutting down, and it waits for open
        responses before it stops."""
        self.stopping = True
        self.hub.close()
        self._wake(list(self._waiting))

    @property
    def secret(self) -> str:
        """Keys derived identifiers (per-product user ids, CSRF tokens); never sent."""
        return self._secret

    # -- who is asking -----------------------------------------------------------------------

    async def authenticate(self, token: str | None, here: bool = True) -> Principal:
        """The principal of a token; 401 for a missing, unknown, revoked or ended one. A token
        seen before is answered from memory, without the store. Unless ``here`` is False, a
        token whose homes another process serves is :class:`Elsewhere` (307 to it), or 503
        while none does (:meth:`owner_url`)."""
        if not token:
            raise errors.unauthorized()
        principal = self._by_token.get(token)
        if principal is None:
            principal = await self._look_up(token)
        if principal.expires is not None and principal.expires <= self.clock():
            self._forget(tokens.digest(token))  # it stays refused: the store says it has ended
            raise errors.unauthorized()
        if here and self.ownership is not None:
            owner = await self.owner_url(principal.user_id)
            if owner is not None:
                raise Elsewhere(owner)
        return principal

    async def _look_up(self, token: str) -> Principal:
        key = tokens.digest(token)
        while True:
            revocations = self._revocations
            found = await self.store.live_token(key)
            if found is None:
                raise errors.unauthorized()
            if revocations == self._revocations:
                break  # else a revocation or grant change came in meanwhile: read again
        grant = found.grant
        principal = self._principals[key] = self._by_token[token] = Principal(
            grant.user_id, grant.client_id, effective(grant.permissions),
            grant.client_version, token,
            tokens.user_id_for(self._secret, grant.user_id, grant.client_id), grant.id,
            structures=grant.structures, expires=parse(found.expires),
        )
        return principal

    def _forget(self, key: str) -> Principal | None:
        """Forget the principal of the token whose digest is ``key``; it, if there was one."""
        principal = self._principals.pop(key, None)
        if principal is not None:
            self._by_token.pop(principal.token, None)
        return principal

    async def revoke(self, token: str) -> bool:
        """Revoke a token: later requests get 401 and its open streams end with
        ``auth_revoked``. False if no live token matches."""
        return await self.store.revoke_token(tokens.digest(token))

    async def delete_client(self, client_id: str) -> bool:
        """Delete a product with its grants, codes and tokens; its tokens' open streams end
        with ``auth_revoked``. False if there is no such product."""
        return await self.store.delete_client(client_id) is not None

    # -- homes served by several processes ---------------------------------------------------

    def serves(self, user_id: str) -> bool:
        """Whether this process serves the user's homes now."""
        return self.ownership is None or _slot(user_id) in self.ownership.held

    async def owner_url(self, user_id: str) -> str | None:
        """Where a user's homes are served: None here; otherwise the URL clients reach their
        live owner at (LIVE_OWNERS, read at most once a second); 503 with Retry-After while
        no live process serves them (between owners, or the database out of reach)."""
        if self.serves(user_id):
            return None
        assert self.ownership is not None
        owner = await self.ownership.owner_url(_slot(user_id))
        if owner is None:
            raise errors.moving()
        return owner

    def _take_slots(self, slots: frozenset[int], objects: list[Obj], seq: int) -> None:
        """Serve these slots' homes, as the store holds them now."""
        with _kept_for_good():
            self.home.add(objects, seq)
        for user_id in {o.user_id for o in objects}:
            self._trees.drop(user_id)
            self._encoded.drop(user_id)
        log.info("serving %d more slots (%d in all)", len(slots),
                 len(self.ownership.held) if self.ownership else 0)

    def _drop_slots(self, slots: frozenset[int]) -> None:
        """Stop serving these slots' homes: forget them, end their streams (clients reconnect
        and are sent on), wake their long-polls. (Their commits still waiting the store has
        already answered: Fenced, then 503.)"""
        users = [u for u in self.home.user_ids() if _slot(u) in slots]
        self.home.drop(users)
        for user_id in users:
            self._trees.drop(user_id)
            self._encoded.drop(user_id)
        self.hub.close(lambda subscriber: _slot(subscriber.group.user_id) in slots)
        self._wake([u for u in self._waiting if _slot(u) in slots])
        log.info("no longer serving %d slots (%d left)", len(slots),
                 len(self.ownership.held) if self.ownership else 0)

    # -- account events ----------------------------------------------------------------------

    def account_changed(self, event: AccountEvent) -> None:
        """Act on an account event, whichever process made it: this one's before its writer
        is answered, another's when :meth:`_follow_accounts` finds it. Acting twice on one
        event, or on an older one after a newer, changes nothing."""
        if event.grant is not None:
            if self._grant_seq.get(event.grant.id, 0) < event.seq:
                self._grant_seq[event.grant.id] = event.seq
                self.grant_changed(event.grant, event.tokens)
        elif event.tokens:
            self.tokens_revoked(event.tokens)
        # A product's own edits change no token: its tokens serve what their grant holds.
        if event.kind == USER_DELETED:
            self._forget_user(event.subject)
        for listener in self._account_listeners:
            listener(event)

    def _forget_user(self, user_id: str) -> None:
        """Drop a deleted user's homes from memory: the store deleted them with the user."""
        gone = tuple(dataclasses.replace(o, deleted=True) for o in self.home.committed.values()
                     if o.user_id == user_id)
        if gone:
            self.home.commit(Change(self.home.seq, gone))
        self._trees.drop(user_id)
        self._encoded.drop(user_id)
        self.hub.publish(frozenset({user_id}))

    async def _follow_accounts(self) -> None:
        """Apply the account events of other processes (the command line on the same file,
        or other servers on a shared database)."""
        unreachable = False
        while True:
            await asyncio.sleep(FOLLOW_INTERVAL)
            try:
                if await self.store.data_changed():
                    for event in await self.store.account_events(after=self._event_seq):
                        # Only this loop moves the cursor: an event of this process may
                        # have a higher number than one of another process not read yet.
                        self._event_seq = event.seq
                        self.account_changed(event)
            except errors.StorageUnavailable as exc:
                if not unreachable:  # once an outage, not every FOLLOW_INTERVAL
                    log.warning("cannot read account events (%s); trying again", exc)
                unreachable = True
                continue
            except Exception:
                log.exception("reading account events failed; trying again")
            if unreachable:
                log.warning("reading account events again")
            unreachable = False

    def tokens_revoked(self, digests: Iterable[str]) -> None:
        """Forget tokens the store has revoked and end their streams with ``auth_revoked``."""
        gone = set(digests)
        self._revocations += 1
        users = {p.user_id for key in gone if (p := self._forget(key))}
        self.hub.close(lambda subscriber: subscriber.owner in gone, AUTH_REVOKED)
        self._wake(users)  # a waiter checks its token again when it wakes

    def grant_changed(self, grant: Grant, digests: Iterable[str]) -> None:
        """Apply a grant the store has just changed (the user accepted a product as it is
        now) to its live tokens: their next requests, and the next event of each of their
        open streams, show what the grant allows now and its ``client_version``.

        Only accepting changes a grant: a product whose permissions were edited keeps serving
        its tokens what the user accepted until the user accepts the update.
        """
        self._revocations += 1
        changed: dict[str, Principal] = {}
        for key in digests:
            old = self._principals.get(key)
            if old is None:
                continue  # not used since start: its first request reads the grant
            new = dataclasses.replace(old, permissions=effective(grant.permissions),
                                      structures=grant.structures,
                                      client_version=grant.client_version)
            if new != old:
                # Replaced rather than dropped: the cached principal is the only place the
                # token itself (metadata.access_token of its streams) is kept.
                self._principals[key] = self._by_token[new.token] = changed[key] = new
        for subscriber in self.hub.subscribers(lambda s: s.owner in changed):
            principal = changed[str(subscriber.owner)]
            old_key = subscriber.group.key
            assert isinstance(old_key, StreamKey)
            key, frame = self._stream(principal, old_key.path)
            self.hub.move(subscriber, key, principal.user_id, frame)

    # -- reading -----------------------------------------------------------------------------

    def _tree(self, view: View) -> dict[str, Any]:
        trees = self._trees.of(view.user_id)
        tree = trees.get(view)
        if tree is None:
            tree = trees[view] = document.project(self.home, *view)
        return tree

    def read(self, principal: Principal, path: paths.Path) -> Any:
        tree = self._tree(principal.view)
        if path[:1] == ("metadata",) or not path:
            tree = {**tree, "metadata": principal.metadata}
        return paths.navigate(tree, path)

    def read_object(self, principal: Principal, kind: str, id: str) -> dict[str, Any] | None:
        """One structure or device as ``principal`` sees it at its location, or None where it
        does not exist for them (as in their tree: with no field of its kind to read, none
        does). Projects that object alone, not the principal's whole tree: for a follower of
        changes that renders each changed object (the MQTT bridge), and for the first read of
        a device after it changed."""
        obj = self.home.get(kind, id)
        fields = readable(principal.permissions)[kind]
        if obj is None or not fields or not principal.may_reach(obj.user_id, obj.structure_id):
            return None
        return document.project_object(self.home, obj, fields, principal.permissions)

    def read_json(self, principal: Principal, path: paths.Path) -> bytes:
        """The encoded value at a location, shared by every principal with the same view."""
        if not path or path[0] == "metadata":
            return orjson.dumps(self.read(principal, path))
        key = (principal.view, path)
        encoded = self._encoded.of(principal.user_id)
        body = encoded.get(key)
        if body is None:
            body = encoded[key] = orjson.dumps(self._read_below_object(principal, path))
        return body

    def _read_below_object(self, principal: Principal, path: paths.Path) -> Any:
        """What :meth:`read` gives, projecting only the object a location is at or below: the
        first read of a device after a write then costs that device, not its whole home (whose
        other objects, in a server of many homes, are seldom still in the CPU's caches)."""
        found = paths.object_at(path)
        if found is not None:
            kind, id, start = found
            projected = self.read_object(principal, kind, id)
            if projected is not None:
                return paths.navigate(projected, path, start)
        return self.read(principal, path)

    # -- writing -----------------------------------------------------------------------------

    def write(self, principal: Principal, path: paths.Path, body: Any) -> Awaitable[object]:
        """Check and plan a write now (its refusal is raised here); what to await for its
        commit. Not a coroutine itself: the commit's is awaited directly, one frame less to
        wake for the busiest request of all."""
        now = self.clock()  # one instant for the rules and the commit's stamp
        changed = self._plan(principal, path, body, now)
        return self._commit(changed, now) if changed else _nothing()

    async def write_many(self, writes: Iterable[Write],
                         atomic: bool = False) -> list[errors.ApiError | None]:
        """Several writes, each checked and planned as :meth:`write` does, committed together:
        one transaction, one change, one event per stream. Each write's refusal is returned in
        its place (None where it went ahead) and does not hold back the others, unless
        ``atomic``: then one refusal means nothing of the batch is written (a request that
        applies whole, like the legacy API's batched puts). A failed commit raises 503 and
        nothing of the batch is written.

        Writes apply in order: one that touches an object an earlier write of the batch
        changed builds on it, and the object gets one new version for the whole batch.
        """
        return await self._batch(
            (functools.partial(self._plan, principal, path, body)
             for principal, path, body in writes), atomic)

    async def _batch(self, steps: Iterable[Callable[[], list[Obj]]],
                     atomic: bool) -> list[errors.ApiError | None]:
        """Plan each step on the home as the steps before it left it, then commit what they
        changed together (see :meth:`write_many`)."""
        batch: dict[Key, Obj] = {}
        # Each object as committed before the batch touched it; None if another writer's
        # commit was still pending then, which the batch's commit must follow in any case.
        before: dict[Key, Obj | None] = {}
        # Those other writers' staged objects, put back if the batch is dropped: the writes
        # that follow must still build on them.
        displaced: dict[Key, Obj] = {}
        outcomes: list[errors.ApiError | None] = []
        try:
            for step in steps:
                try:
                    changed = step()
                except errors.ApiError as exc:
                    outcomes.append(exc)
                    continue
                for obj in changed:
                    earlier = batch.get(obj.key)
                    if earlier is None:
                        staged = self.home.pending.get(obj.key)
                        if staged is not None:
                            displaced[obj.key] = staged
                        before[obj.key] = None if staged else self.home.get(*obj.key)
                    else:  # the store takes one version step per object and commit
                        obj = dataclasses.replace(obj, version=earlier.version)
                    batch[obj.key] = obj
                    # Staged at once, so the batch's later writes validate against it.
                    self.home.pending[obj.key] = obj
                outcomes.append(None)
        except BaseException:
            self._drop(batch, displaced)
            raise
        if atomic and any(refused is not None for refused in outcomes):
            self._drop(batch, displaced)
            return outcomes
        objects = []
        for key, obj in batch.items():
            found = before[key]
            if found is not None and obj.data == found.data and not obj.deleted:
                self.home.unstage([obj])  # written back to what it was: nothing to commit
            else:
                objects.append(obj)
        if objects:
            await self._commit(objects)
        return outcomes

    def _drop(self, batch: dict[Key, Obj], displaced: dict[Key, Obj]) -> None:
        """Unstage a batch that will not be committed."""
        self.home.unstage(batch.values())
        for key, staged in displaced.items():
            if key not in self.home.pending:
                self.home.stage([staged])

    def _plan(self, principal: Principal, path: paths.Path, body: Any,
              now: datetime | None = None) -> list[Obj]:
        """The objects a write changes, checked and planned on the home as it stands with
        pending writes, neither staged nor committed."""
        target = paths.write_target(path, body)
        obj = self.home.get(target.kind, target.id, pending=True)
        if obj is None or not principal.may_reach(obj.user_id, obj.structure_id):
            raise errors.not_found(paths.object_path(target.kind, target.id))
        values = validate.check(obj.kind, target.values, principal.permissions,
                                principal.system)
        planned = rules.plan(self.home, obj, values, now or self.clock(), principal.system)
        # A write that changes nothing is acknowledged without a commit, a version or an event;
        # but one that repeats a write still waiting for its commit must not be answered first.
        pending = self.home.pending
        changed = []
        for o in planned:
            key = o.key
            if key in pending:
                changed.append(o)
                continue
            current = self.home.get(*key)
            if current is None or o.data != current.data:
                changed.append(o)
        return changed

    # -- creating and deleting ---------------------------------------------------------------

    async def create(self, principal: Principal, kind: str, values: dict[str, Any]) -> Obj:
        """Create a structure, a device or a room (kind ``"wheres"``) from ``values``, field
        names of the table (:func:`roost.rules.lifecycle.create` says which): checked,
        planned by the rules, committed atomically and published once, like a write. The new
        object as committed; for a room, its structure.

        Only Roost's own apps and the devices create: no product ever could. A structure the
        principal cannot reach is 404; values the table or the rules refuse are 400."""
        (created,) = await self.create_many(principal, [(kind, values)])
        return created

    async def create_many(self, principal: Principal, new: Iterable[New]) -> list[Obj]:
        """Several objects in one commit, all or nothing (a home with its devices): each is
        planned on the home as the ones before it left it, so a device may name the id its
        structure was given."""
        keys: list[Key] = []

        def step(kind: str, values: dict[str, Any]) -> Callable[[], list[Obj]]:
            def planned() -> list[Obj]:
                changed = self._plan_create(principal, kind, values)
                keys.append(changed[0].key)
                return changed
            return planned

        outcomes = await self._batch((step(kind, values) for kind, values in new), atomic=True)
        refused = next((exc for exc in outcomes if exc is not None), None)
        if refused is not None:
            raise refused
        return [self._committed_obj(key) for key in keys]

    async def delete(self, principal: Principal, kind: str, id: str) -> None:
        """Delete a device; a structure with every device in it; or a room (kind ``"wheres"``,
        by its where_id; refused while a device is in it). One commit, one event."""
        self._may_create(principal)
        if kind == lifecycle.ROOMS:
            holder = next((s for s in self.home.of_user(principal.user_id, "structures")
                           if id in s.data.get("wheres", {})), None)
            if holder is None:
                raise errors.not_found(f"/structures/wheres/{id}")
            structure = self._reach(principal, "structures", holder.id)
            changed = lifecycle.delete_room(self.home, structure, id, self.clock())
        else:
            changed = lifecycle.delete(self.home, self._reach(principal, kind, id))
        await self._commit(changed)

    def _plan_create(self, principal: Principal, kind: str, values: dict[str, Any]) -> list[Obj]:
        self._may_create(principal)
        structure_id = values.get("structure_id")
        if kind != "structures" and isinstance(structure_id, str):
            # Before any check whose answer would tell about another user's home.
            self._reach(principal, "structures", structure_id)
        changed = lifecycle.create(self.home, kind, principal.user_id, values, self.clock())
        new = changed[0]
        if not principal.may_reach(new.user_id, new.structure_id):
            raise errors.not_found(paths.object_path(new.kind, new.id))
        return changed

    @staticmethod
    def _may_create(principal: Principal) -> None:
        if not principal.first_party:
            raise errors.no_write_permission(["structures", "devices"])

    def _reach(self, principal: Principal, kind: str, id: str) -> Obj:
        obj = self.home.get(kind, id, pending=True)
        if obj is None or not principal.may_reach(obj.user_id, obj.structure_id):
            raise errors.not_found(paths.object_path(kind, id))
        return obj

    def _committed_obj(self, key: Key) -> Obj:
        obj = self.home.get(*key)
        assert obj is not None, "applied to the home before its writer is answered"
        return obj

    async def _commit(self, objects: list[Obj], now: datetime | None = None) -> Change:
        """Commit objects the rules produced. Until durable they are visible to validation of
        later writes only; if the commit fails, they are forgotten and nothing was written."""
        updated = millis(now or self.clock())
        for o in objects:  # each built for this commit (by the rules), not yet committed
            o.updated = updated
        if self.ownership is not None and not {
                _slot(o.user_id) for o in objects} <= self.ownership.held.keys():
            raise errors.moving()
        self.home.stage(objects)
        try:
            return await self.store.commit(objects)
        except Exception as exc:
            self.home.unstage(objects)
            if isinstance(exc, Fenced) and self.ownership is not None:
                self.ownership.lose(exc.slots)
            raise errors.storage_unavailable() from exc

    def _committed(self, changes: list[Change]) -> None:
        """Show the changes of one transaction: applied to the home, each given to the
        listeners in order, then, once for all, every touched user's caches dropped and their
        streams and long-polls woken."""
        if self.ownership is not None:  # a commit that ended after its slots were dropped
            held = self.ownership.held
            changes = [change if all(_slot(o.user_id) in held for o in change.objects)
                       else Change(change.seq, tuple(o for o in change.objects
                                                     if _slot(o.user_id) in held))
                       for change in changes]
        self.home.commit(*changes)
        user_ids: set[str] = set()
        for change in changes:
            for o in change.objects:
                user_ids.add(o.user_id)
            for listener in self._listeners:
                try:
                    listener(change)
                except Exception:  # one broken listener must not hold back the others
                    log.exception("change listener failed")
        for user_id in user_ids:
            self._trees.drop(user_id)
            self._encoded.drop(user_id)
        self.hub.publish(user_ids)
        self._wake(user_ids)

    def listen(self, listener: Callable[[Change], None]) -> Callable[[], None]:
        """Call ``listener`` with every committed change (the objects it wrote, deletions
        included), once the home shows it and the rest of its transaction, before the writer
        is answered; the function returned stops it. It runs inside the commit's fan-out, so
        it must be quick: note what changed and read the home later (the MQTT bridge does so)."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def listen_accounts(self, listener: Callable[[AccountEvent], None]) -> Callable[[], None]:
        """Call ``listener`` with every account event once the service has acted on it (a
        device claimed from the command line, say); the function returned stops it."""
        self._account_listeners.append(listener)
        return lambda: self._account_listeners.remove(listener)

    # -- waiting for a change (long-polls) ---------------------------------------------------

    def changed(self, user_id: str) -> asyncio.Future[None]:
        """Done at the next commit that changes one of the user's objects, when one of the
        user's tokens is revoked, and when the server shuts down; a waiter then looks again at
        what it waits for. All of a user's waiters share it: wait with ``asyncio.wait``, never
        cancel it."""
        found = self._waiting.get(user_id)
        if found is None:
            found = self._waiting[user_id] = asyncio.get_running_loop().create_future()
        return found

    def _wake(self, user_ids: Iterable[str]) -> None:
        for user_id in user_ids:
            found = self._waiting.pop(user_id, None)
            if found is not None and not found.done():
                found.set_result(None)

    # -- streaming ---------------------------------------------------------------------------

    def subscribe(self, principal: Principal, path: paths.Path) -> Subscriber:
        """A stream of ``put`` events for a location; 404 if it does not exist now."""
        self.read(principal, path)
        key, frame = self._stream(principal, path)
        return self.hub.subscribe(key, principal.user_id, frame, tokens.digest(principal.token))

    def _stream(self, principal: Principal,
                path: paths.Path) -> tuple[StreamKey, Callable[[bytes | None], bytes]]:
        """The group a principal's stream at ``path`` belongs to, and how it frames a body."""
        key = StreamKey(principal.view, path)
        if not path:
            meta = orjson.dumps(principal.metadata)

            def frame(body: bytes | None) -> bytes:
                inner = (body or b"{}")[1:-1]
                sep = b"," if inner else b""
                return _PUT + b"{" + inner + sep + b'"metadata":' + meta + b"}}\n\n"
        else:
            if path[0] == "metadata":
                key = key._replace(metadata=tuple(principal.metadata.items()))
            frame = _frame_location  # one function for all: the hub frames a change once

        return key, frame

    def _render(self, key: Hashable) -> bytes | None:
        assert isinstance(key, StreamKey)
        tree = self._tree(key.view)
        if not key.path:
            return orjson.dumps(tree)
        if key.metadata:
            tree = {**tree, "metadata": dict(key.metadata)}
        try:
            return orjson.dumps(paths.navigate(tree, key.path))
        except errors.ApiError:
            return None
