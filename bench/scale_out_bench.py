"""GET and durable PUT on SQLite, on PostgreSQL with one process, and on PostgreSQL with
three processes behind the front door: one run, one load generator.

Seeds ``--households`` users with the demo home and a token each into each store, and starts:

* ``SQLite``: one ``roost serve --no-simulate`` on a SQLite file (``synchronous=FULL``);
* ``PostgreSQL, 1 process``: one on a scratch database on the PostgreSQL at ``--postgres``;
* ``PostgreSQL, N processes``: ``--servers`` of them and one ``roost door`` on another
  scratch database, once the slots are shared out.

(Scratch databases are dropped at the end.) Each case runs for ``--duration`` seconds with
``--connections`` clients:

* ``SQLite`` / ``PostgreSQL, 1 process``: straight to the one server;
* ``N processes, door``: every request goes to the door, and on to the server its 307
  names (two requests, as a client that follows every redirect makes);
* ``N processes, owner``: each client asks the door once per household and then talks to
  that household's server directly (as a client that keeps the redirected host does).

A GET reads a Living Room thermostat, a PUT writes its target temperature (acknowledged once
committed; each PUT to a household the next of 20 values, so every PUT is a commit), each
client on four households chosen at random. The clients speak HTTP/1.1 over
raw keep-alive connections from one asyncio process (an HTTP library's own CPU would decide
the result on two cores); nothing is pinned to a core. The cases run in interleaved rounds,
GETs then PUTs, in turned order every other round. Printed per case: requests/s and p99
latency (median and range over the rounds), median latency, change numbers taken per second
(commits), the CPU the whole machine and the client used meanwhile, and the machine's
1-minute load average at the end of each run; then each setup's share of SQLite within each
round.

    python bench/scale_out_bench.py [--servers 3] [--households 60] [--connections 32]
                                    [--duration 8] [--rounds 3] [--only TEXT ...]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import servers as processes

from roost import demo
from roost.auth import passwords, tokens
from roost.auth.principal import system
from roost.clock import system_clock
from roost.service import Service
from roost.store import open_store
from roost.store.leases import NEWEST
from roost.store.slots import LIVE_OWNERS, SLOTS

HOST = processes.HOST


@dataclass(frozen=True)
class Household:
    token: str
    thermostat: str


# -- setting up -------------------------------------------------------------------------------


async def seed(db: str, households: int) -> list[Household]:
    """Users with the demo home and a token each, written before any server starts."""
    service = Service(open_store(db))
    await service.start()
    store = service.store
    password_hash = passwords.hash_password(demo.PASSWORD)  # one slow hash for them all
    seeded = []
    for n in range(households):
        user = await store.create_user(f"bench{n}@example.com", password_hash)
        home = await service.create_many(system(user.id), demo.home(system_clock()))
        token = tokens.new_token()
        await store.add_token(tokens.digest(token), user.id, tokens.FIRST_PARTY_CLIENT)
        living_room = next(o for o in home if o.kind == "thermostats")
        seeded.append(Household(token, living_room.id))
    await service.stop()
    store.close()
    return seeded


def start(args: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        process = subprocess.Popen([sys.executable, "-m", "roost", *args, "--host", HOST,
                                    "--port", str(port), "--log-level", "warning"],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        processes._wait_listening(port, timeout=120)  # slow to start on a busy machine
    except TimeoutError:
        process.kill()
        raise RuntimeError(f"roost {args[0]} did not start: {log.read_text()}") from None
    return process


def wait_shared(db: str, servers: int, timeout: float = 60) -> None:
    share = -(-SLOTS // servers)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with psycopg.connect(db) as conn:
            urls = [url for _, url in conn.execute(LIVE_OWNERS)]
        counts = [urls.count(url) for url in set(urls)]
        if len(urls) == SLOTS and len(counts) == servers and max(counts) <= share:
            return
        time.sleep(0.2)
    raise TimeoutError("the slots were not shared out")


# -- the clients ------------------------------------------------------------------------------


class Connection:
    """One keep-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        return cls(*await asyncio.open_connection(host, port))

    async def request(self, head: bytes, body: bytes = b"") -> tuple[int, dict[str, str]]:
        self.writer.write(head + body)
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionResetError("closed by the server")
        status = int(status_line.split()[1])
        headers: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            headers[name.strip().lower()] = value.strip()
        await self.reader.readexactly(int(headers.get("content-length", "0")))
        return status, headers

    def close(self) -> None:
        self.writer.close()


