"""The simulated household: people who come and go, and whose phones tell Nest.

What follows from it (a structure set away after a while without anyone, home again on an
arrival) is Nest's cloud logic, Home/Away Assist (:mod:`roost.cloud.home_away`): the people
here only tell it, as phones did. They arrive and depart when told to (the control API's
arrival and departure scenarios), or by a :class:`Routine` (everyone out on weekdays from
08:30 to 17:30 local time), which ``roost serve --demo`` turns on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from typing import Protocol

from roost.model.localtime import local
from roost.service import Service


class Occupancy(Protocol):
    """Who hears of people arriving and leaving: Nest's Home/Away Assist."""

    async def arrive(self, structure_id: str, now: datetime) -> None: ...

    async def depart(self, structure_id: str, now: datetime) -> None: ...


@dataclass(frozen=True)
class Routine:
    """When everyone is out: from ``leave`` to ``back`` local time on ``days`` (0 Monday)."""

    leave: time = time(8, 30)
    back: time = time(17, 30)
    days: frozenset[int] = frozenset(range(5))

    def out(self, here: datetime) -> bool:
        return here.weekday() in self.days and self.leave <= here.time() < self.back


WEEKDAYS = Routine()


class People:
    """The people of every simulated structure."""

    def __init__(self, service: Service, occupancy: Occupancy | None = None,
                 routine: Routine | None = None) -> None:
        self.service = service
        # None: nobody listens, so arrivals and departures change nothing.
        self.occupancy = occupancy
        # The routine every structure follows; None: people come and go only when told to.
        self.routine = routine
        self._out: dict[str, bool] = {}  # structure id -> what the routine said last step

    async def arrive(self, structure_id: str, now: datetime) -> None:
        """Someone came home; their phone tells Nest."""
        self._known(structure_id)
        if self.occupancy is not None:
            await self.occupancy.arrive(structure_id, now)

    async def depart(self, structure_id: str, now: datetime) -> None:
        """Everyone left; their phones tell Nest."""
        self._known(structure_id)
        if self.occupancy is not None:
            await self.occupancy.depart(structure_id, now)

    async def step(self, now: datetime) -> None:
        """One tick: everyone follows the routine, if there is one."""
        if self.routine is None:
            self._out.clear()
            return
        for structure in [o for o in list(self.service.home.committed.values())
                          if o.kind == "structures"]:
            here = local(now, structure.data.get("time_zone") or "UTC")
            out = self.routine.out(here)
            before = self._out.get(structure.id)
            self._out[structure.id] = out
            if before is None and not out:
                continue  # first seen, at home: nothing to tell
            if before is None or (out and not before):
                # They left at the routine's time, though seen only now (or, at the first
                # look, they are already out: the wait starts now).
                moment = _today_at(here, self.routine.leave) if before is not None else now
                await self.depart(structure.id, moment)
            elif before and not out:
                await self.arrive(structure.id, now)

    def _known(self, structure_id: str) -> None:
        if self.service.home.get("structures", structure_id, pending=True) is None:
            raise ValueError(f"unknown structure: {structure_id!r}")


def _today_at(here: datetime, moment: time) -> datetime:
    """``moment`` on the local day of ``here``, in its zone."""
    return here.replace(hour=moment.hour, minute=moment.minute, second=moment.second,
                        microsecond=0)
