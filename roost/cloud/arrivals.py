"""Arrival windows (ETA) that have ended are forgotten, so ``eta_begin`` moves on to the next
window, or back to the epoch. Clients' writes already drop ended windows (the rules); this is
Nest's cloud doing it on its own when nobody writes."""

from __future__ import annotations

import logging
from datetime import datetime

from roost.auth.principal import system
from roost.batches import Batches
from roost.clock import parse
from roost.service import Service

log = logging.getLogger(__name__)


class ArrivalWindows:
    def __init__(self, service: Service) -> None:
        self.service = service

    async def step(self, now: datetime, batches: Batches) -> datetime | None:
        """Forget the windows that have ended, in ``batches``; when the next one ends."""
        upcoming: datetime | None = None
        async for obj in batches.each(self.service.home, "structures"):
            if not obj.data.get("eta"):
                continue
            trips = obj.data["eta"]
            left = {}
            for trip, window in trips.items():
                end = parse(window["end"]) or now
                if end > now:
                    left[trip] = window
                    upcoming = end if upcoming is None else min(upcoming, end)
            if left != trips:
                log.info("arrival window of structure %s ended (%s)", obj.id,
                         ", ".join(sorted(set(trips) - set(left))))
                batches.add((system(obj.user_id), ("structures", obj.id), {"eta": left}))
        return upcoming
