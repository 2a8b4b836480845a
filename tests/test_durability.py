"""Durability of Roost's stores, against a real ``roost serve`` process (goals D1, D4).

Writes go over HTTP to 127.0.0.1; a write counts as acknowledged only when its full 200
response was received. A write in flight when the server is killed is indeterminate: it may or
may not be stored, but nothing older than the last acknowledged value may ever come back. After
each restart the database is also read directly: the SQLite file with ``sqlite3``, or the
PostgreSQL database with psycopg. The tests marked ``BOTH_STORES`` run on each store; the
others are about SQLite's file and its lock.

Some tests hold back Roost's commits from a connection of their own (SQLite's write lock, or
on PostgreSQL a lock on the change log every write inserts into): no write may be answered
before its own commit, and a write answered with an error must not reach the database by way
of a later one.
"""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import struct
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import psycopg
from conftest import BOTH_STORES, is_postgres

from roost.clock import iso
from roost.model import units
from roost.model.schema import FIELDS

if TYPE_CHECKING:
    from conftest import RoostProcess

# -- the database, read directly ------------------------------------------------------------------


class _Postgres:
    """A psycopg connection taking the same ``?`` queries as sqlite3's."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self._conn.execute(sql.replace("?", "%s"), params)  # type: ignore[arg-type]


@contextmanager
def open_db(db: Path | str) -> Iterator[Any]:
    """A connection of our own to the server's database (it never writes; at most it holds
    the writes back for a while)."""
    if is_postgres(db):
        with psycopg.connect(str(db), autocommit=True) as conn:
            yield _Postgres(conn)
    else:
        with closing(sqlite3.connect(db, timeout=10, isolation_level=None)) as conn:
            yield conn


@contextmanager
def writes_held(db: Path | str) -> Iterator[Callable[[], None]]:
    """Keep Roost's commits waiting until the function yielded is called: SQLite's write
    lock on the file, or on PostgreSQL a lock on the change log that no insert passes."""
    with open_db(db) as conn:
        if is_postgres(db):
            conn.execute("BEGIN")
            conn.execute("LOCK TABLE changes IN EXCLUSIVE MODE")
        else:
            conn.execute("BEGIN IMMEDIATE")  # Roost's writer waits on this (busy_timeout 5 s)
        yield lambda: conn.execute("ROLLBACK")


def assert_intact(db: Path | str) -> None:
    """SQLite's own check of the file. A PostgreSQL database has no file of Roost's: the
    server keeps its own files whole, and what Roost stored is checked by the callers."""
    if not is_postgres(db):
        with open_db(db) as conn:
            assert [row[0] for row in conn.execute("PRAGMA integrity_check")] == ["ok"]


def object_rows(conn: Any) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT kind, id, user_id, structure_id, version, data FROM objects "
                        "ORDER BY kind, id").fetchall()


def change_stats(conn: Any) -> tuple[int, int]:
    """(number of change rows, highest seq)."""
    count, top = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM changes").fetchone()
    return count, top


def api_objects(tree: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {("structures", sid): s for sid, s in tree.get("structures", {}).items()}
    for kind, devices in tree.get("devices", {}).items():
        found.update({(kind, did): d for did, d in devices.items()})
    return found


def assert_stored_matches_api(db: Path | str, tree: dict[str, Any]) -> int:
    """The database holds exactly the objects the API shows, and every field the API shows that is
    stored in the file has the stored value (°F/°C and rounded views computed from it).
    Returns how many field values were compared."""
    shown = api_objects(tree)
    with open_db(db) as conn:
        rows = object_rows(conn)
    assert {(kind, id) for kind, id, *_ in rows} == set(shown)
    compared = 0
    for kind, id, _user, _structure, _version, raw in rows:
        api, data = shown[(kind, id)], json.loads(raw)
        for f in FIELDS[kind].values():
            if f.name not in api or f.key not in data:
                continue
            value = data[f.key]
            if f.scale is not None:
                value = units.show(value, f.scale)
            elif f.step is not None:
                value = int(units.half_up(value, f.step))
            assert api[f.name] == value, f"{kind}/{id} {f.name}: {value!r} != {api[f.name]!r}"
            compared += 1
    return compared


def assert_change_log_consistent(db: Path | str) -> int:
    """The change log has no gaps, and each object's versions follow one another in commit
    order up to the version stored in its row. Returns the number of change rows.

    PostgreSQL hands out a change's number at insert, outside the transaction: a write cut
    off by a kill leaves its number unused. There the numbers need only increase."""
    with open_db(db) as conn:
        seqs = [row[0] for row in conn.execute("SELECT seq FROM changes ORDER BY seq")]
        changes = conn.execute("SELECT seq, objects FROM changes ORDER BY seq").fetchall()
        stored = {(k, i): v for k, i, v in conn.execute("SELECT kind, id, version FROM objects")}
    if not is_postgres(db):
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "gap in the change log"
    versions: dict[tuple[str, str], list[int]] = defaultdict(list)
    for _seq, objects in changes:
        for kind, id, version in json.loads(objects):
            versions[(kind, id)].append(version)
    for key, chain in versions.items():
        assert chain == list(range(chain[0], chain[0] + len(chain))), f"{key}: {chain}"
        if seqs[0] == 1:
            assert chain[0] == 1, key
        if key in stored:
            assert chain[-1] == stored[key], f"{key}: log ends at {chain[-1]}, row {stored[key]}"
    return len(seqs)


def wal_commit_frames(db: Path) -> tuple[tuple[int, int] | None, int]:
    """The salts of the WAL file's current generation and how many commit frames it holds:
    one per transaction written since the WAL was last restarted."""
    wal = Path(f"{db}-wal")
    data = wal.read_bytes() if wal.exists() else b""
    if len(data) < 32:
        return None, 0
    page_size = struct.unpack(">I", data[8:12])[0]
    salts = struct.unpack(">2I", data[16:24])
    commits = 0
    for offset in range(32, len(data) - (24 + page_size) + 1, 24 + page_size):
        _page, size_after_commit, *frame_salts = struct.unpack(">4I", data[offset:offset + 16])
        if tuple(frame_salts) != salts:
            break  # a frame of an earlier generation: the current one ends here
        commits += size_after_commit != 0
    return salts, commits


def change_stats_of(db: Path | str) -> tuple[int, int]:
    with open_db(db) as conn:
        return change_stats(conn)


def commit_mark(db: Path | str) -> Any:
    """Where the database's transactions stand, for ``transactions_since``."""
    return change_stats_of(db)[1] if is_postgres(db) else wal_commit_frames(Path(db))


