"""The simulator and Nest's cloud over one in-process app, stepped by hand on its manual
clock as the server steps them on its own: the simulated world, then the cloud."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conftest import Api

from roost.cloud.home_away import AWAY_AFTER
from roost.cloud.runner import Cloud
from roost.simulator.runner import Simulator
from roost.weather import Weather


class World:
    def __init__(self, api: Api, weather: Weather | None = None,
                 away_after: timedelta = AWAY_AFTER, **simulator: Any) -> None:
        self.cloud = Cloud(api.service, away_after=away_after, plays=lambda device: False)
        self.simulator = Simulator(api.service, weather, occupancy=self.cloud.home_away,
                                   **simulator)
        self.cloud.fan_timers.plays = self.simulator.plays  # as a server that simulates
        self.people = self.simulator.people
        self.cameras = self.simulator.cameras
        self.alarms = self.simulator.alarms
        self.rush_hour = self.cloud.rush_hour
        self.home_away = self.cloud.home_away

    async def step(self) -> None:
        await self.simulator.step()
        await self.cloud.step()
