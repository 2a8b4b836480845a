"""Where a token's home is served, read from a shared PostgreSQL database: what the front
door needs, without holding any home in memory.

:class:`LiveOwners` reads the live owner of every slot (:data:`~roost.store.slots.LIVE_OWNERS`)
at most once a second, so a takeover is followed within a second of its commit.
:class:`TokenUsers` tells whose a token is, by its digest, remembered until the next account
event, so a revoked or deleted token is refused within a second without a database round
trip per request.

Each has a connection of its own, opened when first needed; a query that fails or takes too
long is answered at once (no live owner; a token's user cannot be told), and the next query
reconnects. A door must answer at once, never hang on a lost database.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from roost.clock import parse
from roost.store.base import StoreError
from roost.store.slots import LIVE_OWNERS, slot_of

log = logging.getLogger("roost.store")

OWNERS_MAX_AGE = 1.0  # seconds a read of the slots table is used
READ_AHEAD = 0.25  # seconds before that a new read starts
# Seconds a token that is not live is remembered, and for how long a live one's user is
# trusted after the last read of the account events that worked: revocations reach the door
# within FOLLOW_INTERVAL plus a read, and never later than a second.
TOKENS_MAX_AGE = 0.6
FOLLOW_INTERVAL = 0.3
QUERY_TIMEOUT = 2.0  # a database that does not answer in this time counts as lost
_TOKENS_KEPT = 100_000  # remembered tokens; past that the memory starts over

_LAST_EVENT = "SELECT coalesce(max(seq), 0) FROM account_events"
# As Service.authenticate accepts a token: alive, under a grant that still exists.
_TOKEN_USER = ("SELECT t.user_id, t.expires FROM tokens t JOIN grants g ON g.id = t.grant_id "
               "WHERE t.hash = %s AND t.revoked IS NULL")


class Unavailable(StoreError):
    """The database cannot answer now."""


class _Reader:
    """One connection, one query at a time, reconnected after a failure."""

    def __init__(self, url: str, what: str) -> None:
        self.url = url
        self.what = what
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._lock = asyncio.Lock()
        self._failing = False

    async def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]] | None:
        """The rows of a query; None when the database cannot answer it now."""
        async with self._lock:
            try:
                rows = await asyncio.wait_for(self._query(sql, params), QUERY_TIMEOUT)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                if not self._failing:  # once per outage, not once per request
                    log.warning("cannot read %s from the database: %s", self.what,
                                str(exc).strip().splitlines()[0] if str(exc).strip()
                                else type(exc).__name__)
                self._failing = True
                await self.close()
                return None
            if self._failing:
                log.info("reading %s from the database again", self.what)
                self._failing = False
            return rows

    async def _query(self, sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=int(QUERY_TIMEOUT))
        cursor = await self._conn.execute(sql, params)  # type: ignore[arg-type]
        return await cursor.fetchall()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error, OSError):  # already gone
                await conn.close()


class LiveOwners:
    """The url of each slot's live owner, as of a read at most ``max_age`` seconds old."""

    def __init__(self, url: str, max_age: float = OWNERS_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._reader = _Reader(url, "the slots' owners")
        self.max_age = max_age
        self._clock = clock
        self._urls: dict[int, str] = {}
        self._distinct: list[str] = []
        self._turn = itertools.count()
        self._read_at = float("-inf")
        self._reading: asyncio.Task[None] | None = None

    async def url_of(self, user_id: str) -> str | None:
        """Where the user's homes are served; None while their slot has no live owner."""
        return await self.slot_url(slot_of(user_id))

    async def slot_url(self, slot: int) -> str | None:
        """Where a slot's homes are served; None while it has no live owner."""
        await self._fresh()
        return self._urls.get(slot)

    async def any_url(self) -> str | None:
        """A live process, in turn, for what needs no home (sign-in, OAuth, the web app)."""
        await self._fresh()
        if not self._distinct:
            return None
        return self._distinct[next(self._turn) % len(self._distinct)]

    async def _fresh(self) -> None:
        """Read the owners again a little before the last read ages out, in the background,
        so that requests wait for a read only when the database is slow to answer one."""
        age = self._clock() - self._read_at
        if age >= self.max_age - READ_AHEAD and (self._reading is None or self._reading.done()):
            self._reading = asyncio.create_task(self._read())
        if age >= self.max_age:
            assert self._reading is not None
            await asyncio.shield(self._reading)  # one read, whoever of its waiters goes away

    async def _read(self) -> None:
        started = self._clock()
        rows = await self._reader.rows(LIVE_OWNERS)
        # No answer: nobody is known to own anything, rather than owners a second stale.
        self._urls = {int(slot): url for slot, url in rows or ()}
        self._distinct = sorted(set(self._urls.values()))
        self._read_at = started

    async def close(self) -> None:
        await self._reader.close()


_Known = tuple[float, str | None, float | None]  # read at, the user, when the token ends


class TokenUsers:
    """Whose a token is, by its digest. What a token's user is changes only by an account
    event (a revocation; a grant, product or user deleted), so a live token's user is
    remembered until the next event, which the database is asked about every
    :data:`FOLLOW_INTERVAL` seconds: then everything remembered is forgotten. A token that
    is not live is remembered for ``max_age`` seconds only. If the events cannot be read
    for ``max_age`` seconds, nothing remembered is trusted until they can."""

    def __init__(self, url: str, max_age: float = TOKENS_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._reader = _Reader(url, "tokens")
        self._events = _Reader(url, "account events")
        self.max_age = max_age
        self._clock = clock
        self._known: dict[str, _Known] = {}
        self._last_event: int | None = None
        self._followed_at = float("-inf")  # when the last read of the events that worked began
        self._forgotten = 0  # how many times everything was forgotten
        self._following: asyncio.Task[None] | None = None

    async def user_of(self, token_hash: str) -> str | None:
        """The user of a live token; None for an unknown, revoked or ended one.
        :class:`Unavailable` when the database cannot tell: a token is never refused for
        that, as a client would take the refusal as its token's end."""
        if self._following is None:
            self._following = asyncio.create_task(self._follow())
        now = self._clock()
        known = self._known.get(token_hash)
        if known is None or now - (self._followed_at if known[1] else known[0]) >= self.max_age:
            known = await self._read(token_hash)
        _, user_id, ends = known
        if ends is not None and ends <= time.time():
            return None
        return user_id

    async def _read(self, token_hash: str) -> _Known:
        forgotten, started = self._forgotten, self._clock()
        rows = await self._reader.rows(_TOKEN_USER, (token_hash,))
        if rows is None:
            raise Unavailable("the database does not answer")
        user_id, ends = (rows[0][0], _epoch(rows[0][1])) if rows else (None, None)
        known = (started, user_id, ends)
        if forgotten == self._forgotten:  # else an event came meanwhile: this may predate it
            if len(self._known) >= _TOKENS_KEPT:
                self._known.clear()
            self._known[token_hash] = known
        return known

    async def _follow(self) -> None:
        while True:
            started = self._clock()
            rows = await self._events.rows(_LAST_EVENT)
            if rows is not None:
                last = rows[0][0]
                if last != self._last_event:
                    self._known.clear()
                    self._forgotten += 1
                    self._last_event = last
                self._followed_at = started
            await asyncio.sleep(FOLLOW_INTERVAL)

    async def close(self) -> None:
        if self._following is not None:
            self._following.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._following
        await self._reader.close()
        await self._events.close()


def _epoch(expires: str | None) -> float | None:
    moment = parse(expires)
    return None if moment is None else moment.timestamp()
