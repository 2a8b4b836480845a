"""Many homes in one step: the simulator writes a tick's reports as one batch, one commit.

Observed as a client sees it (REST reads, one stream per user) and in the change log of the
real SQLite file, which gains one row per commit. Batches go through
:meth:`Service.write_many`, the service's write path for several writes at once; its own
cases (a refused write, two writes to one object, a batch that changes nothing, a failed
commit, a dropped all-or-nothing batch) are here too.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from conftest import Api
from permissions_helpers import next_event, subscribe

from roost import demo, errors
from roost.auth import passwords, tokens
from roost.auth.principal import Principal, system
from roost.clock import iso
from roost.model import paths
from roost.simulator.runner import Simulator
from roost.weather import Weather

COLD = Weather(mean_c=0.0, amplitude_c=0.0)
HOMES = 25  # the demo home and 24 more: 50 thermostats across 25 users


@pytest.fixture
def db(tmp_path: Path, api: Api) -> Path:
    """The in-process app's database file (the ``api`` fixture's)."""
    return tmp_path / "roost.db"


@contextmanager
def opened(db: Path) -> Iterator[sqlite3.Connection]:
    """The database file, opened read-only beside the app."""
    with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        yield conn


def changes_since(db: Path, seq: int) -> list[list[list[Any]]]:
    """The objects ``[kind, id, version]`` listed by each change row after ``seq``."""
    with opened(db) as conn:
        rows = conn.execute("SELECT objects FROM changes WHERE seq > ? ORDER BY seq",
                            (seq,)).fetchall()
    return [orjson.loads(objects) for (objects,) in rows]


def last_seq(db: Path) -> int:
    with opened(db) as conn:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])


def stored_version(db: Path, device_id: str) -> int:
    with opened(db) as conn:
        return int(conn.execute("SELECT version FROM objects WHERE kind = 'thermostats' "
                                "AND id = ?", (device_id,)).fetchone()[0])


def add_home(api: Api, n: int) -> str:
    """Another user with a demo home, as ``roost serve --demo`` makes the demo's; a
    full-access token for the user."""
    password_hash = passwords.hash_password(demo.PASSWORD)
    token = tokens.new_token()

    async def go() -> str:
        store = api.service.store
        user = await store.create_user(f"neighbour{n}@example.com", password_hash)
        await store.add_token(tokens.digest(token), user.id, tokens.FIRST_PARTY_CLIENT)
        return user.id

    user_id = api.client.portal.call(go)
    api.client.portal.call(demo.create_home, api.service, user_id)
    return token


@pytest.fixture
def homes(api: Api) -> list[str]:
    """Tokens of ``HOMES`` users with a demo home each, the demo user's first."""
    return [api.token, *(add_home(api, n) for n in range(1, HOMES))]


