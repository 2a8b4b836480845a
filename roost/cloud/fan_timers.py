"""Fan timers of thermostats that nobody plays.

A thermostat runs its own fan timer and reports when it ends; the simulator does so for the
thermostats it plays (:func:`roost.simulator.thermal.fan`), a real device for itself. A
thermostat that nothing plays (a server run with ``--no-simulate``, a home imported or
written only through the APIs) would show its timer running forever, so Nest's cloud stands
in for it: once ``fan_timer_timeout`` has passed, the timer ends as the thermostat would end
it. Only for those: a played thermostat's timer is never ended twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from roost.auth.principal import system
from roost.batches import Batches
from roost.clock import EPOCH
from roost.model.home import Obj
from roost.rules.thermostat import fan_timer_end
from roost.service import Service

log = logging.getLogger(__name__)

Plays = Callable[[Obj], bool]


def nobody(device: Obj) -> bool:
    """Nothing plays any device."""
    return False


class FanTimers:
    def __init__(self, service: Service, plays: Plays = nobody) -> None:
        self.service = service
        # Whether something else (the simulator, a real device) runs a device's own logic.
        self.plays = plays

    async def step(self, now: datetime, batches: Batches) -> datetime | None:
        """End the timers that have run out, in ``batches``; when the next one runs out."""
        upcoming: datetime | None = None
        async for obj in batches.each(self.service.home, "thermostats"):
            if not obj.data.get("fan_timer_active"):
                continue
            if self.plays(obj) or obj.data.get("device_serial"):
                continue  # the simulator, or the real thermostat itself, ends it
            end = fan_timer_end(obj.data)
            if end is None:
                continue  # no timer: the fan runs with the system
            if end > now:
                upcoming = end if upcoming is None else min(upcoming, end)
                continue
            log.info("fan timer of thermostat %s ended", obj.id)
            batches.add((system(obj.user_id), ("devices", "thermostats", obj.id),
                         fan_timer_ended(obj.data)))
        return upcoming


def fan_timer_ended(d: dict[str, object]) -> dict[str, object]:
    """What a thermostat reports when its timer ends: no timeout, and the fan still shown
    running only while a system with a fan heats or cools (spec §8.3)."""
    running = bool(d.get("has_fan")) and d.get("hvac_state") in ("heating", "cooling")
    return {"fan_timer_timeout": EPOCH, "fan_timer_active": running}
