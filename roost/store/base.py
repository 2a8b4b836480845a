"""What the rest of Roost needs from a store, whatever database is behind it.

Everything is a *job*: a function of a DB-API connection. ``write`` runs jobs on the store's
single writer, grouping concurrent ones into one transaction (each in its own savepoint, so
one failing job does not fail its neighbours) and resolves each only after the transaction
is durable. ``commit`` is the write of home objects: it records one change per call and hands
it to ``on_commit`` on the event loop, in commit order, before the caller is answered.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from roost.model.home import Change, Obj

T = TypeVar("T")
Job = Callable[[Any], T]


class Store(abc.ABC):
    @abc.abstractmethod
    def open(self) -> None:
        """Create or migrate the schema; usable synchronously from here on."""

    @abc.abstractmethod
    async def start(self, on_commit: Callable[[Change], None]) -> None:
        """Start the writer on the running event loop."""

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def read(self, job: Job[T]) -> T: ...

    @abc.abstractmethod
    def write_now(self, job: Job[T]) -> T:
        """Run one job in its own transaction, blocking (command line and start-up)."""

    @abc.abstractmethod
    async def write(self, job: Job[T]) -> T: ...

    @abc.abstractmethod
    async def commit(self, objects: Iterable[Obj]) -> Change: ...

    @abc.abstractmethod
    def load(self) -> tuple[list[Obj], int]:
        """Every home object and the sequence number of the last change."""
