"""The security state relaxes (spec §8.6): ``deter``, raised by a write rule the moment a
camera reports a person while the home is away (:func:`roost.rules.camera.person_seen`),
goes back to ``ok`` once the home is no longer away, or once no person has been seen for
``relax``. Nest re-evaluated it "after several minutes" without a person event."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from roost.auth.principal import system
from roost.batches import Batches
from roost.clock import parse
from roost.model.home import Obj
from roost.service import Service

log = logging.getLogger(__name__)

RELAX = timedelta(minutes=5)


class SecurityState:
    def __init__(self, service: Service, relax: timedelta = RELAX) -> None:
        self.service = service
        self.relax = relax

    async def step(self, now: datetime, batches: Batches) -> datetime | None:
        """Relax the structures whose wait is over, in ``batches``; when the next one is."""
        upcoming: datetime | None = None
        async for obj in batches.each(self.service.home, "structures"):
            if obj.data.get("wwn_security_state") != "deter":
                continue
            relaxes = _last_person(obj) + self.relax
            if obj.data.get("away") == "away" and relaxes > now:
                upcoming = relaxes if upcoming is None else min(upcoming, relaxes)
                continue
            log.info("security state of structure %s back to ok", obj.id)
            batches.add((system(obj.user_id), ("structures", obj.id),
                         {"wwn_security_state": "ok"}))
        return upcoming


def _last_person(structure: Obj) -> datetime:
    """When a person was last seen while away; a deter no camera raised (an import, a
    system write) waits a full period from its own change."""
    return parse(structure.data.get("person_seen")) or datetime.fromtimestamp(
        structure.updated / 1000, UTC)
