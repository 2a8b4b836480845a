"""The objects of every home, in memory, as last committed to the store.

Reads and streams project from the committed objects only. A write that passed validation but
is not yet durable sits in ``pending``; later writes validate against it (so concurrent writes
compose in order), but no reader ever sees it before its commit.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

Key = tuple[str, str]

DEVICE_KINDS = ("thermostats", "smoke_co_alarms", "cameras")


@dataclass(frozen=True, slots=True)
class Obj:
    """One structure or device. ``data`` holds stored (canonical) values and is never mutated."""

    kind: str
    id: str
    user_id: str
    structure_id: str
    version: int
    data: dict[str, Any]
    deleted: bool = False
    # When it last changed, ms since the epoch on the service's clock: stamped at commit
    # (the legacy API's bucket timestamps); 0 for objects not yet committed.
    updated: int = 0

    @property
    def key(self) -> Key:
        return (self.kind, self.id)

    def evolve(self, data: dict[str, Any]) -> Obj:
        return Obj(self.kind, self.id, self.user_id, self.structure_id, self.version + 1, data,
                   self.deleted, self.updated)

    # The two below are what dataclasses.replace would give, built directly: they run for
    # every write, and replace() inspects the class's fields each time.
    def with_data(self, data: dict[str, Any]) -> Obj:
        return Obj(self.kind, self.id, self.user_id, self.structure_id, self.version, data,
                   self.deleted, self.updated)

    def stamped(self, updated: int) -> Obj:
        return Obj(self.kind, self.id, self.user_id, self.structure_id, self.version,
                   self.data, self.deleted, updated)


@dataclass(frozen=True, slots=True)
class Change:
    """One commit: the objects it wrote, and the store's sequence number for it."""

    seq: int
    objects: tuple[Obj, ...]

    @property
    def user_ids(self) -> frozenset[str]:
        return frozenset(o.user_id for o in self.objects)


@dataclass
class Home:
    committed: dict[Key, Obj] = field(default_factory=dict)
    pending: dict[Key, Obj] = field(default_factory=dict)
    seq: int = 0
    _by_structure: dict[str, set[Key]] = field(default_factory=dict)
    _by_user: dict[str, set[Key]] = field(default_factory=dict)

    @classmethod
    def load(cls, objects: Iterable[Obj], seq: int) -> Home:
        home = cls(seq=seq)
        for obj in objects:
            home._put(obj)
        return home

    # -- reading ---------------------------------------------------------------------------

    def get(self, kind: str, id: str, pending: bool = False) -> Obj | None:
        key = (kind, id)
        obj = (self.pending.get(key) if pending else None) or self.committed.get(key)
        return None if obj is None or obj.deleted else obj

    def of_user(self, user_id: str, kind: str) -> Iterator[Obj]:
        for key in sorted(self._by_user.get(user_id, ())):
            if key[0] == kind:
                yield self.committed[key]

    def user_ids(self) -> list[str]:
        """The users with objects here."""
        return list(self._by_user)

    def in_structure(self, structure_id: str, kind: str, pending: bool = False) -> list[Obj]:
        found = []
        for key in sorted(self._by_structure.get(structure_id, ())):
            if key[0] == kind:
                obj = self.get(*key, pending=pending)
                if obj is not None:
                    found.append(obj)
        return found

    # -- writing ---------------------------------------------------------------------------

    def stage(self, objects: Iterable[Obj]) -> None:
        for obj in objects:
            self.pending[obj.key] = obj
            # A new object is found in its structure before its commit: deleting the
            # structure meanwhile takes it too.
            self._by_structure.setdefault(obj.structure_id, set()).add(obj.key)

    def unstage(self, objects: Iterable[Obj]) -> None:
        for obj in objects:
            if self.pending.get(obj.key) is obj:
                del self.pending[obj.key]
                if obj.key not in self.committed:  # never committed: forgotten
                    self._by_structure.get(obj.structure_id, set()).discard(obj.key)

    def commit(self, change: Change) -> None:
        for obj in change.objects:
            self._put(obj)
        self.unstage(change.objects)
        self.seq = change.seq

    # -- homes served elsewhere (several processes over one database) ----------------------

    def add(self, objects: Iterable[Obj], seq: int) -> None:
        """Homes this process now serves, as the store holds them; ``seq`` is the store's
        newest change, so caches keyed by it see that the home moved on."""
        for obj in objects:
            self._put(obj)
        self.seq = max(self.seq, seq)

    def drop(self, user_ids: Iterable[str]) -> None:
        """Forget these users' homes, committed and pending: another process serves them."""
        for user_id in user_ids:
            for key in self._by_user.pop(user_id, set()):
                obj = self.committed.pop(key)
                self.pending.pop(key, None)
                self._by_structure.get(obj.structure_id, set()).discard(key)

    def _put(self, obj: Obj) -> None:
        if obj.deleted:
            self.committed.pop(obj.key, None)
            self._by_structure.get(obj.structure_id, set()).discard(obj.key)
            self._by_user.get(obj.user_id, set()).discard(obj.key)
            return
        self.committed[obj.key] = obj
        self._by_structure.setdefault(obj.structure_id, set()).add(obj.key)
        self._by_user.setdefault(obj.user_id, set()).add(obj.key)