def transactions_since(db: Path | str, mark: Any) -> int:
    """How many transactions wrote since ``mark``: on PostgreSQL the distinct transaction ids
    (``xmin``) of the change rows after it (a row written in a savepoint has the savepoint's
    own id, so this is at most too many); on SQLite the WAL's commit frames (nothing else
    writes, and the WAL restarts only after a checkpoint: if it restarted at the first of
    these commits, all of its commits are ours)."""
    if is_postgres(db):
        with open_db(db) as conn:
            return int(conn.execute("SELECT count(DISTINCT xmin::text) FROM changes "
                                    "WHERE seq > ?", (mark,)).fetchone()[0])
    salts, commits = mark
    salts_now, commits_now = wal_commit_frames(Path(db))
    return commits_now - commits if salts_now == salts else commits_now


# -- the demo home --------------------------------------------------------------------------------


@dataclass
class Ids:
    structure: str
    living_room: str  # heat mode
    bedroom: str  # heat-cool mode, locked 66-78 °F
    camera: str

    @classmethod
    def of(cls, tree: dict[str, Any]) -> Ids:
        by_where = {t["where_name"]: i for i, t in tree["devices"]["thermostats"].items()}
        return cls(next(iter(tree["structures"])), by_where["Living Room"], by_where["Bedroom"],
                   next(iter(tree["devices"]["cameras"])))

    def thermostat(self, id: str) -> str:
        return f"/devices/thermostats/{id}"


def get_tree(server: RoostProcess) -> dict[str, Any]:
    with server.client() as client:
        response = client.get("/")
        assert response.status_code == 200, response.text
        return response.json()


# -- register writers and kill rounds -------------------------------------------------------------


