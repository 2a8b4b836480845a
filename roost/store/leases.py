"""Slot leases on a shared PostgreSQL database: which homes this process serves.

Every ``renew`` seconds, one transaction on a connection of its own:

1. a heartbeat in ``members`` (live members: seen within one lease);
2. every slot this process owns gets ``lease_until = now() + lease``, on PostgreSQL's clock,
   never the process's own; the slots it returns are this process's, the ones it held and
   no longer returns were taken over (their lease had ended) and are dropped;
3. the fair share is ``ceil(SLOTS / live members)``: above it, the highest slots are dropped
   here and then released (``owner`` cleared, so another claims them at its next round);
   below it, free or ended slots are claimed with ``epoch + 1``, skipping rows locked by a
   commit still running elsewhere.

After the commit, newly owned slots' homes are read on a connection of their own, beside the
next renewals (the previous owner's last commits are there: a claim waits for their row
locks, and a later commit of theirs fails the fence), and handed to the service. A watchdog
drops every slot once no round has succeeded for ``fence`` seconds, counted from the start of
the last round that did: the lease (on the database's clock) outlives that, so this process
has stopped serving a slot before anyone may take it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import Iterable
from typing import Any

import orjson
import psycopg

from roost.model.compact import Sharing
from roost.store.base import LeaseTiming, Lose, Ownership, Take
from roost.store.owners import LiveOwners
from roost.store.slots import SLOTS, slot_of

log = logging.getLogger("roost.leases")

HEARTBEAT = ("INSERT INTO members (owner, url, seen) VALUES (%s, %s, now()) "
             "ON CONFLICT (owner) DO UPDATE SET url = excluded.url, seen = now()")
# Every statement that locks several slot rows locks them in slot order (a locking SELECT
# sorted by slot), as the commits' fence does: in any other order a renewal and a commit of
# one process could each hold a row the other waits for (a deadlock PostgreSQL breaks only
# after deadlock_timeout, failing one of them).
RENEW = ("UPDATE slots SET lease_until = now() + make_interval(secs => %s) "
         "WHERE slot IN (SELECT slot FROM slots WHERE owner = %s ORDER BY slot FOR UPDATE) "
         "RETURNING slot, epoch")
MEMBERS = "SELECT count(*) FROM members WHERE seen > now() - make_interval(secs => %s)"
# Free or ended slots; and when joining, those of an earlier run at this process's own URL:
# whatever ran there before is not serving there now (it could not commit anyway, the fence
# refuses a taken slot), so a restarted server takes its homes back without waiting out
# its own old leases.
CLAIM = ("UPDATE slots SET owner = %(me)s, url = %(url)s, epoch = epoch + 1, "
         "lease_until = now() + make_interval(secs => %(lease)s) "
         "WHERE slot IN (SELECT slot FROM slots WHERE owner IS NULL OR lease_until < now() "
         "OR (%(joining)s AND url = %(url)s AND owner <> %(me)s) "
         "ORDER BY slot LIMIT %(count)s FOR UPDATE SKIP LOCKED) RETURNING slot, epoch")
SUCCEEDED = "DELETE FROM members WHERE url = %s AND owner <> %s"
RELEASE = ("UPDATE slots SET owner = NULL, url = NULL, lease_until = now() "
           "WHERE slot IN (SELECT slot FROM slots WHERE owner = %s AND slot = ANY(%s) "
           "ORDER BY slot FOR UPDATE)")
LEAVE = ("WITH gone AS (DELETE FROM members WHERE owner = %s) "
         "UPDATE slots SET owner = NULL, url = NULL, lease_until = now() "
         "WHERE slot IN (SELECT slot FROM slots WHERE owner = %s ORDER BY slot FOR UPDATE)")
# Members not seen for a day are gone for good: their rows would only grow the table.
FORGET = "DELETE FROM members WHERE seen < now() - interval '1 day'"
USERS = "SELECT id FROM users"
OBJECTS = ("SELECT kind, id, user_id, structure_id, version, data, updated FROM objects "
           "WHERE user_id = ANY(%s)")
NEWEST = "SELECT coalesce(max(seq), 0) FROM changes"



class Leases(Ownership):
    def __init__(self, url: str, advertise: str, timing: LeaseTiming,
                 fence_out: Lose = lambda slots: None) -> None:
        self.url = url
        self.advertise = advertise
        self.timing = timing
        # One run of one process: a restart is a new owner, whose claims bump the epoch.
        self.owner = f"{advertise} {uuid.uuid4().hex[:12]}"
        self.held: dict[int, int] = {}
        # Slots claimed whose homes are being read, with their epochs: read beside the
        # renewals, so a large takeover never holds a renewal back.
        self._loading: dict[int, int] = {}
        self._loads: set[asyncio.Task[None]] = set()
        self._take: Take = lambda slots, objects, seq: None
        self._lose: Lose = lambda slots: None
        self._fence_out = fence_out  # the store's: its commits waiting on lost slots end
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._good = time.monotonic()  # when the last round that succeeded started
        self._failing = False
        self._joined = False
        self._tasks: list[asyncio.Task[None]] = []
        self._owners = LiveOwners(url)  # where the slots of others are served

    async def start(self, take: Take, lose: Lose) -> None:
        self._take, self._lose = take, lose
        await self._round(time.monotonic())
        await asyncio.gather(*self._loads)  # served from the start
        self._tasks = [asyncio.create_task(self._renewing()),
                       asyncio.create_task(self._watching())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        for load in self._loads:
            load.cancel()
        self.held, self._loading = {}, {}
        try:
            async with asyncio.timeout(self.timing.renew):
                conn = await self._connection()
                await conn.execute(LEAVE, (self.owner, self.owner))
        except Exception as exc:  # they end with their lease instead
            log.warning("could not hand the slots back: %s", exc)
        await self._close()
        await self._owners.close()

    def lose(self, slots: Iterable[int]) -> None:
        gone = frozenset(s for s in slots if self.held.pop(s, None) is not None)
        if gone:
            self._fence_out(gone)
            self._lose(gone)

    async def owner_url(self, slot: int) -> str | None:
        url = await self._owners.slot_url(slot)
        return None if url == self.advertise else url  # never send a client back here

    # -- the rounds ----------------------------------------------------------------------------

    async def _renewing(self) -> None:
        while True:
            await asyncio.sleep(max(0.0, self._good + self.timing.renew - time.monotonic()))
            started = time.monotonic()
            try:
                async with asyncio.timeout(self.timing.renew * 2):
                    await self._round(started)
                if self._failing:
                    log.warning("slot leases renewed again")
                    self._failing = False
            except Exception as exc:
                if not self._failing:
                    log.warning("renewing slot leases failed: %s", exc or type(exc).__name__)
                    self._failing = True
                await self._close()
                await asyncio.sleep(min(self.timing.renew, 0.5))

    async def _watching(self) -> None:
        """Self-fence: drop every slot once renewals have failed for too long."""
        while True:
            await asyncio.sleep(min(0.25, self.timing.renew / 4))
            if self.held and time.monotonic() - self._good > self.timing.fence:
                log.warning("no slot lease renewed for %g s: serving none of them until "
                            "renewed", self.timing.fence)
                self._loading = {}
                try:
                    self.lose(list(self.held))
                except Exception:
                    log.exception("dropping slots failed")

    async def _round(self, started: float) -> None:
        t = self.timing
        conn = await self._connection()
        joining = not self._joined
        async with conn.transaction():
            if joining:  # an earlier run at this URL is no member to share with
                await conn.execute(SUCCEEDED, (self.advertise, self.owner))
            await conn.execute(HEARTBEAT, (self.owner, self.advertise))
            renewed = await (await conn.execute(RENEW, (t.lease, self.owner))).fetchall()
            mine = dict(renewed)
            (members,) = await (await conn.execute(MEMBERS, (t.lease,))).fetchone() or (1,)
            share = math.ceil(SLOTS / max(1, members))
            if len(mine) > share:
                excess = sorted(mine)[share:]
                self.lose(excess)  # drained here before anyone else may claim them
                await conn.execute(RELEASE, (self.owner, excess))
                for slot in excess:
                    del mine[slot]
                    self._loading.pop(slot, None)
            elif len(mine) < share:
                claimed = await (await conn.execute(CLAIM, {
                    "me": self.owner, "url": self.advertise, "lease": t.lease,
                    "joining": joining, "count": share - len(mine)})).fetchall()
                mine.update(claimed)
            if not self.held:  # joining, or back after an outage
                await conn.execute(FORGET)
        self._good = started
        self._joined = True
        self.lose([s for s in self.held if s not in mine])
        self._loading = {s: e for s, e in self._loading.items() if mine.get(s) == e}
        new = {s: e for s, e in mine.items() if s not in self.held and s not in self._loading}
        if new:
            self._loading.update(new)
            load = asyncio.create_task(self._load(new))
            self._loads.add(load)
            load.add_done_callback(self._loads.discard)

    async def _load(self, slots: dict[int, int]) -> None:
        """Read every object of these slots' users, then serve those slots still this
        process's (not handed back, taken over or fenced meanwhile)."""
        try:
            async with await psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=2) as conn:
                users = [u for (u,) in await (await conn.execute(USERS)).fetchall()
                         if slot_of(u) in slots]
                (seq,) = await (await conn.execute(NEWEST)).fetchone() or (0,)
                rows = await (await conn.execute(OBJECTS, (users,))).fetchall()
        except Exception as exc:  # read again at the next round
            log.warning("reading the homes of %d slots failed: %s", len(slots), exc)
            for slot, epoch in slots.items():
                if self._loading.get(slot) == epoch:
                    del self._loading[slot]
            return
        kept = {s: e for s, e in slots.items() if self._loading.pop(s, None) == e}
        if not kept or time.monotonic() - self._good > self.timing.fence:
            return
        sharing = Sharing()  # equal values held once, as the embedded store loads them
        objects = [sharing.obj(k, i, u, s, v, orjson.loads(d), at)
                   for k, i, u, s, v, d, at in rows if slot_of(u) in kept]
        self.held.update(kept)
        self._take(frozenset(kept), objects, seq)

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=2)
        return self._conn

    async def _close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await conn.close()