def thermostats(api: Api, token: str) -> dict[str, Any]:
    response = api.client.get("/devices/thermostats",
                              headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    return response.json()


def tick(api: Api, sim: Simulator) -> None:
    api.clock.advance(minutes=1)
    api.client.portal.call(sim.step)


def test_a_step_of_many_homes_is_one_commit_and_one_event_per_stream(
        api: Api, homes: list[str], db: Path) -> None:
    # Every thermostat checks in on every tick, so every one of them reports.
    sim = Simulator(api.service, COLD, heartbeat=timedelta(0))
    tick(api, sim)  # the first reports, from the demo's state
    opened = [subscribe(api, token, "/devices/thermostats") for token in homes]
    for stream in opened:
        assert next_event(api, stream)[0] == "put"  # what it shows on opening
    seq = last_seq(db)

    tick(api, sim)

    changes = changes_since(db, seq)
    assert len(changes) == 1
    assert sorted(kind for kind, _, _ in changes[0]) == ["thermostats"] * 2 * HOMES
    now = iso(api.clock())
    for token, stream in zip(homes, opened, strict=True):
        shown = thermostats(api, token)
        assert len(shown) == 2
        assert {t["last_connection"] for t in shown.values()} == {now}
        name, data = next_event(api, stream)  # the step's one change, one event
        assert name == "put" and data == shown
        api.service.hub.unsubscribe(stream)


def test_reports_of_a_big_step_are_cut_into_batches(
        api: Api, homes: list[str], db: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("roost.simulator.runner.BATCH", 8)
    sim = Simulator(api.service, COLD, heartbeat=timedelta(0))
    seq = last_seq(db)
    tick(api, sim)
    changes = changes_since(db, seq)
    # 50 thermostats in batches of 8: seven commits, each with the reports of its batch.
    assert [len(objects) for objects in changes] == [8, 8, 8, 8, 8, 8, 2]
    now = iso(api.clock())
    for token in homes:
        assert {t["last_connection"] for t in thermostats(api, token).values()} == {now}


# -- Service.write_many ------------------------------------------------------------------------


def device_write(api: Api, device_id: str, values: dict[str, Any]) -> tuple[Any, ...]:
    """A report from a demo thermostat, as the simulator writes it."""
    user_id = api.service.home.get("thermostats", device_id).user_id
    return (system(user_id), ("devices", "thermostats", device_id), values)


def write_many(api: Api, writes: list[tuple[Any, ...]]) -> list[errors.ApiError | None]:
    return api.client.portal.call(api.service.write_many, writes)


async def _authenticate(api: Api) -> Principal:
    return await api.service.authenticate(api.token)


def test_a_refused_write_does_not_hold_back_the_rest_of_its_batch(api: Api, db: Path) -> None:
    seq = last_seq(db)
    client = api.client.portal.call(_authenticate, api)
    outcomes = write_many(api, [
        device_write(api, api.living_room, {"humidity": 60}),
        # A product's write of an ambient reading: only the device reports it.
        (client, paths.parse(f"/devices/thermostats/{api.bedroom}"),
         {"ambient_temperature_f": 90}),
        (client, paths.parse("/devices/thermostats/no-such-thermostat"),
         {"target_temperature_f": 70}),
        device_write(api, api.bedroom, {"humidity": 30}),
    ])
    assert outcomes[0] is None and outcomes[3] is None
    refused, missing = outcomes[1], outcomes[2]
    assert isinstance(refused, errors.ApiError) and refused.status == 400
    assert refused.details == {"fields": "ambient_temperature_f"}
    assert isinstance(missing, errors.ApiError) and missing.status == 404
    assert api.get(f"/devices/thermostats/{api.living_room}")["humidity"] == 60
    bedroom = api.get(f"/devices/thermostats/{api.bedroom}")
    assert bedroom["humidity"] == 30 and bedroom["ambient_temperature_f"] == 71
    changes = changes_since(db, seq)
    assert len(changes) == 1 and len(changes[0]) == 2


def test_later_writes_of_a_batch_build_on_earlier_ones(api: Api, db: Path) -> None:
    seq, version = last_seq(db), stored_version(db, api.living_room)
    client = api.client.portal.call(_authenticate, api)
    path = paths.parse(f"/devices/thermostats/{api.living_room}")
    outcomes = write_many(api, [
        (client, path, {"target_temperature_f": 72}),
        device_write(api, api.living_room, {"humidity": 55}),
        (client, path, {"hvac_mode": "cool", "target_temperature_f": 75}),
        device_write(api, api.living_room, {"is_online": False}),
        # Refused because of the write before it in the same batch: the device is offline.
        (client, path, {"target_temperature_f": 76}),
    ])
    assert outcomes[:4] == [None] * 4
    offline = outcomes[4]
    assert isinstance(offline, errors.ApiError) and offline.status == 400
    t = api.get(f"/devices/thermostats/{api.living_room}")
    assert (t["hvac_mode"], t["target_temperature_f"], t["humidity"], t["is_online"]) == (
        "cool", 75, 55, False)
    # One object, one new version, one change row.
    assert changes_since(db, seq) == [[["thermostats", api.living_room, version + 1]]]
    # And later single writes still follow on.
    api.device_write(f"/devices/thermostats/{api.living_room}", {"is_online": True})
    assert api.get(f"/devices/thermostats/{api.living_room}")["is_online"] is True


def test_a_batch_that_leaves_everything_as_it_was_commits_nothing(api: Api, db: Path) -> None:
    before = api.get(f"/devices/thermostats/{api.living_room}")
    stream = subscribe(api, api.token, f"/devices/thermostats/{api.living_room}")
    assert next_event(api, stream) == ("put", before)
    seq = last_seq(db)
    outcomes = write_many(api, [
        device_write(api, api.living_room, {"time_to_target": "~90"}),
        device_write(api, api.living_room, {"time_to_target": before["time_to_target"]}),
        device_write(api, api.bedroom, {"hvac_state": "off"}),  # it is off already
    ])
    assert outcomes == [None, None, None]
    assert changes_since(db, seq) == []
    assert api.get(f"/devices/thermostats/{api.living_room}") == before
    # The next write is the stream's next event: nothing was published for the batch.
    api.device_write(f"/devices/thermostats/{api.living_room}", {"humidity": 50})
    name, data = next_event(api, stream)
    assert name == "put" and data["humidity"] == 50
    api.service.hub.unsubscribe(stream)


def test_a_failed_commit_writes_nothing_of_the_batch(api: Api, db: Path) -> None:
    before = {d: api.get(f"/devices/thermostats/{d}") for d in (api.living_room, api.bedroom)}
    seq = last_seq(db)
    # The change row fails as a full disk would fail it, after the objects' rows were written.
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("CREATE TRIGGER disk_full BEFORE INSERT ON changes "
                     "BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END")
    writes = [device_write(api, api.living_room, {"humidity": 70}),
              device_write(api, api.bedroom, {"humidity": 20})]
    with pytest.raises(errors.ApiError) as failed:
        write_many(api, writes)
    assert failed.value.status == 503
    for device_id, shown in before.items():
        assert api.get(f"/devices/thermostats/{device_id}") == shown
    assert changes_since(db, seq) == []
    with closing(sqlite3.connect(db, isolation_level=None)) as conn:
        conn.execute("DROP TRIGGER disk_full")
    # Nothing of the failed batch stays behind: the same batch now goes through.
    assert write_many(api, writes) == [None, None]
    assert api.get(f"/devices/thermostats/{api.living_room}")["humidity"] == 70
    assert api.get(f"/devices/thermostats/{api.bedroom}")["humidity"] == 20


def test_a_dropped_batch_leaves_another_writers_pending_write_in_place(api: Api) -> None:
    """A client's write is staged, its commit still on its way, when an all-or-nothing batch
    that touched the same thermostat is dropped: the write after it must still build on the
    client's, or it would be planned from older data and collide with it in the store."""
    path = paths.parse(f"/devices/thermostats/{api.living_room}")

    async def go() -> list[errors.ApiError | None]:
        client = await api.service.authenticate(api.token)
        first = asyncio.ensure_future(
            api.service.write(client, path, {"target_temperature_f": 72}))
        await asyncio.sleep(0)  # planned and staged; the commit is queued
        dropped = await api.service.write_many([
            device_write(api, api.living_room, {"humidity": 30}),
            (client, path, {"ambient_temperature_f": 90}),  # refused: drops the batch
        ], atomic=True)
        then = asyncio.ensure_future(api.service.write(client, path, {"label": "den"}))
        await asyncio.gather(first, then)
        return dropped

    dropped = api.client.portal.call(go)
    assert dropped[0] is None and isinstance(dropped[1], errors.ApiError)
    t = api.get(f"/devices/thermostats/{api.living_room}")
    assert (t["target_temperature_f"], t["label"], t["humidity"]) == (72, "den", 40)