@dataclass
class Register:
    """One writer thread that PUTs an increasing counter to its own field, one write at a
    time, and remembers what became of each write."""

    name: str
    path: str
    body: Callable[[int], Any]  # what write n sends
    read: Callable[[dict[str, Any]], Any]  # the stored value, from GET /
    shown: Callable[[int], Any]  # what the API shows after write n
    stored: Any = None  # the value known to be durable (read back after a restart)
    next: int = 0
    acked: list[int] = field(default_factory=list)  # this round
    indeterminate: int | None = None  # this round
    failed: list[tuple[int, int, str]] = field(default_factory=list)  # every round
    in_flight: int = 0  # rounds that ended with a write in flight
    in_flight_kept: int = 0  # ... and it turned out to be stored

    def run(self, server: RoostProcess, go: threading.Barrier, deadline: float) -> None:
        self.acked, self.indeterminate = [], None
        with server.client() as client:
            go.wait(10)
            while time.monotonic() < deadline:
                n = self.next
                self.next += 1
                try:
                    response = client.put(self.path, json=self.body(n))
                except httpx.HTTPError:
                    self.indeterminate = n  # the server died with this write in flight
                    return
                if response.status_code == 200:
                    self.acked.append(n)
                else:
                    self.failed.append((n, response.status_code, response.text))

    def check(self, tree: dict[str, Any]) -> None:
        """After a restart: the last acknowledged value, or the one in flight at the kill."""
        last = self.shown(self.acked[-1]) if self.acked else self.stored
        allowed = [last]
        if self.indeterminate is not None:
            allowed.append(self.shown(self.indeterminate))
        value = self.read(tree)
        assert value in allowed, (
            f"{self.name}: stored {value!r}, last acknowledged {last!r}, "
            f"in flight {allowed[1:]!r}")
        assert all(value != self.shown(n) for n, *_ in self.failed), self.name
        if self.indeterminate is not None:
            self.in_flight += 1
            self.in_flight_kept += value == allowed[1] != last
        self.stored = value


@dataclass
class Burst:
    rounds: int = 0
    acked: int = 0
    burst_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def report(self, what: str) -> str:
        total = time.monotonic() - self.started
        return (f"{what}: {self.rounds} kill -9 rounds, {self.acked} acknowledged writes, "
                f"{self.acked / self.burst_seconds:.0f} writes/s while writing, "
                f"{self.acked / total:.0f} writes/s including restarts ({total:.1f} s)")


Task = Callable[[threading.Barrier, float], None]  # another thread of a round: (go, deadline)


def kill_round(server: RoostProcess, registers: list[Register], rng: random.Random,
               burst: Burst, others: tuple[Task, ...] = ()) -> dict[str, Any]:
    """Write with every register, kill -9 the server 50-500 ms in, restart, check each
    register against what it was told, and return the home as read after the restart."""
    tasks: list[Task] = [lambda go, deadline, r=r: r.run(server, go, deadline)
                         for r in registers]
    tasks += others
    go = threading.Barrier(len(tasks) + 1)
    deadline = time.monotonic() + 5  # a bound only: the kill comes long before
    threads = [threading.Thread(target=task, args=(go, deadline), daemon=True)
               for task in tasks]
    for t in threads:
        t.start()
    go.wait(10)
    began = time.monotonic()
    time.sleep(rng.uniform(0.05, 0.5))
    server.kill()
    burst.burst_seconds += time.monotonic() - began
    for t in threads:
        t.join(10)
        assert not t.is_alive(), "a writer did not stop after the kill"
    server.start()
    tree = get_tree(server)
    for r in registers:
        r.check(tree)
        assert not r.failed, f"{r.name}: writes refused during the burst: {r.failed[:3]}"
    burst.rounds += 1
    burst.acked += sum(len(r.acked) for r in registers)
    assert_intact(server.db)
    return tree


# -- 1. persistence across restarts ---------------------------------------------------------------


def put_ok(client: httpx.Client, path: str, body: Any) -> None:
    response = client.put(path, json=body)
    assert response.status_code == 200, response.text


