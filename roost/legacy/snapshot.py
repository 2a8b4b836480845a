"""A user's buckets with their ``$version`` and ``$timestamp``, computed once per change.

The home changes on every commit, most of them other users' or unseen in any bucket, so a
user's buckets are recomputed only when one of that user's objects has a new version, and
reused by every request (and every waiting long-poll) until then.

``$version`` is a hash of the bucket's content (:func:`buckets.version`). ``$timestamp`` is
when the content was first seen to change: the newest change time of the objects the bucket
is computed from at that moment. A bucket whose content stays the same keeps its timestamp
even when its objects change in ways it does not show (a thermostat's ``last_connection``
moves ``track``, not ``shared``); after a restart timestamps start again from the objects'
change times.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from roost.legacy import buckets
from roost.model.home import Home
from roost.service import Service

_KINDS = ("structures", "thermostats", "smoke_co_alarms", "cameras")


@dataclass(frozen=True, slots=True)
class Entry:
    value: dict[str, Any]
    version: int
    timestamp: int  # ms

    def legacy(self) -> dict[str, Any]:
        """The value as /v2/mobile carries it, the meta fields inside."""
        return {"$version": self.version, "$timestamp": self.timestamp, **self.value}

    def object(self, key: str, value: bool = True) -> dict[str, Any]:
        """The object form of app_launch, /v5/mobile and /v5/subscribe."""
        found: dict[str, Any] = {"object_key": key, "object_revision": self.version,
                                 "object_timestamp": self.timestamp}
        if value:
            found["value"] = self.value
        return found


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One user's buckets at one state of the home."""

    seq: int  # the home's sequence number it was last checked against
    signature: tuple[tuple[str, str, int], ...]  # the user's objects and their versions
    email: str
    entries: dict[str, dict[str, Entry]]  # type -> id -> entry

    def get(self, key: str) -> Entry | None:
        """The bucket ``"<type>.<id>"``; None for an unknown type or id."""
        kind, _, id = key.partition(".")
        return self.entries.get(kind, {}).get(id)

    def keys(self) -> list[str]:
        return [f"{kind}.{id}" for kind, found in self.entries.items() for id in found]

    def legacy(self) -> dict[str, dict[str, dict[str, Any]]]:
        """``GET /v2/mobile`` (and /v3): every legacy type, even when empty."""
        return {kind: {id: e.legacy() for id, e in self.entries[kind].items()}
                for kind in buckets.LEGACY_TYPES}

    def objects(self) -> list[dict[str, Any]]:
        """Every bucket in the object form, ``buckets`` first."""
        order = ("buckets", *buckets.LEGACY_TYPES)
        return [e.object(f"{kind}.{id}") for kind in order
                for id, e in self.entries[kind].items()]


class Projection:
    """The buckets of every user who asks, kept per user until that user's objects change."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._users: dict[str, Snapshot] = {}

    async def snapshot(self, user_id: str) -> Snapshot:
        """The user's buckets as the home is now (committed writes only)."""
        home = self.service.home
        old = self._users.get(user_id)
        if old is not None and old.seq == home.seq:
            return old
        signature = _signature(home, user_id)
        if old is not None and old.signature == signature:
            new = Snapshot(home.seq, signature, old.email, old.entries)
        else:
            # Read with the home, not per request: an account's e-mail (user.name) is seen
            # at the next change of the user's home.
            user = await self.service.store.user_by_id(user_id)
            email = user.email if user else ""
            new = Snapshot(home.seq, signature, email,
                           _entries(home, user_id, email, old.entries if old else {}))
        self._users[user_id] = new
        return new


_projections: weakref.WeakKeyDictionary[Service, Projection] = weakref.WeakKeyDictionary()


def of(service: Service) -> Projection:
    """The one projection of a service, shared by reads, writes and long-polls."""
    found = _projections.get(service)
    if found is None:
        found = _projections[service] = Projection(service)
    return found


def _signature(home: Home, user_id: str) -> tuple[tuple[str, str, int], ...]:
    return tuple((o.kind, o.id, o.version) for kind in _KINDS for o in home.of_user(user_id, kind))


def _entries(home: Home, user_id: str, email: str,
             before: dict[str, dict[str, Entry]]) -> dict[str, dict[str, Entry]]:
    entries: dict[str, dict[str, Entry]] = {}
    for kind, found in buckets.project(home, user_id, email).items():
        entries[kind] = {}
        for id, value in found.items():
            version = buckets.version(value)
            old = before.get(kind, {}).get(id)
            if old is not None and old.version == version:
                entries[kind][id] = old
            else:
                entries[kind][id] = Entry(value, version,
                                          buckets.updated(home, user_id, kind, id))
    return entries
