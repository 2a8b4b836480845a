"""Nest's cloud, stepping on its own: arrival windows that end, fan timers of thermostats
nobody plays, Rush Hour peaks, Home/Away Assist, the security state relaxing. The server
starts it always, whether or not it simulates anything (``roost serve --no-simulate``
included).

Every step writes through :class:`roost.batches.Batches`, as the simulator's reports do, so a
step over 10,000 homes costs a few commits and never holds the loop for long. Steps come once
per simulated minute, and also at the moment the next known deadline (a fan timer's timeout,
a window's end) falls due, so a timer ends at its timeout rather than up to a minute later.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from datetime import datetime, timedelta

from roost import errors
from roost.batches import Batches
from roost.cloud.arrivals import ArrivalWindows
from roost.cloud.fan_timers import FanTimers, Plays, nobody
from roost.cloud.home_away import AWAY_AFTER, HomeAwayAssist
from roost.cloud.rush_hour import RushHour
from roost.cloud.security import SecurityState
from roost.service import Service

log = logging.getLogger(__name__)

TICK = timedelta(minutes=1)


class Cloud:
    def __init__(self, service: Service, speed: float = 1.0, plays: Plays = nobody,
                 away_after: timedelta = AWAY_AFTER) -> None:
        """``plays`` tells the devices whose own logic something else runs (the simulator,
        a real device): the cloud never stands in for those. ``speed`` is simulated seconds
        per real second, as the clock runs."""
        self.service = service
        self.speed = speed
        self.arrivals = ArrivalWindows(service)
        self.fan_timers = FanTimers(service, plays)
        self.rush_hour = RushHour(service)
        self.home_away = HomeAwayAssist(service, away_after)
        self.security = SecurityState(service)
        self._stopping = asyncio.Event()

    async def run(self, tick: timedelta = TICK) -> None:
        """Step once per ``tick`` of simulated time, and when a known deadline falls due,
        until :meth:`stop`. A failed step is logged and the next one runs."""
        loop = asyncio.get_running_loop()
        period = tick.total_seconds() / self.speed
        due = loop.time() + period
        soonest = math.inf  # the loop time of the next known deadline
        failed = errors.FailedSteps(log, "cloud")
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                wait = max(0.0, min(due, soonest) - loop.time())
                await asyncio.wait_for(self._stopping.wait(), wait)
                return
            deadline = None
            try:
                deadline = await self.step()
            except Exception as exc:
                failed(exc)
            now = loop.time()
            if now >= due:
                due = max(due + period, now)  # late steps are not caught up in a burst
            soonest = math.inf
            if deadline is not None:  # always after the step's time, so this never spins
                ahead = (deadline - self.service.clock()).total_seconds() / self.speed
                soonest = now + max(ahead, 0.0) + 0.001  # just after: the step sees it passed

    def stop(self) -> None:
        """End :meth:`run` after the step in progress, if any."""
        self._stopping.set()

    async def step(self, now: datetime | None = None) -> datetime | None:
        """One step at ``now`` (the service's clock by default); the next deadline it knows
        of, if any, before which nothing times out."""
        now = now or self.service.clock()
        async with Batches(self.service, log) as batches:
            ends = [await self.arrivals.step(now, batches),
                    await self.fan_timers.step(now, batches),
                    await self.security.step(now, batches)]
            await self.rush_hour.step(now, batches)
        async with Batches(self.service, log) as paced:  # after the writes above are in
            await self.home_away.step(now, paced)
        return min((end for end in ends if end is not None), default=None)