def request_head(method: str, path: str, token: str, body: bytes) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}", f"Authorization: Bearer {token}"]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass
class Client:
    door_port: int
    households: list[Household]
    follow_every: bool  # through the door every time, or the owner remembered
    direct: bool = False  # door_port is the one server itself, no door
    latencies: list[float] = field(default_factory=list)
    errors: Counter[int] = field(default_factory=Counter)  # by status
    _conns: dict[int, Connection] = field(default_factory=dict)
    _owners: dict[str, int] = field(default_factory=dict)
    # PUTs so far per household, shared by all clients: each PUT writes the next of 20
    # values, so it changes the thermostat (a write of the value it has is not committed)
    # while fewer than 20 PUTs to one household are in flight.
    turns: Counter[str] = field(default_factory=Counter)

    async def send(self, port: int, head: bytes, body: bytes) -> tuple[int, dict[str, str]]:
        """A request on the client's connection to ``port``; once more on a new connection
        if the server had closed that one (uvicorn ends idle keep-alive connections)."""
        for attempt in (1, 2):
            if port not in self._conns:
                self._conns[port] = await Connection.open(HOST, port)
            try:
                return await self._conns[port].request(head, body)
            except (ConnectionError, asyncio.IncompleteReadError):
                self._conns.pop(port).close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def one(self, put: bool) -> None:
        household = random.choice(self.households)
        path = f"/devices/thermostats/{household.thermostat}"
        body = b""
        if put:
            self.turns[household.token] += 1
            body = b'{"target_temperature_f": %d}' % (60 + self.turns[household.token] % 20)
        head = request_head("PUT" if put else "GET", path, household.token, body)
        began = time.perf_counter()
        port = self.door_port if self.direct else (
            None if self.follow_every else self._owners.get(household.token))
        if port is None:
            status, headers = await self.send(self.door_port, head, body)
            if status != 307:
                self.errors[status] += 1
                return
            port = urlsplit(headers["location"]).port or 80
            self._owners[household.token] = port
        status, _ = await self.send(port, head, body)
        if status != 200:
            self.errors[status] += 1
            if status in (307, 503):  # the household moved: ask the door again
                self._owners.pop(household.token, None)
            return
        self.latencies.append(time.perf_counter() - began)

    async def run(self, put: bool, until: float) -> None:
        while time.monotonic() < until:
            await self.one(put)

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()


@dataclass
class Result:
    case: str
    requests: int
    seconds: float
    errors: Counter[int]
    p50_ms: float
    p99_ms: float
    commits: float  # change numbers taken per second (a failed batch's too)
    machine_cpu: float  # cores busy meanwhile, everything included
    client_cpu: float  # cores the clients' process used
    load: str  # the 1-minute load average as the run ended

    @property
    def rate(self) -> float:
        return self.requests / self.seconds


@dataclass(frozen=True)
class Case:
    name: str
    setup: str  # the name of the setup it runs against
    put: bool
    follow_every: bool = False  # through the door every time (only with a door)


@dataclass
class Running:
    """A setup once started: where its clients go first, whether that is a door, and its
    database."""

    port: int
    door: bool
    db: str


def newest(db: str) -> int:
    """The last change number of the database."""
    if db.startswith("postgresql:"):
        with psycopg.connect(db) as conn:
            row = conn.execute(NEWEST).fetchone()
    else:
        with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
            row = conn.execute(NEWEST).fetchone()
    assert row is not None
    return int(row[0])


async def run_case(case: Case, running: Running, households: list[Household],
                   connections: int, duration: float, warmup: float) -> Result:
    turns: Counter[str] = Counter()
    clients = [Client(running.port, random.Random(n).sample(households, min(4, len(households))),
                      case.follow_every, direct=not running.door, turns=turns)
               for n in range(connections)]
    try:
        warm = time.monotonic() + warmup
        await asyncio.gather(*(c.run(case.put, warm) for c in clients))
        for c in clients:
            c.latencies.clear()
            c.errors.clear()
        busy, own, seq = processes.machine_busy_seconds(), time.process_time(), newest(running.db)
        began = time.monotonic()
        await asyncio.gather(*(c.run(case.put, began + duration) for c in clients))
        took = time.monotonic() - began
        busy, own = processes.machine_busy_seconds() - busy, time.process_time() - own
        seq = newest(running.db) - seq
    finally:
        for c in clients:
            c.close()
    latencies = sorted(x for c in clients for x in c.latencies)
    return Result(case.name, len(latencies), took, sum((c.errors for c in clients), Counter()),
                  statistics.median(latencies) * 1000,
                  latencies[int(len(latencies) * 0.99)] * 1000, seq / took, busy / took,
                  own / took, processes.load_averages().split()[0])


SQLITE, ONE = "SQLite", "PostgreSQL, 1 process"


def cases(servers: int) -> list[Case]:
    """Every case, GETs first: each setup's, and the several processes' both ways."""
    many = f"PostgreSQL, {servers} processes"
    return [case for put, what in ((False, "GET"), (True, "PUT")) for case in (
        Case(f"{SQLITE} {what}", SQLITE, put),
        Case(f"{ONE} {what}", ONE, put),
        Case(f"{many}, door {what}", many, put, follow_every=True),
        Case(f"{many}, owner {what}", many, put))]


