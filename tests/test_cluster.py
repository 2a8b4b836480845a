"""Several `roost serve` processes over one PostgreSQL database (docs/scale-out.md): the
slots shared out, each token sent to the process serving its home, a killed process's homes
taken over with every acknowledged write, account events crossing processes, and a process
cut off from the database stopping before its slots are taken over. Real processes on a
scratch database; leases shortened (tests/cluster_helpers.py) so each takes seconds."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator

import httpx
import psycopg
import pytest
from cluster_helpers import (
    SlotWatch,
    balanced,
    call,
    home_on,
    owners,
    relay,
    serve,
    user_on,
    wait_for,
)
from conftest import RoostProcess
from postgres_helpers import scratch_database
from sse import EOF, Stream
from thermostat import Thermostat

from roost.model.home import Obj
from roost.store.base import Fenced, LeaseTiming
from roost.store.postgres import PostgresStore
from roost.store.slots import SLOTS, slot_of


@pytest.fixture
def db() -> Iterator[str]:
    with scratch_database() as url:
        yield url


@pytest.fixture
def started() -> Iterator[list[RoostProcess]]:
    """Servers a test starts, killed after it."""
    servers: list[RoostProcess] = []
    yield servers
    for server in servers:
        server.kill()


def test_a_lone_server_takes_every_slot_and_a_second_one_joins(
        db: str, started: list[RoostProcess]) -> None:
    with SlotWatch(db):
        a = serve(db)
        started.append(a)
        assert set(owners(db).values()) == {a.url}
        assert len(owners(db)) == SLOTS
        b = serve(db)
        started.append(b)
        balanced(db, a, b)


def test_a_token_is_sent_to_the_server_of_its_home(db: str,
                                                  started: list[RoostProcess]) -> None:
    a = serve(db)
    b = serve(db)
    started += [a, b]
    balanced(db, a, b)
    _, token = user_on(db, b, "away@example.com")
    structure, thermostat = home_on(a, token)  # made on b, through a's 307

    sent = httpx.get(f"{a.url}/structures?x=1", headers={"Authorization": f"Bearer {token}"})
    assert sent.status_code == 307
    assert sent.headers["location"] == f"{b.url}/structures?x=1"
    found, hops = call("GET", f"{a.url}/", token)
    assert hops == [f"{b.url}/"]
    assert found.status_code == 200
    assert structure in found.json()["structures"]
    assert thermostat in found.json()["devices"]["thermostats"]

    written, hops = call("PUT", f"{a.url}/devices/thermostats/{thermostat}", token,
                         json={"label": "den"})
    assert (written.status_code, hops) == (200, [f"{b.url}/devices/thermostats/{thermostat}"])
    # The legacy API too, in its own shape of answer.
    legacy = httpx.get(f"{a.url}/v2/mobile/user.x", headers={"Authorization": f"Basic {token}"})
    assert legacy.status_code == 307 and legacy.headers["location"].startswith(b.url)

    _, own_token = user_on(db, a, "home@example.com")
    home_on(a, own_token)
    direct, hops = call("GET", f"{a.url}/", own_token)
    assert (direct.status_code, hops) == (200, [])


def test_a_killed_server_s_homes_are_served_with_every_acknowledged_write(
        db: str, started: list[RoostProcess]) -> None:
    a = serve(db)
    b = serve(db)
    started += [a, b]
    balanced(db, a, b)
    _, token = user_on(db, b, "kept@example.com")
    _, thermostat = home_on(b, token)
    path = f"/devices/thermostats/{thermostat}"
    acknowledged = []
    for n in range(20):
        answer = httpx.put(f"{b.url}{path}", json={"label": f"w-{n}"},
                           headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
        acknowledged.append(f"w-{n}")

    with SlotWatch(db):
        killed = time.monotonic()
        b.kill()
        wait_for(lambda: set(owners(db).values()) == {a.url} and len(owners(db)) == SLOTS,
                 15, "the survivor owning every slot")
        print(f"failover: every slot owned by the survivor {time.monotonic() - killed:.1f} s "
              "after the kill (lease 4 s)")
    found, hops = call("GET", f"{a.url}{path}", token)
    assert (found.status_code, hops) == (200, [])
    assert found.json()["label"] == acknowledged[-1]


def test_a_revocation_on_one_server_ends_the_token_on_the_other(
        db: str, started: list[RoostProcess]) -> None:
    a = serve(db)
    b = serve(db)
    started += [a, b]
    balanced(db, a, b)
    _, token = user_on(db, b, "revoked@example.com")
    home_on(b, token)
    stream = Stream(f"{b.url}/", token)
    try:
        assert stream.next_put()["structures"]
        revoked = httpx.delete(f"{a.url}/oauth2/access_tokens/{token}")
        assert revoked.status_code == 204
        # The other process follows account events every 0.3 s.
        event = stream.next(timeout=3)
        assert event is not EOF and event.event == "auth_revoked"
        stream.wait_eof(timeout=3)
    finally:
        stream.close()
    refused = httpx.get(f"{b.url}/", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 401


def test_a_server_cut_off_from_the_database_stops_before_its_slots_move(
        db: str, started: list[RoostProcess]) -> None:
    with relay() as cut:
        a = serve(db)
        started.append(a)
        c = serve(cut.url(db))
        started.append(c)
        balanced(db, a, c)
        _, token = user_on(db, c, "cut@example.com")
        _, thermostat = home_on(c, token)
        path = f"/devices/thermostats/{thermostat}"
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.put(f"{c.url}{path}", json={"label": "before"}, headers=auth
                         ).status_code == 200
        stream = Stream(f"{c.url}/", token)
        during: list[int] = []
        try:
            assert stream.next_put()
            with SlotWatch(db):
                cut.pause()
                paused = time.monotonic()

                def write() -> None:
                    answer = httpx.put(f"{c.url}{path}", json={"label": "during"},
                                       headers=auth, timeout=20)
                    during.append(answer.status_code)

                writer = threading.Thread(target=write)
                writer.start()
                stream.wait_eof(timeout=6)  # self-fenced: its streams end
                ended = time.monotonic() - paused
                writer.join(10)
                assert during and during[0] == 503  # never acknowledged
                later = httpx.put(f"{c.url}{path}", json={"label": "later"}, headers=auth)
                assert later.status_code == 503
                assert later.headers["retry-after"] == "1"
                wait_for(lambda: set(owners(db).values()) == {a.url}
                         and len(owners(db)) == SLOTS, 15, "the other owning every slot")
                taken = time.monotonic() - paused
                print(f"cut off: streams ended after {ended:.1f} s, slots taken over after "
                      f"{taken:.1f} s (lease 4 s, self-fence 2.5 s)")
                cut.resume()  # what c sent meanwhile reaches the database now: fenced
                time.sleep(2)
        finally:
            stream.close()
        found, _ = call("GET", f"{a.url}{path}", token)
        assert found.status_code == 200
        assert found.json()["label"] == "before"


def test_a_commit_for_a_slot_taken_over_is_refused_and_writes_nothing(db: str) -> None:
    store = PostgresStore(db)
    store.open()
    leases = store.join("http://127.0.0.1:1", LeaseTiming(4, 0.5, 2.5))
    lost: list[frozenset[int]] = []

    async def run() -> None:
        user = await store.create_user("fenced@example.com", "not a real hash")
        await leases.start(lambda slots, objects, seq: None, lost.append)
        await store.start(lambda change: None)
        try:
            slot = slot_of(user.id)
            home = Obj("structures", "s1", user.id, "s1", 1, {"name": "Before"})
            await store.commit([home])
            with psycopg.connect(db, autocommit=True) as conn:  # another process took it
                conn.execute("UPDATE slots SET owner = 'other', epoch = epoch + 1 "
                             "WHERE slot = %s", (slot,))
            with pytest.raises(Fenced):
                await store.commit([home.evolve({"name": "After"})])
        finally:
            await store.stop()
            await leases.stop()

    try:
        asyncio.run(run())
    finally:
        store.close()
    with psycopg.connect(db) as conn:
        assert conn.execute("SELECT version, data FROM objects WHERE id = 's1'").fetchone() \
            == (1, '{"name":"Before"}')


def test_writes_during_a_rebalance_all_land(db: str, started: list[RoostProcess]) -> None:
    a = serve(db)
    started.append(a)
    # A user in the upper half of the slots: those a lone server hands back when one joins.
    for n in range(50):
        user, token = user_on(db, a, f"moving{n}@example.com")
        if slot_of(user) >= SLOTS // 2:
            break
    _, thermostat = home_on(a, token)
    path = f"/devices/thermostats/{thermostat}"
    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            answer, _ = call("PUT", f"{a.url}{path}", token, json={"label": f"w-{n}"})
            if answer.status_code == 200:
                acknowledged.append(f"w-{n}")
                n += 1
            else:  # between servers: try again, as a client told Retry-After would
                assert answer.status_code == 503, answer.text
                time.sleep(0.1)

    stream = Stream(f"{a.url}/", token)
    writer = threading.Thread(target=write)
    writer.start()
    try:
        wait_for(lambda: len(acknowledged) > 5, 10, "writes acknowledged")
        b = serve(db)
        started.append(b)
        balanced(db, a, b)
        stream.wait_eof()  # its home left a: the client reconnects
        moved = len(acknowledged)
        wait_for(lambda: len(acknowledged) > moved + 5, 10, "writes acknowledged by b")
    finally:
        stop.set()
        writer.join(20)
        stream.close()
    assert owners(db)[slot_of(user)] == b.url
    again = Stream(f"{a.url}/", token)
    try:
        assert again.status_code == 307
        assert again.headers is not None and again.headers["location"] == f"{b.url}/"
    finally:
        again.close()
    found, hops = call("GET", f"{a.url}{path}", token)
    assert hops == [f"{b.url}{path}"]
    assert found.json()["label"] == acknowledged[-1]


def test_a_thermostat_is_sent_to_the_server_of_its_home(db: str,
                                                       started: list[RoostProcess]) -> None:
    a = serve(db)
    b = serve(db)
    started += [a, b]
    balanced(db, a, b)
    _, token = user_on(db, b, "paired@example.com")
    home_on(b, token)
    serial = "09AA01AC171401XY"
    device = Thermostat("127.0.0.1", a.port, serial)  # it first calls a
    urls = device.entry()
    key = device.passphrase(urls["passphrase_url"])["value"]
    claimed, hops = call("POST", f"{a.url}/api/v1/pairings", token, json={"entry_key": key})
    assert claimed.status_code in (200, 201), claimed.text
    assert hops == [f"{b.url}/api/v1/pairings"]

    def sent_on() -> bool:  # once a has read the claim among the account events
        answer = device.request("POST", "/nest/transport/v7/put", {"objects": []})
        return answer.status == 307 and answer.headers["location"] == \
            f"{b.url}/nest/transport/v7/put"

    wait_for(sent_on, 5, "the device's calls to a sent on to b")
