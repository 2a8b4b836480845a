"""Reads of a network database off the event loop, each bounded in time.

The shared SQL is blocking (it is SQLite's), so reads run on a few threads, each with a
connection of its own. A read that does not finish within ``timeout`` is answered
:class:`Unavailable` and its connection is cut (a database that stopped answering must never
hold a request, nor the event loop, for longer than that); a connection that broke is
dropped, and the next read makes a new one.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from roost.store.base import Unavailable

T = TypeVar("T")


class Link(Protocol):
    """A database connection as the readers handle it."""

    @property
    def broken(self) -> bool: ...

    def abort(self) -> None:
        """Cut the connection from any thread: a call blocked on it fails at once."""

    def close(self) -> None: ...


L = TypeVar("L", bound=Link)


class Readers(Generic[L]):
    def __init__(self, connect: Callable[[], L], size: int, timeout: float) -> None:
        self._connect = connect
        self._timeout = timeout
        self._idle: list[L] = []
        self._slots = asyncio.Semaphore(size)
        self._threads = concurrent.futures.ThreadPoolExecutor(
            size, thread_name_prefix="roost-db-reader")

    async def run(self, job: Callable[[L], T]) -> T:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            await asyncio.wait_for(self._slots.acquire(), self._timeout)
        except TimeoutError:
            raise Unavailable("the database did not answer in time") from None
        used: list[L] = [self._idle.pop()] if self._idle else []
        answer: asyncio.Future[T] = loop.create_future()

        def work() -> T:
            if not used:
                used.append(self._connect())
            return job(used[0])

        def returned(done: concurrent.futures.Future[T]) -> None:  # on the loop
            self._slots.release()
            error = done.exception()
            if used:
                if used[0].broken or isinstance(error, Unavailable):
                    used[0].close()
                else:
                    self._idle.append(used[0])
            if answer.done():  # timed out: already answered
                return
            if error is not None:
                answer.set_exception(error)
            else:
                answer.set_result(done.result())

        self._threads.submit(work).add_done_callback(
            lambda done: loop.call_soon_threadsafe(returned, done))
        try:
            return await asyncio.wait_for(answer, max(deadline - loop.time(), 0))
        except TimeoutError:
            if used:
                used[0].abort()  # frees its thread; its connection is closed when it returns
            raise Unavailable("the database did not answer in time") from None

    def close(self) -> None:
        self._threads.shutdown(wait=False)
        while self._idle:
            self._idle.pop().close()
