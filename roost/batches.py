"""System writes in batches: what the simulator's devices report and what Nest's own logic
decides, a step at a time, through :meth:`Service.write_many`.

A step of 10,000 homes must cost a handful of commits, not 10,000, and must not hold the
event loop while it works them out (docs/benchmarks.md). So writes are gathered into batches
of ``size``, each one commit; a full batch starts committing at once while later ones are
worked out (the store groups the commits that queue up into one transaction); and the step
lets requests in after every ``SLICE`` seconds of its own work. A refused write (its object
deleted or changed under us) is logged and skipped on its own: the next step sees it anew.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from types import TracebackType

from roost.model.home import Home, Obj
from roost.service import Service, Write

BATCH = 2_000
# By time, not by count: under load every yield costs the step a whole round of the loop.
SLICE = 0.02
# After each slice a step gives way for PAUSE seconds: a short sleep, not sleep(0), after
# which the step's next turn would come before the requests whose sockets the loop read.
PAUSE = 0.0005
EVERY = 64  # objects a step over every home (each) goes through between looks at the clock


class Batches:
    """Use as ``async with Batches(service, log) as batches:``; leaving the block commits what
    is left and waits for every batch begun, even when working out a later one failed, so a
    step leaves nothing staged behind it."""

    def __init__(self, service: Service, log: logging.Logger, size: int = BATCH) -> None:
        self.service = service
        self.log = log
        self.size = size
        self.writes = 0  # written so far, refused ones included
        self.commits = 0
        self.waited = 0.0  # seconds spent waiting for the batches' commits at the end
        self._batch: list[Write] = []
        self._writing: list[asyncio.Future[None]] = []
        self._held = time.perf_counter()

    async def __aenter__(self) -> Batches:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        if exc is None:
            self._send()
        waiting = time.perf_counter()
        outcomes = await asyncio.gather(*self._writing, return_exceptions=True)
        self.waited = time.perf_counter() - waiting
        if exc is None:
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome

    def add(self, write: Write) -> None:
        self._batch.append(write)
        if len(self._batch) >= self.size:
            self._send()

    async def each(self, home: Home, kind: str) -> AsyncIterator[Obj]:
        """Every committed object of ``kind``, each as the home holds it when its turn comes:
        for a step over every home (at 10,000 homes, a tenth of a second of work), which
        lets requests in after each slice of it. What it batched before a pause is planned
        first: no request let in changes what those writes were decided on."""
        objects = [o for o in home.committed.values() if o.kind == kind]
        seen = home.seq
        for n, obj in enumerate(objects, 1):
            if n % EVERY == 0 and time.perf_counter() - self._held >= SLICE:
                await self._give_way()
            if home.seq != seen:  # something was committed meanwhile: the object as it is now
                current = home.committed.get((kind, obj.id))
                if current is None:
                    continue
                obj = current
            yield obj

    async def _give_way(self) -> None:
        batch = self._take()
        if batch is not None:  # planned before its first await; its commit is the pause
            await self._write(batch)
        else:
            await asyncio.sleep(PAUSE)
        self._held = time.perf_counter()

    async def breathe(self) -> None:
        """Let requests in if this step has held the loop for a slice."""
        if time.perf_counter() - self._held >= SLICE:
            await asyncio.sleep(PAUSE)
            self._held = time.perf_counter()

    def _send(self) -> None:
        batch = self._take()
        if batch is not None:
            self._writing.append(asyncio.ensure_future(self._write(batch)))

    def _take(self) -> list[Write] | None:
        if not self._batch:
            return None
        batch, self._batch = self._batch, []
        self.writes += len(batch)
        self.commits += 1
        return batch

    async def _write(self, batch: list[Write]) -> None:
        for (_, path, _), refused in zip(batch, await self.service.write_many(batch),
                                         strict=True):
            if refused is not None:
                self.log.warning("write to %s refused: %s", "/".join(path), refused)
