"""Rush Hour Rewards (spec §8.7): peak periods of the structures enrolled in it.

An enrolled structure shows ``peak_period_start_time``/``peak_period_end_time`` from the
moment a peak is announced until it ends; outside that, and in every structure that is not
enrolled, both fields are absent (a direct read is 404), as on Nest.

Peaks come on a fixed, deterministic calendar rather than from a utility: by default every
weekday 17:00-19:00 in the structure's local time, announced 12 hours ahead (05:00). Nest
gave from no notice to 24 hours; the calendar accepts anything in that range.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from roost.auth.principal import system
from roost.batches import Batches
from roost.clock import iso
from roost.model.home import Obj
from roost.model.localtime import local
from roost.service import Service

log = logging.getLogger(__name__)

FIELDS = ("peak_period_start_time", "peak_period_end_time")
LONGEST_NOTICE = timedelta(hours=24)


@dataclass(frozen=True)
class Peaks:
    """A peak from ``start`` local time for ``length`` on ``days`` (0 Monday), announced
    ``notice`` ahead."""

    start: time = time(17, 0)
    length: timedelta = timedelta(hours=2)
    notice: timedelta = timedelta(hours=12)
    days: frozenset[int] = frozenset(range(5))

    def __post_init__(self) -> None:
        if not timedelta(0) <= self.notice <= LONGEST_NOTICE:
            raise ValueError("a peak is announced at most 24 hours ahead")
        if not timedelta(0) < self.length <= timedelta(hours=24):
            raise ValueError("a peak lasts more than nothing and at most a day")

    def event(self, here: datetime) -> tuple[datetime, datetime] | None:
        """The peak announced and not over at local time ``here``, as (start, end); the
        earlier one while the next is already due to be announced."""
        for offset in (-1, 0, 1):  # yesterday's may run past midnight; tomorrow's be known
            day = here.date() + timedelta(days=offset)
            if day.weekday() not in self.days:
                continue
            begin = datetime.combine(day, self.start, tzinfo=here.tzinfo)
            end = begin + self.length
            if begin - self.notice <= here < end:
                return begin, end
        return None


class RushHour:
    """Nest's demand-response logic: announces and clears the peaks of enrolled homes."""

    def __init__(self, service: Service, peaks: Peaks | None = None) -> None:
        self.service = service
        self.peaks = peaks or Peaks()

    async def step(self, now: datetime, batches: Batches) -> None:
        """Announce the peaks due and clear the ones over, in ``batches``: at 05:00 in a
        time zone every enrolled home there has one."""
        async for structure in batches.each(self.service.home, "structures"):
            values = self._due(structure, now)
            if not values:
                continue
            if values[FIELDS[0]] is None:
                log.info("Rush Hour peak of structure %s over", structure.id)
            else:
                log.info("Rush Hour peak for structure %s announced: %s to %s", structure.id,
                         *values.values())
            batches.add((system(structure.user_id), ("structures", structure.id), values))

    def _due(self, structure: Obj, now: datetime) -> dict[str, Any]:
        """The peak fields to write, None to clear one; empty when they are as they should be."""
        d = structure.data
        wanted: tuple[str | None, str | None] = (None, None)
        if d.get("rhr_enrollment") is True:
            event = self.peaks.event(local(now, d.get("time_zone") or "UTC"))
            if event is not None:
                wanted = (iso(event[0]), iso(event[1]))
        if tuple(d.get(name) for name in FIELDS) == wanted:
            return {}
        return dict(zip(FIELDS, wanted, strict=True))
