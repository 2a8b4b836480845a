"""Camera events (spec §8.5).

A camera that sees motion, sound or a person reports it as ``last_event``, through
:meth:`Service.write` as the system principal like the rest of the simulator. What Nest made
of a person seen while the home is away (``wwn_security_state``, spec §8.6) is not the
camera's doing: a write rule raises ``deter`` (:mod:`roost.rules.camera`) and Nest's cloud
relaxes it (:mod:`roost.cloud.security`).

An ongoing event is written **without** ``end_time``: python-nest's ``CameraEvent.is_ongoing``
reads an absent ``end_time`` as ongoing whatever the clocks say, while its other two cases
(start after end, end in the future) compare against the reader's wall clock, which need not
be the simulated one. ``end_time`` is filled when the event ends.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roost import errors
from roost.auth.principal import system
from roost.clock import iso, millis
from roost.service import Service

log = logging.getLogger(__name__)

KINDS = frozenset({"motion", "sound", "person"})
DURATION = timedelta(seconds=40)
# Image and clip URLs of an event stay valid for a week, as the demo camera's do.
URLS_VALID = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class _Ongoing:
    user_id: str
    ends: datetime
    event: dict[str, Any]  # the last_event as written, to write back with its end_time


class CameraEvents:
    """Events of every camera."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self._ongoing: dict[str, _Ongoing] = {}  # camera id -> its event not yet ended

    async def trigger(self, camera_id: str, kinds: set[str], now: datetime,
                      duration: timedelta = DURATION) -> bool:
        """Start an event of ``kinds`` on a camera; False if the camera cannot report one
        (unknown, offline or not streaming: a camera that is off sees nothing)."""
        unknown = set(kinds) - KINDS
        if unknown:
            raise ValueError(f"unknown camera event kinds: {sorted(unknown)}")
        cam = self.service.home.get("cameras", camera_id)
        if cam is None or not cam.data.get("is_online", True) \
                or not cam.data.get("is_streaming", False):
            return False
        event = _event(camera_id, kinds, now)
        try:
            await self.service.write(system(cam.user_id), ("devices", "cameras", camera_id),
                                     {"last_event": event})
        except errors.ApiError:
            log.warning("camera event for %s refused", camera_id, exc_info=True)
            return False
        # A new event replaces the one in progress, as last_event holds only one.
        self._ongoing[camera_id] = _Ongoing(cam.user_id, now + duration, event)
        return True

    async def step(self, now: datetime) -> None:
        """End the events whose time has come."""
        for camera_id, ongoing in list(self._ongoing.items()):
            if ongoing.ends > now:
                continue
            del self._ongoing[camera_id]
            # The event ended when its duration ran out, not at this (possibly later) step.
            ended = {**ongoing.event, "end_time": iso(ongoing.ends)}
            try:
                await self.service.write(system(ongoing.user_id),
                                         ("devices", "cameras", camera_id),
                                         {"last_event": ended})
            except errors.ApiError:
                # Deleted since: there is no last_event left to end.
                log.warning("ending camera event for %s refused", camera_id, exc_info=True)


def _event(camera_id: str, kinds: set[str], now: datetime) -> dict[str, Any]:
    """An ongoing last_event: no end_time yet, and fresh URLs for this event."""
    stamp = millis(now)  # each event gets its own links and images
    base = f"https://roost.invalid/cameras/{camera_id}/events/{stamp}"
    return {
        "has_sound": "sound" in kinds, "has_motion": "motion" in kinds,
        "has_person": "person" in kinds,
        "start_time": iso(now),
        "urls_expire_time": iso(now + URLS_VALID),
        "web_url": f"https://home.nest.com/cameras/{camera_id}/events/{stamp}",
        "app_url": f"nestmobile://cameras/{camera_id}/events/{stamp}",
        "image_url": f"{base}.jpg",
        "animated_image_url": f"{base}.gif",
        "activity_zone_ids": [],
    }
