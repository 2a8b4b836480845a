"""The simulator's loop: every tick, the world moves on (people come and go, alarms' tests
and cameras' events run out) and each online thermostat reports its room, running its own
schedule and fan timer. Everything goes through the service's write path as the system
principal, so the rules, the store, versions and streams see it as they see any client.
What Nest's cloud decided on its own (away, arrival windows, Rush Hour) is not here: it runs
in :mod:`roost.cloud` whether or not anything is simulated.

A tick's thermostat reports are written in batches (:class:`roost.batches.Batches`), each
one commit, so a tick of 10,000 thermostats costs a handful of commits, not 10,000
(docs/benchmarks.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roost import errors
from roost.auth.principal import system
from roost.batches import Batches
from roost.clock import iso, parse
from roost.model import derived, units
from roost.model.home import Obj
from roost.service import Service
from roost.simulator import thermal
from roost.simulator.alarms import AlarmScenarios
from roost.simulator.cameras import CameraEvents
from roost.simulator.presence import Occupancy, People, Routine
from roost.simulator.schedules import Schedules, setpoint_fields
from roost.weather import Outdoors, Weather

log = logging.getLogger(__name__)

TICK = timedelta(minutes=1)
# A device that has nothing new to report still checks in with the service this often, so
# last_connection stays recent without an event on every tick.
HEARTBEAT = timedelta(minutes=10)
# Reports per batch: one commit each, so no commit (and no hold of the loop while the batch's
# writes are checked) grows with the number of homes.
BATCH = 2_000


_stamp = functools.lru_cache(maxsize=4)(iso)
# Principals are immutable: a user's is made once, not for every report.
_system = functools.lru_cache(maxsize=65_536)(system)
# Devices that reported at the same tick share their last_connection string.
_parsed = functools.lru_cache(maxsize=1024)(parse)


@dataclass(slots=True)
class _Tally:
    """What a step's thermostats did, for its log line."""

    thermostats: int
    reports: int = 0
    commits: int = 0
    waited: float = 0.0  # seconds the step waited for its batches' commits


