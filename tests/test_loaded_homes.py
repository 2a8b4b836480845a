"""Homes loaded from the store share equal values (roost/model/compact.py): what one home
writes must never show in another that was loaded holding the same value. A real SQLite
file, written by one service and loaded by the next, as a restarted server loads it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson

from roost import demo
from roost.auth.principal import system
from roost.clock import system_clock
from roost.model import schedule
from roost.service import Service
from roost.store import SQLiteStore


async def _homes(db: Path, users: int) -> list[tuple[str, str, str]]:
    """Demo homes for new users: each user's id, structure id and Living Room thermostat."""
    service = Service(SQLiteStore(db))
    await service.start()
    made = []
    for n in range(users):
        user_id = (await service.store.create_user(f"u{n}@example.com", "hash")).id
        structure, living_room, *_ = await service.create_many(
            system(user_id), demo.home(system_clock()))
        made.append((user_id, structure.id, living_room.id))
    await service.stop()
    service.store.close()
    return made


async def _write_one_and_read_all(db: Path) -> None:
    (writer, structure_id, thermostat_id), *others = await _homes(db, 3)
    service = Service(SQLiteStore(db))
    await service.start()
    try:
        def stored(kind: str, id: str, key: str) -> bytes:
            obj = service.home.get(kind, id)
            assert obj is not None
            return orjson.dumps(obj.data[key])

        schedules = {stored("thermostats", t, "schedule") for _, _, t in others}
        rooms = [stored("structures", s, "wheres") for _, s, _ in others]
        assert schedules == {stored("thermostats", thermostat_id, "schedule")}  # loaded alike

        new = schedule.typical("HEAT", (22.0,), (16.0,))
        await service.write(system(writer), ("devices", "thermostats", thermostat_id),
                            {"schedule": new})
        await service.write(system(writer), ("structures", structure_id), {"name": "Cabin"})

        assert orjson.loads(stored("thermostats", thermostat_id, "schedule")) == new
        assert {stored("thermostats", t, "schedule") for _, _, t in others} == schedules
        assert [stored("structures", s, "wheres") for _, s, _ in others] == rooms
        assert {stored("structures", s, "name") for _, s, _ in others} == {b'"Home"'}
    finally:
        await service.stop()
        service.store.close()


def test_a_write_to_one_home_leaves_the_values_other_homes_share(tmp_path: Path) -> None:
    asyncio.run(_write_one_and_read_all(tmp_path / "roost.db"))
