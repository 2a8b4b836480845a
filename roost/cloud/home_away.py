"""Home/Away Assist (spec §8.1): Nest's own logic sets a structure away when nobody is home
and nothing has shown occupancy for a while, and home again when someone arrives.

Occupancy comes from two sources. People, whose phones tell Nest when they arrive and
depart: :meth:`HomeAwayAssist.arrive` and :meth:`HomeAwayAssist.depart` (the simulator's
people, or any client standing in for a phone). And the structure's cameras: motion or a
person seen restarts the wait, so a home where something moves does not go away.

The structure goes ``away`` once nobody is home and the last occupancy signal (a departure,
an arrival, camera activity, or a client setting it home) is ``away_after`` old: a system
write of ``away``, so the rules move its thermostats into Eco. An arrival sets it ``home``,
and the rules bring back each thermostat's previous mode.

Decisions, each as on a Nest:

- Only changes act. A client's manual away holds while people are home, until the next
  arrival; a client's manual home counts as occupancy, so with nobody home the structure goes
  away again ``away_after`` later.
- Camera activity while away does not set the structure home: that is the case the
  security state exists for (a person seen while away raises ``deter``, spec §8.6), and
  undoing away on it would end ``deter`` at once. Only an arrival brings the home back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from roost import errors
from roost.auth.principal import system
from roost.batches import Batches
from roost.clock import parse
from roost.model.home import DEVICE_KINDS, Obj
from roost.service import Service

log = logging.getLogger(__name__)

# How long Home/Away Assist waits without occupancy before setting a structure away.
AWAY_AFTER = timedelta(minutes=30)


@dataclass(slots=True)
class _Home:
    """What Nest knows of one structure's occupancy."""

    people: bool  # someone is home, as their phones tell
    signal: datetime  # the last occupancy signal, or the departure that started the wait
    acted: datetime | None = None  # the signal whose wait already ended in an away
    away: str = "home"  # the structure's away as last seen, to notice a client's change
    events: dict[str, str] = field(default_factory=dict)  # camera id -> last event's start


class HomeAwayAssist:
    """Occupancy of every structure, and the away/home it leads to."""

    def __init__(self, service: Service, away_after: timedelta = AWAY_AFTER) -> None:
        self.service = service
        self.away_after = away_after
        self._homes: dict[str, _Home] = {}
        self._last: datetime | None = None  # the previous step

    async def arrive(self, structure_id: str, now: datetime) -> None:
        """Someone came home: the structure is set home at once if it is away."""
        structure = self._structure(structure_id)
        state = self._state(structure, now)
        state.people = True
        state.signal = now
        if structure.data.get("away") == "away":
            await self._set(structure, state, "home")

    async def depart(self, structure_id: str, now: datetime) -> None:
        """Everyone left: the structure goes away after ``away_after`` without occupancy."""
        state = self._state(self._structure(structure_id), now)
        state.people = False
        state.signal = max(state.signal, now)

    async def step(self, now: datetime, batches: Batches) -> None:
        """One tick: read the cameras, and set away where it is due (``batches`` paces the
        step: Home/Away Assist writes each structure itself)."""
        cameras: dict[str, list[Obj]] = {}
        equipped: set[str] = set()  # structures with a device
        for kind in DEVICE_KINDS:
            async for obj in batches.each(self.service.home, kind):
                equipped.add(obj.structure_id)
                if kind == "cameras":
                    cameras.setdefault(obj.structure_id, []).append(obj)
        unavailable: errors.ApiError | None = None
        async for structure in batches.each(self.service.home, "structures"):
            if structure.id not in equipped:
                continue  # its away is "unknown": nothing senses occupancy or saves energy
            try:
                await self._structure_step(structure, cameras.get(structure.id, []), now)
            except errors.ApiError as exc:
                if errors.passes_by_itself(exc):
                    unavailable = exc  # the runner says so once a minute, not once a home
                    continue
                # Deleted or changed under us: the next tick sees it anew.
                log.warning("away of structure %s refused", structure.id, exc_info=True)
        self._last = now
        if unavailable is not None:  # the others stepped; the refused ones try again
            raise unavailable

    async def _structure_step(self, structure: Obj, cameras: list[Obj],
                              now: datetime) -> None:
        state = self._state(structure, now)
        away = structure.data.get("away", "home")
        if away != state.away:
            state.away = away
            if away == "home":  # a client said someone is home, since the previous step
                state.signal = max(state.signal, self._last or now)
        for cam in cameras:
            self._camera(state, cam)
        if (away == "home" and not state.people and state.acted != state.signal
                and now - state.signal >= self.away_after):
            await self._set(structure, state, "away")
            state.acted = state.signal  # after the write: a refused one is tried again

    def _camera(self, state: _Home, cam: Obj) -> None:
        """A new motion or person event restarts the wait; sound alone does not."""
        event = cam.data.get("last_event") or {}
        start = event.get("start_time")
        if not isinstance(start, str) or state.events.get(cam.id) == start:
            return
        state.events[cam.id] = start
        if event.get("has_motion") or event.get("has_person"):
            seen = parse(start)
            if seen is not None:
                state.signal = max(state.signal, seen)

    def _structure(self, structure_id: str) -> Obj:
        structure = self.service.home.get("structures", structure_id, pending=True)
        if structure is None:
            raise ValueError(f"unknown structure: {structure_id!r}")
        return structure

    def _state(self, structure: Obj, now: datetime) -> _Home:
        state = self._homes.get(structure.id)
        if state is None:
            # First seen: people are where the structure says they are, and the wait (if
            # nobody is home) starts now, so a restart does not set anyone away at once.
            away = structure.data.get("away", "home")
            people = away != "away"
            state = self._homes[structure.id] = _Home(
                people, now, acted=now if away == "away" else None, away=away)
            for cam in self.service.home.in_structure(structure.id, "cameras"):
                # Events from before are history, not news.
                state.events[cam.id] = (cam.data.get("last_event") or {}).get("start_time", "")
        return state

    async def _set(self, structure: Obj, state: _Home, away: str) -> None:
        await self.service.write(system(structure.user_id), ("structures", structure.id),
                                 {"away": away})
        state.away = away
        log.info("Home/Away Assist set structure %s %s", structure.id, away)