@BOTH_STORES
def test_writes_survive_graceful_and_kill_restarts(roost_server: RoostProcess) -> None:
    server = roost_server
    ids = Ids.of(get_tree(server))
    old_token = server.token
    lr, br = ids.thermostat(ids.living_room), ids.thermostat(ids.bedroom)
    with server.client() as c:
        put_ok(c, f"{lr}/hvac_mode", "cool")
        put_ok(c, f"{lr}/target_temperature_f", 74)
        put_ok(c, f"/structures/{ids.structure}/name", "Lake House")
        put_ok(c, f"{lr}/label", "downstairs")
        put_ok(c, f"/structures/{ids.structure}", {"away": "away"})
        before = c.get("/").json()

    def check_first(tree: dict[str, Any]) -> None:
        s = tree["structures"][ids.structure]
        living, bedroom = (tree["devices"]["thermostats"][i]
                           for i in (ids.living_room, ids.bedroom))
        assert (s["name"], s["away"]) == ("Lake House", "away")
        assert living["label"] == "downstairs"
        assert living["name"] == "Living Room (downstairs)"
        assert living["target_temperature_f"] == 74
        assert (living["hvac_mode"], living["previous_hvac_mode"]) == ("eco", "cool")
        assert (bedroom["hvac_mode"], bedroom["previous_hvac_mode"]) == ("eco", "heat-cool")

    check_first(before)
    # SIGTERM: a graceful stop (uvicorn re-raises the signal once it has shut down).
    assert server.terminate() in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in "".join(server.output)
    server.start()
    after = get_tree(server)
    check_first(after)
    for part in ("structures", "devices"):
        assert after[part] == before[part]
    # A token issued before the restart still works and sees the same home.
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"Authorization": f"Bearer {old_token}"}) as c:
        assert c.get("/").json()["structures"] == before["structures"]

    with server.client() as c:
        put_ok(c, f"/structures/{ids.structure}/away", "home")
        put_ok(c, f"{lr}/target_temperature_f", 75)
        put_ok(c, f"{br}/label", "guest")
        put_ok(c, f"/structures/{ids.structure}/name", "Cabin")
        before = c.get("/").json()
    server.kill()  # SIGKILL right after the last acknowledgment
    server.start()
    after = get_tree(server)
    for part in ("structures", "devices"):
        assert after[part] == before[part]
    s = after["structures"][ids.structure]
    living, bedroom = (after["devices"]["thermostats"][i] for i in (ids.living_room, ids.bedroom))
    assert (s["name"], s["away"]) == ("Cabin", "home")
    assert (living["hvac_mode"], living["target_temperature_f"]) == ("cool", 75)
    assert (bedroom["hvac_mode"], bedroom["label"]) == ("heat-cool", "guest")
    assert_intact(server.db)
    assert_stored_matches_api(server.db, after)
    assert_change_log_consistent(server.db)


# -- 2. kill -9 during a burst of writes (D1) -----------------------------------------------------

MIN_ROUNDS = 20
MIN_ACKED = 2_000
MAX_ROUNDS = 60


@BOTH_STORES
def test_kill_during_writes_loses_no_acknowledged_write(roost_server: RoostProcess) -> None:
    server = roost_server
    tree = get_tree(server)
    ids = Ids.of(tree)
    # Four fields that take a distinct value on every write. A thermostat label on each
    # thermostat, the structure's name, and the structure's arrival window: its begin (shown
    # as eta_begin) moves one second per write, so it is a counter too, and shares an object
    # with the name writer so that concurrent writes to different fields of one object are
    # exercised as well.
    trip_base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)

    def window(n: int) -> dict[str, Any]:
        begin = trip_base + timedelta(seconds=n)
        return {"trip_id": "durability", "estimated_arrival_window_begin": iso(begin),
                "estimated_arrival_window_end": iso(begin + timedelta(hours=1))}

    sid, lr, br = ids.structure, ids.living_room, ids.bedroom
    registers = [
        Register("structure name", f"/structures/{sid}/name", lambda n: f"w0-{n}",
                 lambda t: t["structures"][sid]["name"], lambda n: f"w0-{n}"),
        Register("Living Room label", f"{ids.thermostat(lr)}/label", lambda n: f"w1-{n}",
                 lambda t: t["devices"]["thermostats"][lr]["label"], lambda n: f"w1-{n}"),
        Register("Bedroom label", f"{ids.thermostat(br)}/label", lambda n: f"w2-{n}",
                 lambda t: t["devices"]["thermostats"][br]["label"], lambda n: f"w2-{n}"),
        Register("arrival window", f"/structures/{sid}/eta", window,
                 lambda t: t["structures"][sid]["eta_begin"],
                 lambda n: iso(trip_base + timedelta(seconds=n))),
    ]
    for r in registers:
        r.stored = r.read(tree)
    rng = random.Random(20240611)
    burst = Burst()
    while burst.rounds < MIN_ROUNDS or (burst.acked < MIN_ACKED and burst.rounds < MAX_ROUNDS):
        tree = kill_round(server, registers, rng, burst)
    print("\n" + burst.report("D1 register writes") + "; writes in flight at the kill: "
          f"{sum(r.in_flight for r in registers)}, of which stored: "
          f"{sum(r.in_flight_kept for r in registers)}")
    assert burst.rounds >= MIN_ROUNDS
    assert burst.acked >= MIN_ACKED

    # The file on its own: checked while the server runs, then after one last kill -9 with
    # recovery done by a connection of our own instead of by the server.
    assert_intact(server.db)
    assert assert_stored_matches_api(server.db, tree) > 0
    changes = assert_change_log_consistent(server.db)
    assert changes > burst.acked  # the demo home's creation, then one per write
    server.kill()
    assert_intact(server.db)
    assert assert_stored_matches_api(server.db, tree) > 0
    with open_db(server.db) as conn:
        data = {(k, i): json.loads(d) for k, i, *_, d in object_rows(conn)}
    assert data[("structures", sid)]["name"] == registers[0].stored
    assert data[("thermostats", lr)]["label"] == registers[1].stored
    assert data[("thermostats", br)]["label"] == registers[2].stored
    assert data[("structures", sid)]["eta_begin"] == registers[3].stored