def start_setup(setup: str, args: argparse.Namespace, stack: contextlib.ExitStack,
                logs: Path) -> tuple[Running, list[Household]]:
    """Seed a store for ``setup``, start its processes (stopped when ``stack`` closes)."""
    if setup == SQLITE:
        db = str(logs / "roost.db")
        count = 1
    else:
        db = stack.enter_context(processes.scratch_database(args.postgres))
        count = 1 if setup == ONE else args.servers
    households = asyncio.run(seed(db, args.households))
    started: list[subprocess.Popen[bytes]] = []
    stack.callback(_stop, started)
    extra = ["--synchronous", "FULL"] if setup == SQLITE else []
    ports = [processes.free_port() for _ in range(count)]
    for n, port in enumerate(ports):
        name = f"{setup}-{n}".replace(" ", "").replace(",", "-")
        started.append(start(["serve", "--no-simulate", "--db", db, *extra], port,
                             logs / f"{name}.log"))
    if setup != SQLITE:
        wait_shared(db, count)
    if count == 1:
        return Running(ports[0], door=False, db=db), households
    door_port = processes.free_port()
    started.append(start(["door", "--db", db], door_port, logs / "door.log"))
    return Running(door_port, door=True, db=db), households


def _stop(started: list[subprocess.Popen[bytes]]) -> None:
    for process in started:
        process.kill()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get(
        "ROOST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432"))
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--households", type=int, default=60)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", nargs="+", default=[""], metavar="TEXT",
                        help="run only the cases whose name holds one of these")
    args = parser.parse_args()
    chosen = [case for case in cases(args.servers)
              if any(text in case.name for text in args.only)]

    with contextlib.ExitStack() as stack:
        logs = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roost-scale-")))
        stack.callback(_warnings, logs)
        setups = {}
        for setup in dict.fromkeys(case.setup for case in chosen):
            setups[setup] = start_setup(setup, args, stack, logs)
        load_before = processes.load_averages()
        results: dict[str, list[Result]] = {case.name: [] for case in chosen}
        for number in range(args.rounds):
            # Interleaved, in turned order every other round: the machine's other load
            # drifts, and should not favour one side of a comparison.
            for put in (False, True):
                group = [case for case in chosen if case.put == put]
                for case in group[::-1] if number % 2 else group:
                    running, households = setups[case.setup]
                    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                        done = runner.run(run_case(case, running, households,
                                                   args.connections, args.duration,
                                                   args.warmup))
                    results[case.name].append(done)
                    print(f"round {number + 1} {case.name}: {done.rate:,.0f}/s, p99 "
                          f"{done.p99_ms:.1f} ms, load {done.load}", file=sys.stderr)
        load_after = processes.load_averages()
    print(f"{', '.join(setups)}; {args.households} households each, {args.connections} "
          f"connections, {args.duration:g} s per case (after {args.warmup:g} s of warm-up), "
          f"{args.rounds} interleaved rounds")
    print(f"load averages: before {load_before}, after {load_after} ({os.cpu_count()} cores)")
    print()
    print(f"| Case | Requests/s, median of {args.rounds} (range) | p50 ms | p99 ms, median "
          "(range) | Commits/s | Machine CPU | Client CPU | 1-min load at each run's end | "
          "Other answers |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
    for case, runs in results.items():
        rates = [r.rate for r in runs]
        p99s = [r.p99_ms for r in runs]
        print(f"| {case} | {statistics.median(rates):,.0f} ({min(rates):,.0f}–{max(rates):,.0f})"
              f" | {statistics.median(r.p50_ms for r in runs):.1f} | "
              f"{statistics.median(p99s):.1f} ({min(p99s):.1f}–{max(p99s):.1f}) | "
              f"{statistics.median(r.commits for r in runs):,.0f} | "
              f"{statistics.median(r.machine_cpu for r in runs):.2f} | "
              f"{statistics.median(r.client_cpu for r in runs):.2f} | "
              f"{' '.join(r.load for r in runs)} | "
              f"{_statuses(sum((r.errors for r in runs), Counter()))} |")
    print()
    for case in chosen:
        base = f"{SQLITE} {'PUT' if case.put else 'GET'}"
        if case.setup != SQLITE and base in results:
            shares = [ours.rate / theirs.rate
                      for ours, theirs in zip(results[case.name], results[base], strict=True)]
            print(f"{case.name} = {statistics.median(shares):.0%} of {base} (per round "
                  f"{', '.join(f'{x:.0%}' for x in shares)})")


def _warnings(logs: Path) -> None:
    """Leases lost, slots moved, connections lost: say so."""
    for log in sorted(logs.glob("*.log")):
        warned = [line for line in log.read_text().splitlines() if "WARNING" in line]
        if warned:
            print(f"{log.name}: {len(warned)} warnings, first: {warned[0]}", file=sys.stderr)


def _statuses(errors: Counter[int]) -> str:
    return ", ".join(f"{n} × {status}" for status, n in sorted(errors.items())) or "0"


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop where installed (it comes with uvicorn[standard]): the clients' own CPU counts."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
