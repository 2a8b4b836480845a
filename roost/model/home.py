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


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
# building an object a few per cent of a PUT (every write builds two or three). A change is a
# new object (evolve, with_data); the one assignment is a commit's stamp (``updated``), given
# to the objects the write built before any reader can see them.
@dataclass(slots=True)
class Obj:
    """One structure or device. ``data`` holds stored (canonical) values and is never mutated
    (objects of many homes share equal nested values: roost.model.compact)."""

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

    # What dataclasses.replace would give, built directly: it runs for every write, and
    # replace() inspects the class's fields each time.
    def with_data(self, data: dict[str, Any]) -> Obj:
        return Obj(self.kind, self.id, self.user_id, self.structure_id, self.version, data,
                   self.deleted, self.updated)


@dataclass(slots=True)  # not frozen, as Obj is not: the writer builds one per commit
class Change:
    """One commit: the objects it wrote, and the store's sequence number for it."""

    seq: int
    objects: tuple[Obj, ...]


@dataclass
class Home:
    committed: dict[Key, Obj] = field(default_factory=dict)
    pending: dict[Key, Obj] = field(default_factory=dict)
    seq: int = 0
    # Keys by structure and by user, sorted: a home's few keys in a tuple take a fifth of a
    # set's memory (sets were 1.5 KiB of a demo home's 45), and readers want them in order.
    _by_structure: dict[str, tuple[Key, ...]] = field(default_factory=dict)
    _by_user: dict[str, tuple[Key, ...]] = field(default_factory=dict)

    @classmethod
    def load(cls, objects: Iterable[Obj], seq: int) -> Home:
        """A home of the store's objects (each key once, none deleted)."""
        home = cls(seq=seq)
        by_structure: dict[str, list[Key]] = {}
        by_user: dict[str, list[Key]] = {}
        for obj in objects:
            key = obj.key
            home.committed[key] = obj
            by_structure.setdefault(obj.structure_id, []).append(key)
            by_user.setdefault(obj.user_id, []).append(key)
        # Sorted once each, rather than as every key arrives.
        home._by_structure = {name: tuple(sorted(keys)) for name, keys in by_structure.items()}
        home._by_user = {name: tuple(sorted(keys)) for name, keys in by_user.items()}
        return home

    # -- reading ---------------------------------------------------------------------------

    def get(self, kind: str, id: str, pending: bool = False) -> Obj | None:
        key = (kind, id)
        obj = (self.pending.get(key) if pending else None) or self.committed.get(key)
        return None if obj is None or obj.deleted else obj

    def of_user(self, user_id: str, kind: str) -> Iterator[Obj]:
        for key in self._by_user.get(user_id, ()):
            if key[0] == kind:
                yield self.committed[key]

    def user_ids(self) -> list[str]:
        """The users with objects here."""
        return list(self._by_user)

    def in_structure(self, structure_id: str, kind: str, pending: bool = False) -> list[Obj]:
        found = []
        for key in self._by_structure.get(structure_id, ()):
            if key[0] == kind:
                obj = self.get(*key, pending=pending)
                if obj is not None:
                    found.append(obj)
        return found

    # -- writing ---------------------------------------------------------------------------

    def stage(self, objects: Iterable[Obj]) -> None:
        for obj in objects:
            key = obj.key
            self.pending[key] = obj
            # A new object is found in its structure before its commit: deleting the
            # structure meanwhile takes it too.
            if not _indexed(self.committed.get(key), obj):
                _add(self._by_structure, obj.structure_id, key)

    def unstage(self, objects: Iterable[Obj]) -> None:
        for obj in objects:
            key = obj.key
            if self.pending.get(key) is obj:
                del self.pending[key]
                if key not in self.committed:  # never committed: forgotten
                    _discard(self._by_structure, obj.structure_id, key)

    def commit(self, *changes: Change) -> None:
        """Committed changes, in order. Each object is put once, as the last of them left it:
        one transaction of a thermostat that many clients write at once is many changes to
        it."""
        latest = {obj.key: obj for change in changes for obj in change.objects}.values()
        for obj in latest:
            self._put(obj)
        self.unstage(latest)
        self.seq = changes[-1].seq

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
            for key in self._by_user.pop(user_id, ()):
                obj = self.committed.pop(key)
                self.pending.pop(key, None)
                _discard(self._by_structure, obj.structure_id, key)

    def _put(self, obj: Obj) -> None:
        key = obj.key  # one tuple for the three places below
        if obj.deleted:
            self.committed.pop(key, None)
            _discard(self._by_structure, obj.structure_id, key)
            _discard(self._by_user, obj.user_id, key)
            return
        before = self.committed.get(key)
        self.committed[key] = obj
        if not _indexed(before, obj):
            _add(self._by_structure, obj.structure_id, key)
        if before is None:  # an object never changes owner
            _add(self._by_user, obj.user_id, key)


def _indexed(before: Obj | None, obj: Obj) -> bool:
    """Whether ``obj`` is a new version of ``before``, committed in the same structure: the
    indexes hold its key already. Most commits change values only."""
    return before is not None and before.structure_id == obj.structure_id


def _add(index: dict[str, tuple[Key, ...]], name: str, key: Key) -> None:
    keys = index.get(name, ())
    if key not in keys:
        index[name] = tuple(sorted((*keys, key)))


def _discard(index: dict[str, tuple[Key, ...]], name: str, key: Key) -> None:
    keys = index.get(name, ())
    if key in keys:
        index[name] = tuple(k for k in keys if k != key)
