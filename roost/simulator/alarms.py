"""Smoke+CO alarm scenarios: what a Protect reports when smoke, CO, its battery or a manual
test calls for it. Nest's safety shutoff of the HVAC that follows an emergency is a rule of
the write path (:mod:`roost.rules.alarm`), so it follows any Protect's report.

Everything goes through :meth:`Service.write` as the system principal, as the simulator's
other reports do, so the rules, the store, versions and streams see it as they see any
client. ``ui_color_state`` and the structure's ``smoke_alarm_state``/``co_alarm_state`` are
derived on read from the alarm's reported fields, so a scenario writes only those.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from roost import errors
from roost.auth.principal import system
from roost.clock import iso
from roost.model.home import Obj
from roost.service import Service

log = logging.getLogger(__name__)

SCENARIOS = ("smoke-warning", "smoke-emergency", "co-warning", "co-emergency",
             "battery-replace", "manual-test", "clear")
# How long a Protect's manual test sounds before it reports success.
MANUAL_TEST = timedelta(seconds=30)

# The reported fields each scenario sets; "manual-test" and "clear" are handled apart, since
# they depend on whether a test is running.
_STATES: dict[str, dict[str, Any]] = {
    "smoke-warning": {"smoke_alarm_state": "warning"},
    "smoke-emergency": {"smoke_alarm_state": "emergency"},
    "co-warning": {"co_alarm_state": "warning"},
    "co-emergency": {"co_alarm_state": "emergency"},
    "battery-replace": {"battery_health": "replace"},
    "manual-test": {"is_manual_test_active": True},
    "clear": {"smoke_alarm_state": "ok", "co_alarm_state": "ok", "battery_health": "ok"},
}


def _alarm(service: Service, alarm_id: str) -> Obj:
    obj = service.home.get("smoke_co_alarms", alarm_id, pending=True)
    if obj is None:
        raise ValueError(f"unknown smoke_co_alarm: {alarm_id!r}")
    return obj


async def trigger(service: Service, alarm_id: str, scenario: str, now: datetime) -> None:
    """Apply ``scenario`` to one alarm at ``now``. ``ValueError`` for an unknown scenario or
    alarm, checked before anything is written.

    One write: an emergency's safety shutoff goes with it in the same commit."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown alarm scenario: {scenario!r} (one of {', '.join(SCENARIOS)})")
    alarm = _alarm(service, alarm_id)
    values = dict(_STATES[scenario])
    if scenario == "clear" and alarm.data.get("is_manual_test_active"):
        values.update(_test_passed(now))
    values["last_connection"] = iso(now)  # the alarm reported, so it was in touch
    # An emergency shuts off the structure's thermostats in the same commit (rules.alarm).
    await service.write(system(alarm.user_id), ("devices", "smoke_co_alarms", alarm_id), values)
    log.info("alarm %s: %s", alarm_id, scenario)


def _test_passed(now: datetime) -> dict[str, Any]:
    return {"is_manual_test_active": False, "last_manual_test_time": iso(now),
            "last_connection": iso(now)}


class AlarmScenarios:
    """Scenarios with the manual tests they started: a test ends by itself after
    ``duration``. The start times are kept here rather than in the alarm's data, because the
    store holds only the API's fields and Nest never showed a test's start."""

    def __init__(self, service: Service, duration: timedelta = MANUAL_TEST) -> None:
        self.service = service
        self.duration = duration
        self._tests: dict[str, datetime] = {}  # alarm id -> when its manual test started

    async def trigger(self, alarm_id: str, scenario: str, now: datetime | None = None) -> None:
        """:func:`trigger` at ``now`` (the service's clock by default), remembering when a
        manual test starts so :meth:`step` can end it."""
        now = now or self.service.clock()
        await trigger(self.service, alarm_id, scenario, now)
        if scenario == "manual-test":
            self._tests.setdefault(alarm_id, now)  # a repeated trigger does not extend it
        elif scenario == "clear":
            self._tests.pop(alarm_id, None)

    async def step(self, now: datetime | None = None) -> None:
        """One simulator tick: end the manual tests that have run their length."""
        await self.finish_manual_tests(now or self.service.clock())

    async def finish_manual_tests(self, now: datetime) -> None:
        """Report success for every manual test started ``duration`` or more ago."""
        for alarm_id, started in list(self._tests.items()):
            if now - started < self.duration:
                continue
            del self._tests[alarm_id]
            alarm = self.service.home.get("smoke_co_alarms", alarm_id, pending=True)
            if alarm is None or not alarm.data.get("is_manual_test_active"):
                continue  # deleted, or ended by someone else meanwhile
            try:
                await self.service.write(system(alarm.user_id),
                                         ("devices", "smoke_co_alarms", alarm_id),
                                         _test_passed(now))
            except errors.ApiError:
                log.warning("ending manual test of alarm %s refused", alarm_id, exc_info=True)
