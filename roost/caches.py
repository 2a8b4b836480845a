"""Caches kept per user, bounded by dropping the user least recently asked for."""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class UserCaches(Generic[K, V]):
    """One dict per user. Past ``size`` users, the least recently used user's cache goes.

    Dropping one user at a time, not all at once, keeps the cost of a read flat as the
    number of active homes grows: a reader's cache survives until ``size`` other users have
    been read since. Which user was read least recently is kept only while the caches are
    more than half full: below that no user is near to going, and keeping the order would
    cost every read cache misses over many homes. Once past half, the order is exact for
    every read since; the users not read since then go first, oldest first.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._caches: OrderedDict[str, dict[K, V]] = OrderedDict()

    def of(self, user_id: str) -> dict[K, V]:
        cache = self._caches.get(user_id)
        if cache is None:
            cache = self._caches[user_id] = {}
            if len(self._caches) > self.size:
                self._caches.popitem(last=False)
        elif len(self._caches) > self.size // 2:
            self._caches.move_to_end(user_id)
        return cache

    def drop(self, user_id: str) -> None:
        self._caches.pop(user_id, None)

    def __len__(self) -> int:
        return len(self._caches)