# -- 3. multi-object writes are atomic (D4) -------------------------------------------------------

AWAY_ROUNDS = 20


@BOTH_STORES
def test_away_and_its_thermostats_commit_together(roost_server: RoostProcess) -> None:
    """Away puts both thermostats in Eco and home brings them back, in the same commit as the
    structure, so no restart and no read may ever show one without the other."""
    server = roost_server
    tree = get_tree(server)
    ids = Ids.of(tree)
    sid, lr, br = ids.structure, ids.living_room, ids.bedroom
    modes = {i: tree["devices"]["thermostats"][i]["hvac_mode"] for i in (lr, br)}
    assert modes == {lr: "heat", br: "heat-cool"}

    def violations(tree: dict[str, Any]) -> list[str]:
        away = tree["structures"][sid]["away"] == "away"
        found = []
        for id, mode in modes.items():
            t = tree["devices"]["thermostats"][id]
            want = "eco" if away else mode
            if t["hvac_mode"] != want or (away and t["previous_hvac_mode"] != mode):
                found.append(f"structure {tree['structures'][sid]['away']}, {t['where_name']} "
                             f"{t['hvac_mode']} (previous {t['previous_hvac_mode']})")
        return found

    def toggle(k: int) -> Callable[[int], str]:
        return lambda n: ("away", "home")[(n + k) % 2]

    registers = [
        Register(f"away {k}", f"/structures/{sid}/away", toggle(k),
                 lambda t: t["structures"][sid]["away"], toggle(k))
        for k in (0, 1)
    ] + [
        Register("Living Room label", f"{ids.thermostat(lr)}/label", lambda n: f"a-{n}",
                 lambda t: t["devices"]["thermostats"][lr]["label"], lambda n: f"a-{n}"),
        Register("Bedroom label", f"{ids.thermostat(br)}/label", lambda n: f"b-{n}",
                 lambda t: t["devices"]["thermostats"][br]["label"], lambda n: f"b-{n}"),
    ]
    togglers, labels = registers[:2], registers[2:]
    for r in registers:
        r.stored = r.read(tree)
    seen: list[str] = []
    reads = [0]

    def watch(go: threading.Barrier, deadline: float) -> None:
        """Reads during the burst see only whole commits too."""
        with server.client() as client:
            go.wait(10)
            while time.monotonic() < deadline:
                try:
                    snapshot = client.get("/").json()
                except httpx.HTTPError:
                    return
                reads[0] += 1
                seen.extend(violations(snapshot))

    rng = random.Random(4)
    burst = Burst()
    aways = 0
    for _ in range(AWAY_ROUNDS):
        # Two writers race on away, so only the labels are checked as registers; away must
        # agree with the thermostats whatever its value.
        tree = kill_round(server, labels, rng, burst, others=(
            watch, *(lambda go, deadline, r=r: r.run(server, go, deadline) for r in togglers)))
        assert not violations(tree), violations(tree)
        assert not seen, seen[:5]
        aways += tree["structures"][sid]["away"] == "away"
        for r in togglers:
            assert not r.failed, r.failed[:3]
            burst.acked += len(r.acked)
    with open_db(server.db) as conn:
        data = {(k, i): json.loads(d) for k, i, *_, d in object_rows(conn)}
        together = [listed for (o,) in conn.execute("SELECT objects FROM changes WHERE seq > 1")
                    if len(listed := json.loads(o)) > 1]
    print("\n" + burst.report("D4 away toggles") + f", {len(together)} commits of a structure "
          f"with its thermostats, {reads[0]} reads during the bursts, away after {aways} of "
          f"{AWAY_ROUNDS} restarts")
    assert together, "no write changed away"
    for objects in together:  # each of them: the structure and both thermostats at once
        assert sorted(kind for kind, *_ in objects) == ["structures", "thermostats",
                                                        "thermostats"]
    away = data[("structures", sid)]["away"] == "away"
    for id, mode in modes.items():
        d = data[("thermostats", id)]
        assert d["hvac_mode"] == ("eco" if away else mode)
        assert (d.get("eco_reason") == "away") == away
    assert_stored_matches_api(server.db, tree)
    assert_change_log_consistent(server.db)