class Simulator:
    def __init__(self, service: Service, weather: Weather | None = None,
                 speed: float = 1.0, heartbeat: timedelta = HEARTBEAT,
                 occupancy: Occupancy | None = None, routine: Routine | None = None,
                 outdoors: Outdoors | None = None) -> None:
        """``occupancy`` is who hears of people arriving and leaving (Nest's cloud: the
        Home/Away Assist of :mod:`roost.cloud`); ``outdoors`` the server's outdoor
        conditions, which the simulator's weather settings change."""
        self.service = service
        self.outdoors = outdoors or Outdoors()
        if weather is not None:
            self.outdoors.weather = weather
        self.speed = speed  # only paces run(); simulated time is the service's clock
        self.heartbeat = heartbeat
        self._last = service.clock()
        # The physical rooms, unrounded: the store holds what the devices last reported, and a
        # room changes by less than a reported step per tick, so it must be carried here.
        self._rooms: dict[str, thermal.Room] = {}
        # What each device last reported, to notice when someone else (a test, an import)
        # changed the stored reading: the room then starts again from it.
        self._reported: dict[str, tuple[float, float]] = {}
        self._stopping = asyncio.Event()
        # What the current step knows of each structure, computed once per step rather than
        # per thermostat: the outdoor temperature, and which have an alarm in emergency.
        self._outdoor: dict[str, float] = {}  # by structure id
        self._zones: dict[str, float] = {}  # by time zone: most homes share a few
        self._shutoff: set[str] = set()
        # Scenarios someone triggers (alarms, camera events) that the clock then plays out.
        self.alarms = AlarmScenarios(service)
        self.cameras = CameraEvents(service)
        # People coming and going, and what each thermostat does on its own: its schedule
        # and its estimate's training.
        self.people = People(service, occupancy, routine)
        self.schedules = Schedules(service)
        self.training = thermal.Training()

    @property
    def weather(self) -> Weather:
        return self.outdoors.weather

    @weather.setter
    def weather(self, weather: Weather) -> None:
        self.outdoors.weather = weather

    def plays(self, device: Obj) -> bool:
        """Whether this simulator runs the device's own logic (a thermostat's fan timer and
        schedule) while it runs: every thermostat, online or not (an offline one catches up
        when it is back, as a real one would report), but a real thermostat's, which runs its
        own and reports through the device protocol."""
        return device.kind == "thermostats" and not device.data.get("device_serial")

    async def run(self, tick: timedelta = TICK) -> None:
        """Step once per ``tick`` of simulated time until :meth:`stop`, on a fixed cadence:
        a step's own duration does not push the next one back. A step that overruns its tick
        is followed at once by the next, which covers all the time since (never by a burst of
        catch-up steps). A failed step is logged and the next one runs: one bad object must
        not stop the whole home."""
        loop = asyncio.get_running_loop()
        period = tick.total_seconds() / self.speed
        due = loop.time() + period
        warned = -float("inf")
        failed = errors.FailedSteps(log, "simulator")
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), max(0.0, due - loop.time()))
                return
            try:
                await self.step()
            except Exception as exc:
                failed(exc)
            due += period
            late = loop.time() - due
            if late > 0:
                if loop.time() - warned >= 60:  # at most once a minute while it lasts
                    warned = loop.time()
                    log.warning("simulator falls behind: a step took longer than its tick "
                                "(%.0f ms late); later steps cover the time missed", late * 1000)
                due = loop.time()

    def stop(self) -> None:
        """End :meth:`run` after the step in progress, if any: a write is never cut midway,
        so nothing is left staged when the store closes."""
        self._stopping.set()

    async def step(self) -> None:
        """One tick at the clock's current time, for every thermostat of every user."""
        started = time.perf_counter()
        now = self.service.clock()
        seconds = max(0.0, (now - self._last).total_seconds())
        self._last = now
        for logic in (self.alarms.step, self.cameras.step, self.people.step):
            await logic(now)
            # Each looks at every home, and an await that writes nothing never lets requests
            # in: without this the loop was held for all of them at once (docs/benchmarks.md).
            await asyncio.sleep(0)
        tally = await self._report_thermostats(now, seconds)
        log.debug("step at %s: %d thermostats, %d reports, %d commits, %.1f ms "
                  "(%.1f ms waiting for commits)", iso(now), tally.thermostats, tally.reports,
                  tally.commits, (time.perf_counter() - started) * 1000, tally.waited * 1000)

    async def _report_thermostats(self, now: datetime, seconds: float) -> _Tally:
        """Every online thermostat's report, written in batches of ``BATCH`` reports."""
        home = self.service.home
        thermostats = []
        self._shutoff = set()
        for o in list(home.committed.values()):
            if self.plays(o):  # a real thermostat reports for itself
                thermostats.append(o.key)
            elif o.kind == "smoke_co_alarms" and derived.in_emergency(o):
                self._shutoff.add(o.structure_id)  # the thermostat holds its HVAC off
        self._outdoor, self._zones = {}, {}
        tally = _Tally(len(thermostats))
        async with Batches(self.service, log, BATCH) as batches:
            for n, key in enumerate(thermostats, 1):
                if n % 50 == 0:
                    await batches.breathe()
                # Read now, not at the step's start: earlier batches let API writes in.
                obj = home.committed.get(key)  # never holds deleted objects
                if obj is None or not obj.data.get("is_online", True):
                    continue  # an offline device reports nothing, its timer is not seen
                values = self._thermostat(obj, now, seconds)
                if values:
                    batches.add((_system(obj.user_id), ("devices", "thermostats", obj.id),
                                 values))
        tally.reports, tally.commits, tally.waited = (batches.writes, batches.commits,
                                                      batches.waited)
        return tally

    def _room(self, obj: Obj) -> thermal.Room:
        d = obj.data
        stored = (float(d.get("ambient_temperature", 20.0)), float(d.get("humidity", 45)))
        room = self._rooms.get(obj.id)
        if room is None or self._reported.get(obj.id) != stored:
            room = thermal.Room(*stored)
        return room

    def _outdoor_c(self, structure_id: str, now: datetime) -> float:
        outdoor = self._outdoor.get(structure_id)
        if outdoor is None:
            structure = self.service.home.get("structures", structure_id)
            zone = structure.data.get("time_zone", "UTC") if structure else "UTC"
            outdoor = self._zones.get(zone)
            if outdoor is None:
                outdoor = self._zones[zone] = self.weather.outdoor_c(now, zone)
            self._outdoor[structure_id] = outdoor
        return outdoor

    def _thermostat(self, obj: Obj, now: datetime, seconds: float) -> dict[str, Any]:
        scheduled = self.schedules.due(obj, now)
        d = {**obj.data, **scheduled} if scheduled else obj.data  # followed from this tick on
        if obj.structure_id in self._shutoff:
            d = {**d, "hvac_mode": "off"}  # Nest holds the HVAC off while an alarm sounds
        reading = thermal.step(d, self._room(obj), self._outdoor_c(obj.structure_id, now),
                               seconds)
        self._rooms[obj.id] = reading.room
        values: dict[str, Any] = {}
        old_c = d.get("ambient_temperature")
        new_c = reading.room.temperature_c
        if old_c is None or units.show(new_c, "F") != units.show(old_c, "F") \
                or units.show(new_c, "C") != units.show(old_c, "C"):
            # Stored exactly (system writes keep full precision), shown rounded per scale.
            values["ambient_temperature_c"] = new_c
        humidity = round(reading.room.humidity)
        if d.get("humidity") is None or (units.half_up(humidity, 5)
                                         != units.half_up(d["humidity"], 5)):
            values["humidity"] = humidity
        if reading.hvac_state != d.get("hvac_state"):
            values["hvac_state"] = reading.hvac_state
        if reading.time_to_target != d.get("time_to_target"):
            values["time_to_target"] = reading.time_to_target
        values.update(setpoint_fields(scheduled))
        values.update(thermal.fan(d, reading.hvac_state, now))
        values.update(self.training.report(obj.id, d, reading.hvac_state))
        last = _parsed(d.get("last_connection"))
        if values or last is None or now - last >= self.heartbeat:
            values["last_connection"] = _stamp(now)
        self._reported[obj.id] = (
            float(values.get("ambient_temperature_c", old_c if old_c is not None else new_c)),
            float(values.get("humidity", d.get("humidity", humidity))),
        )
        return values
