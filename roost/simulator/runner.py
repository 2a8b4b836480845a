"""The simulator's loop: every tick, each online thermostat reports its room, and Nest's own
logic runs out fan timers. Everything goes through :meth:`Service.write` as the system
principal, so the rules, the store, versions and streams see it as they see any client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from roost import errors
from roost.auth.principal import system
from roost.clock import EPOCH, iso, parse
from roost.model import derived, units
from roost.model.home import Obj
from roost.service import Service
from roost.simulator import thermal
from roost.simulator.alarms import AlarmScenarios
from roost.simulator.cameras import CameraEvents
from roost.simulator.weather import Weather

log = logging.getLogger(__name__)

TICK = timedelta(minutes=1)
# A device that has nothing new to report still checks in with the service this often, so
# last_connection stays recent without an event on every tick.
HEARTBEAT = timedelta(minutes=10)


class Simulator:
    def __init__(self, service: Service, weather: Weather | None = None,
                 speed: float = 1.0, heartbeat: timedelta = HEARTBEAT) -> None:
        self.service = service
        self.weather = weather or Weather()
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
        # Scenarios someone triggers (alarms, camera events) that the clock then plays out.
        self.alarms = AlarmScenarios(service)
        self.cameras = CameraEvents(service)

    async def run(self, tick: timedelta = TICK) -> None:
        """Step once per ``tick`` of simulated time until :meth:`stop`. A failed step is
        logged and the next one runs: one bad object must not stop the whole home."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), tick.total_seconds() / self.speed)
                return
            try:
                await self.step()
            except Exception:
                log.exception("simulator step failed")

    def stop(self) -> None:
        """End :meth:`run` after the step in progress, if any: a write is never cut midway,
        so nothing is left staged when the store closes."""
        self._stopping.set()

    async def step(self) -> None:
        """One tick at the clock's current time, for every thermostat of every user."""
        now = self.service.clock()
        seconds = max(0.0, (now - self._last).total_seconds())
        self._last = now
        await self._expire_arrivals(now)
        await self.alarms.step(now)
        await self.cameras.step(now)
        thermostats = [o for o in list(self.service.home.committed.values())
                       if o.kind == "thermostats" and not o.deleted]
        for obj in thermostats:
            if not obj.data.get("is_online", True):
                continue  # an offline device reports nothing, and its timer is not seen
            values = self._thermostat(obj, now, seconds)
            if not values:
                continue
            try:
                await self.service.write(system(obj.user_id),
                                         ("devices", "thermostats", obj.id), values)
            except errors.ApiError:
                # Deleted or changed under us since the snapshot: the next tick sees it anew.
                log.warning("simulator write to thermostat %s refused", obj.id, exc_info=True)

    async def _expire_arrivals(self, now: datetime) -> None:
        """Nest's own logic forgets arrival windows that have ended, so eta_begin moves on to
        the next one, or back to the epoch."""
        for obj in [o for o in list(self.service.home.committed.values())
                    if o.kind == "structures" and o.data.get("eta")]:
            trips = obj.data["eta"]
            left = {t: w for t, w in trips.items() if (parse(w["end"]) or now) > now}
            if left != trips:
                with contextlib.suppress(errors.ApiError):
                    await self.service.write(system(obj.user_id), ("structures", obj.id),
                                             {"eta": left})

    def _room(self, obj: Obj) -> thermal.Room:
        d = obj.data
        stored = (float(d.get("ambient_temperature", 20.0)), float(d.get("humidity", 45)))
        room = self._rooms.get(obj.id)
        if room is None or self._reported.get(obj.id) != stored:
            room = thermal.Room(*stored)
        return room

    def _thermostat(self, obj: Obj, now: datetime, seconds: float) -> dict[str, Any]:
        d = obj.data
        structure = self.service.home.get("structures", obj.structure_id)
        zone = structure.data.get("time_zone", "UTC") if structure else "UTC"
        if derived.safety_shutoff(self.service.home, obj.structure_id):
            d = {**d, "hvac_mode": "off"}  # Nest holds the HVAC off while an alarm sounds
        reading = thermal.step(d, self._room(obj), self.weather.outdoor_c(now, zone), seconds)
        self._rooms[obj.id] = reading.room
        values: dict[str, Any] = {}
        old_c = d.get("ambient_temperature")
        new_c = reading.room.temperature_c
        if old_c is None or any(units.show(new_c, s) != units.show(old_c, s) for s in "FC"):
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
        timeout = parse(d.get("fan_timer_timeout"))
        if d.get("fan_timer_active") and timeout is not None and iso(timeout) != EPOCH \
                and timeout <= now:
            values["fan_timer_active"] = False
            values["fan_timer_timeout"] = EPOCH
        last = parse(d.get("last_connection"))
        if values or last is None or now - last >= self.heartbeat:
            values["last_connection"] = iso(now)
        self._reported[obj.id] = (
            float(values.get("ambient_temperature_c", old_c if old_c is not None else new_c)),
            float(values.get("humidity", d.get("humidity", humidity))),
        )
        return values