# -- 4. a refused write changes nothing (D4) ------------------------------------------------------


@BOTH_STORES
def test_refused_writes_leave_the_database_unchanged(roost_server: RoostProcess) -> None:
    server = roost_server
    ids = Ids.of(get_tree(server))
    lr, br = ids.thermostat(ids.living_room), ids.thermostat(ids.bedroom)
    sid = ids.structure
    refused: list[tuple[str, str, bytes | None, Any]] = [
        # (method, path, raw body, JSON body)
        ("PUT", lr, b'{"label": "half', None),  # invalid JSON
        ("PUT", f"{lr}/label", b"", None),  # empty body
        ("PUT", f"{lr}/target_temperature_f", None, 100),  # out of range
        ("PUT", f"{lr}/target_temperature_c", None, 5),  # out of range
        ("PUT", f"{lr}/humidity", None, 50),  # reported by the device: no permission
        ("PUT", f"{lr}/ambient_temperature_f", None, 60),  # no permission
        ("PUT", f"{lr}/name", None, "Den"),  # derived: no permission
        ("PUT", f"/structures/{sid}/postal_code", None, "10001"),  # no permission
        ("PUT", "/metadata/access_token", None, "x"),  # no permission
        # several fields, one of them bad: none is applied
        ("PUT", lr, None, {"label": "must-not-stick", "target_temperature_f": 120}),
        ("PATCH", lr, None, {"label": "must-not-stick", "is_online": False}),
        ("PUT", f"/structures/{sid}", None, {"name": "must-not-stick", "away": "vacation"}),
        # valid fields, refused by the write rules
        ("PUT", br, None, {"label": "must-not-stick", "fan_timer_active": True}),  # no fan
        ("PUT", lr, None, {"label": "must-not-stick", "hvac_mode": "eco",
                           "target_temperature_f": 72}),  # no target in Eco
        ("PUT", f"{br}/target_temperature_f", None, 72),  # heat-cool: no single target
        ("PUT", f"{br}/target_temperature_low_f", None, 60),  # below the lock
        ("PUT", br, None, {"label": "must-not-stick", "target_temperature_low_f": 70,
                           "target_temperature_high_f": 71}),  # range too narrow
        ("PUT", f"/structures/{sid}/name", None, "   "),
        ("PUT", f"/structures/{sid}/eta", None, {"trip_id": "t"}),
        # the wrong place
        ("PUT", "/devices/thermostats", None, {ids.living_room: {"label": "must-not-stick"},
                                               ids.bedroom: {"label": "must-not-stick"}}),
        ("PUT", "/devices/thermostats/no-such-device/label", None, "x"),
        ("PUT", f"/devices/cameras/{ids.camera}/is_streaming", None, "yes"),
        ("DELETE", f"{lr}/label", None, None),
    ]
    with open_db(server.db) as conn:
        rows, stats = object_rows(conn), change_stats(conn)
    with server.client() as c:
        before = c.get("/").content
        for method, path, raw, body in refused:
            response = c.request(method, path, content=raw, json=body)
            assert 400 <= response.status_code < 500, (method, path, response.status_code)
            assert response.json()["error"]
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = httpx.put(f"{server.url}{lr}/label", json="must-not-stick", timeout=10,
                                 headers=headers)
            assert response.status_code == 401
        response = c.put(f"{lr}/label", content=b'"' + b"x" * (100 * 1024) + b'"')
        assert response.status_code == 413
        assert c.get("/").content == before
    with open_db(server.db) as conn:
        assert object_rows(conn) == rows
        assert change_stats(conn) == stats
    if not is_postgres(server.db):  # not even in the file's free pages
        for name in (server.db, Path(f"{server.db}-wal")):
            assert b"must-not-stick" not in Path(name).read_bytes()

    # The next good write is one change on top, carrying nothing of the refused ones.
    with server.client() as c:
        put_ok(c, f"{lr}/target_temperature_f", 71)
        tree = c.get("/").json()
    with open_db(server.db) as conn:
        count, top = change_stats(conn)
        assert (count, top) == (stats[0] + 1, stats[1] + 1)
        after = {(k, i): (v, d) for k, i, _u, _s, v, d in object_rows(conn)}
    for kind, id, _u, _s, version, data in rows:
        if (kind, id) == ("thermostats", ids.living_room):
            assert after[(kind, id)][0] == version + 1
        else:
            assert after[(kind, id)] == (version, data)
    assert "must-not-stick" not in json.dumps(tree)
    assert tree["devices"]["thermostats"][ids.living_room]["target_temperature_f"] == 71


# -- 5. group commit groups, and still records one change per write -------------------------------


@BOTH_STORES
def test_group_commit_records_every_write(roost_server: RoostProcess) -> None:
    server = roost_server
    ids = Ids.of(get_tree(server))
    sid = ids.structure
    trip_base = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)

    def window(w: int, n: int) -> dict[str, Any]:
        begin = trip_base + timedelta(seconds=1000 * w + n)
        return {"trip_id": "group", "estimated_arrival_window_begin": iso(begin),
                "estimated_arrival_window_end": iso(begin + timedelta(hours=1))}

    # Every write sets a value no other write sets, so every one of them changes its object.
    targets: list[tuple[str, Callable[[int, int], Any]]] = [
        (f"/structures/{sid}/name", lambda w, n: f"g{w}-{n}"),
        (f"{ids.thermostat(ids.living_room)}/label", lambda w, n: f"g{w}-{n}"),
        (f"{ids.thermostat(ids.bedroom)}/label", lambda w, n: f"g{w}-{n}"),
        (f"/structures/{sid}/eta", window),
    ]
    count0, top0 = change_stats_of(server.db)

    # Many concurrent writers, two per field (four on the structure).
    writers, per_writer = 8, 50
    acked = [0] * writers
    errors: list[str] = []
    go = threading.Barrier(writers)

    def write(w: int) -> None:
        path, value = targets[w % len(targets)]
        with server.client() as client:
            go.wait(10)
            for n in range(per_writer):
                response = client.put(path, json=value(w, n))
                if response.status_code == 200:
                    acked[w] += 1
                else:
                    errors.append(response.text)

    threads = [threading.Thread(target=write, args=(w,), daemon=True) for w in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
        assert not t.is_alive()
    assert not errors, errors[:3]
    assert sum(acked) == writers * per_writer

    # Writes that arrive while the database's writes are held elsewhere wait; none is answered
    # before its commit, and once they are let go they are committed in very few transactions.
    burst = 32
    answered: list[int] = []
    go = threading.Barrier(burst + 1)

    def one(k: int) -> None:
        path, value = targets[k % len(targets)]
        with server.client() as client:
            go.wait(10)
            response = client.put(path, json=value(100 + k, 0))
            answered.append(response.status_code)

    threads = [threading.Thread(target=one, args=(k,), daemon=True) for k in range(burst)]
    with writes_held(server.db) as release:
        mark = commit_mark(server.db)
        for t in threads:
            t.start()
        go.wait(10)
        time.sleep(1.0)  # far shorter than SQLite's busy_timeout
        assert answered == [], "a write was answered before it was committed"
        release()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    assert answered == [200] * burst
    transactions = transactions_since(server.db, mark)
    print(f"\ngroup commit: {burst} writes held behind a lock were committed in "
          f"{transactions} transaction(s)")
    assert 1 <= transactions <= burst // 4

    total = sum(acked) + burst
    with open_db(server.db) as conn:
        count1, _ = change_stats(conn)
        seqs = [row[0] for row in conn.execute("SELECT seq FROM changes WHERE seq > ? "
                                               "ORDER BY seq", (top0,))]
        touched = defaultdict(int)
        for (objects,) in conn.execute("SELECT objects FROM changes WHERE seq > ?", (top0,)):
            listed = json.loads(objects)
            assert len(listed) == 1  # each of these writes changes one object
            touched[(listed[0][0], listed[0][1])] += 1
    assert count1 - count0 == total  # one change row per acknowledged write
    assert seqs == list(range(top0 + 1, top0 + total + 1))  # increasing, no gaps
    per_object: dict[tuple[str, str], int] = defaultdict(int)
    for i, (path, _) in enumerate(targets):
        kind, id = path.split("/")[-3:-1]
        per_object[(kind, id)] += (sum(acked[w] for w in range(writers) if w % len(targets) == i)
                                   + sum(1 for k in range(burst) if k % len(targets) == i))
    assert touched == per_object
    assert_change_log_consistent(server.db)
    assert_intact(server.db)


# -- 6. a write the store refused is not applied by a later one (D1) -----------------------------


def test_a_failed_commit_is_not_applied_by_the_next_write(roost_server: RoostProcess) -> None:
    """A write is validated against the writes still waiting for their commit. If one of those
    commits fails, a write built on top of it must not bring its values to disk after all."""
    server = roost_server
    ids = Ids.of(get_tree(server))
    lr = ids.thermostat(ids.living_room)
    answers: dict[str, int] = {}

    def put(name: str, path: str, body: Any) -> None:
        with server.client() as client:
            answers[name] = client.put(path, json=body).status_code

    first = threading.Thread(target=put, args=("first", f"{lr}/label", "never-committed"),
                             daemon=True)
    second = threading.Thread(target=put, args=("second", f"{lr}/target_temperature_f", 72),
                              daemon=True)
    with open_db(server.db) as blocker:
        # Hold the write lock past Roost's busy_timeout (5 s): the first write's transaction
        # fails. The second write arrives while the first is still waiting for its commit.
        blocker.execute("BEGIN IMMEDIATE")
        first.start()
        time.sleep(0.5)
        second.start()
        first.join(15)
        assert answers.get("first") == 503, answers
        assert "second" not in answers
        blocker.execute("ROLLBACK")
    second.join(15)
    assert answers.get("second") in (200, 503), answers

    def label_is_not_the_failed_one() -> dict[str, Any]:
        tree = get_tree(server)
        living = tree["devices"]["thermostats"][ids.living_room]
        assert living["label"] == ""
        if answers["second"] == 200:
            assert living["target_temperature_f"] == 72
        return tree

    label_is_not_the_failed_one()
    server.restart()
    tree = label_is_not_the_failed_one()
    assert_stored_matches_api(server.db, tree)
    assert_change_log_consistent(server.db)
    with server.client() as c:  # and the next write goes through
        put_ok(c, f"{lr}/target_temperature_f", 73)
        assert c.get(f"{lr}/label").json() == ""


# -- 7. a write that repeats one still in flight is not answered before it (D1) --------------------


@BOTH_STORES
def test_a_repeated_write_waits_for_the_commit_it_repeats(roost_server: RoostProcess) -> None:
    """A write that changes nothing needs no commit of its own, but if the value it repeats is
    still waiting for its commit, answering at once would acknowledge a value not yet durable."""
    server = roost_server
    ids = Ids.of(get_tree(server))
    label = f"{ids.thermostat(ids.living_room)}/label"
    answers: dict[str, int] = {}

    def put(name: str) -> None:
        with server.client() as client:
            try:
                answers[name] = client.put(label, json="twice").status_code
            except httpx.HTTPError:
                answers[name] = 0  # in flight when the server was killed

    writes = [threading.Thread(target=put, args=(name,), daemon=True)
              for name in ("first", "second")]
    with writes_held(server.db) as release:  # the first write's commit waits behind this
        for t in writes:
            t.start()
            time.sleep(0.5)
        answered_before_kill = dict(answers)
        server.kill()
        release()
    for t in writes:
        t.join(10)
    assert answered_before_kill == {}, "answered before anything was committed"
    server.start()
    stored = get_tree(server)["devices"]["thermostats"][ids.living_room]["label"]
    for name, status in answers.items():
        if status == 200:
            assert stored == "twice", f"the {name} write was acknowledged and is lost"
    with server.client() as c:  # once the first is durable, repeating it is answered at once
        put_ok(c, label, "twice")
        put_ok(c, label, "twice")
        assert c.get(label).json() == "twice"
