"""How many simulated thermostats one server process steps in time while serving API traffic.

For each ``--thermostats`` size: seed that many thermostats (demo homes of two, one user
each) into a fresh database, start ``roost serve --speed 60`` on it (a tick per simulated
minute: one step per real second) pinned to core 0, and run, one after the other:

* a warm-up (the first steps report every thermostat and read every schedule),
* the simulation alone,
* the simulation under wrk GET load, then under wrk PUT load (64 connections, core 1,
  rotating over the thermostats of 100 users, each with its own token): as much as the
  server will take,
* the simulation under a paced load of ``--rate`` requests a second (bench/paced.py, a
  tenth of them PUTs, over the same thermostats): traffic that does not grow to fill the
  server.

Then the last size's database is served again with ``--no-simulate`` under the same loads:
the API without the simulation, for comparison. Step figures come from the
simulator's own log line per step (bench/sim_server.py), matched to phases by wall time.

    python bench/sim_bench.py [--thermostats 10000 20000] [--phase 45] [--warmup 20]
                              [--rate 500 1000] [--no-baseline]
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import paced
import servers
from http_bench import _latency
from servers import HOST, Server
from sim_homes import THERMOSTATS_PER_HOME, Seeded, seed

SPEED = 60.0
BUDGET_MS = 60_000 / SPEED  # a tick is a simulated minute: this many real ms at SPEED
TOKENS = 100  # users the load rotates over
PUT_EVERY = 10  # paced load: one request in ten is a PUT
_STEP = re.compile(r"^(\d+\.\d+) DEBUG step at \S+: (\d+) thermostats, (\d+) reports, "
                   r"(\d+) commits, ([\d.]+) ms \(([\d.]+) ms waiting for commits\)$", re.M)

GET_LUA = """\
local targets = {%s}
local n = 0
request = function()
  n = n + 1
  local t = targets[n %% #targets + 1]
  return wrk.format("GET", t[2], {["Authorization"] = "Bearer " .. t[1]})
end
"""
# A label: valid in every mode and state, where a target temperature is refused in Eco or
# off, which presence and alarm scenarios may bring about.
PUT_LUA = """\
local targets = {%s}
local n = 0
request = function()
  n = n + 1
  local t = targets[n %% #targets + 1]
  local label = (math.floor(n / #targets) %% 2 == 0) and "a" or "b"
  return wrk.format("PUT", t[2], {["Authorization"] = "Bearer " .. t[1],
                                  ["Content-Type"] = "application/json"},
                    '{"label": "' .. label .. '"}')
end
"""


@dataclass
class Step:
    at: float  # wall time it ended
    thermostats: int
    reports: int
    commits: int
    ms: float
    committing_ms: float  # of ms, waiting for its commits


@dataclass
class Phase:
    case: str
    thermostats: int
    wall: float
    steps: list[Step] = field(default_factory=list)
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    failed: int = 0
    cpu: float = 0.0  # server CPU / wall, share of its one core
    other: float = 0.0  # cores used by anything but the server and wrk

    @property
    def ticks_per_minute(self) -> float:
        """Steps per simulated minute of the phase (1.0: every tick ran on time)."""
        return len(self.steps) / (self.wall * SPEED / 60) if self.wall else 0.0


def steps_between(log: Path, start: float, end: float) -> list[Step]:
    found = [Step(float(at), int(t), int(r), int(c), float(ms), float(waited))
             for at, t, r, c, ms, waited in _STEP.findall(log.read_text())]
    return [s for s in found if start <= s.at <= end]


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * pct / 100))]


def targets(seeded: list[Seeded]) -> list[tuple[str, str]]:
    return [(s.token, f"/devices/thermostats/{s.living_room}") for s in seeded]


def lua_targets(seeded: list[Seeded]) -> str:
    return ", ".join(f'{{"{s.token}", "/devices/thermostats/{s.living_room}"}}'
                     for s in seeded)


def label(n: int) -> bytes:
    """A PUT body for paced load, alternating per round over the targets."""
    return b'{"label": "%s"}' % (b"a" if n // TOKENS % 2 else b"b")


def run_phase(case: str, server: Server, thermostats: int, seconds: float,
              script: Path | None, args: argparse.Namespace, log: Path | None,
              rate: float | None = None, targets: list[tuple[str, str]] | None = None) -> Phase:
    """``seconds`` of the server's life, under ``script``'s wrk load or a paced load of
    ``rate`` requests a second over ``targets`` if given."""
    cpu, busy, client = (server.cpu_seconds(), servers.machine_busy_seconds(),
                         servers.children_cpu_seconds() + time.process_time())
    start = time.time()
    out = ""
    paced_load = None
    if rate is not None:
        assert targets is not None
        requests = paced.request_maker(HOST, server.port, targets, PUT_EVERY, label)
        paced_load = paced.run(HOST, server.port, requests, rate, seconds)
    elif script is None:
        time.sleep(seconds)
    else:
        cmd = ["taskset", "-c", str(servers.CLIENT_CPU), args.wrk, "-t1",
               f"-c{args.connections}", f"-d{seconds:g}s", "--latency", "-s", str(script),
               f"http://{HOST}:{server.port}/"]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             timeout=seconds + 60).stdout
    end = time.time()
    wall = end - start
    cpu = server.cpu_seconds() - cpu
    client = servers.children_cpu_seconds() + time.process_time() - client
    phase = Phase(case, thermostats, wall, cpu=cpu / wall,
                  other=max(0.0, (servers.machine_busy_seconds() - busy - cpu - client) / wall))
    if log is not None:
        phase.steps = steps_between(log, start, end)
    if paced_load is not None:
        phase.rps = paced_load.sent / seconds
        phase.p50_ms = percentile(paced_load.latencies_ms, 50)
        phase.p99_ms = percentile(paced_load.latencies_ms, 99)
        phase.failed = paced_load.failed
    if out:
        rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
        assert rps, out
        phase.rps = float(rps.group(1))
        phase.p50_ms, phase.p99_ms = _latency(out, "50"), _latency(out, "99")
        non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
        errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                           r"timeout (\d+)", out)
        phase.failed = (int(non_2xx.group(1)) if non_2xx else 0) + (
            sum(int(g) for g in errors.groups()) if errors else 0)
    print(f"  {describe(phase)}", flush=True)
    return phase


def describe(p: Phase) -> str:
    text = f"{p.thermostats:,} thermostats, {p.case}:"
    if p.steps:
        ms = [s.ms for s in p.steps]
        waited = [s.committing_ms for s in p.steps]
        text += (f" {len(p.steps)} steps, {p.ticks_per_minute:.2f} ticks/sim-min, step p50 "
                 f"{percentile(ms, 50):.0f} ms p99 {percentile(ms, 99):.0f} ms max "
                 f"{max(ms):.0f} ms (p50 {percentile(waited, 50):.0f} ms waiting for "
                 f"commits);")
    if p.rps is not None:
        text += (f" {p.rps:,.0f} req/s p50 {p.p50_ms:.2f} ms p99 {p.p99_ms:.2f} ms "
                 f"failed {p.failed};")
    return text + f" server CPU {p.cpu:.0%}, other load {p.other:.2f} cores"


def table(phases: list[Phase]) -> str:
    rows = ["| Thermostats | Case | Steps | Ticks per simulated minute | Step p50 ms | "
            "p99 ms | max ms | Waiting for commits, p50 ms | Over budget | Reports per step | "
            "Commits per step | "
            "API req/s | API p50 ms | API p99 ms | Failed | Server CPU | Other load |",
            "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | "
            "---: | ---: | ---: | ---: | ---: | ---: |"]
    for p in phases:
        ms = [s.ms for s in p.steps]
        sim = (f"{len(p.steps)} | {p.ticks_per_minute:.2f} | {percentile(ms, 50):.0f} | "
               f"{percentile(ms, 99):.0f} | {max(ms):.0f} | "
               f"{percentile([s.committing_ms for s in p.steps], 50):.0f} | "
               f"{sum(m > BUDGET_MS for m in ms)} | "
               f"{statistics.mean(s.reports for s in p.steps):,.0f} | "
               f"{statistics.mean(s.commits for s in p.steps):.1f}") if ms else \
            "— | — | — | — | — | — | — | — | —"
        api = (f"{p.rps:,.0f} | {p.p50_ms:.2f} | {p.p99_ms:.2f} | {p.failed}"
               if p.rps is not None else "— | — | — | —")
        rows.append(f"| {p.thermostats:,} | {p.case} | {sim} | {api} | {p.cpu:.0%} | "
                    f"{p.other:.2f} cores |")
    return "\n".join(rows)


def db_size_mb(db: Path) -> float:
    return sum(f.stat().st_size for f in db.parent.glob(db.name + "*")) / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thermostats", type=int, nargs="+", default=[10_000])
    parser.add_argument("--phase", type=float, default=45, help="seconds per phase")
    parser.add_argument("--warmup", type=float, default=20, help="seconds before the phases")
    parser.add_argument("--connections", type=int, default=64, help="wrk's")
    parser.add_argument("--rate", type=float, nargs="*", default=[500.0],
                        help="paced loads, requests a second (a tenth of them PUTs)")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    parser.add_argument("--no-baseline", dest="baseline", action="store_false",
                        help="skip the run without simulation")
    args = parser.parse_args()
    servers.prepare_client()
    phases: list[Phase] = []
    with tempfile.TemporaryDirectory(prefix="roost-sim-bench-") as tmp:
        work = Path(tmp)
        db = work / "none.db"
        get_lua, put_lua = work / "get.lua", work / "put.lua"
        for size in args.thermostats:
            db = work / f"sim-{size}.db"
            started = time.monotonic()
            seeded = seed(db, size // THERMOSTATS_PER_HOME, with_tokens=TOKENS)
            print(f"{size:,} thermostats seeded in {time.monotonic() - started:.0f} s "
                  f"({db_size_mb(db):.0f} MB)", flush=True)
            get_lua.write_text(GET_LUA % lua_targets(seeded))
            put_lua.write_text(PUT_LUA % lua_targets(seeded))
            log = work / f"sim-{size}.log"
            with servers.running(servers.start_simulated(db, log, speed=SPEED)) as server:
                run_phase("warm-up", server, size, args.warmup, None, args, log)
                phases.append(run_phase("simulation alone", server, size, args.phase, None,
                                        args, log))
                phases.append(run_phase("simulation + GET", server, size, args.phase,
                                        get_lua, args, log))
                phases.append(run_phase("simulation + PUT", server, size, args.phase,
                                        put_lua, args, log))
                for rate in args.rate:
                    phases.append(run_phase(f"simulation + {rate:,.0f} req/s", server, size,
                                            args.phase, None, args, log, rate,
                                            targets(seeded)))
            behind = log.read_text().count("falls behind")
            print(f"  database after the run: {db_size_mb(db):.0f} MB; 'falls behind' "
                  f"warnings: {behind}", flush=True)
        if args.baseline:
            log = work / "no-sim.log"
            size = args.thermostats[-1]
            with servers.running(servers.start_simulated(db, log, simulate=False)) as server:
                run_phase("warm-up", server, size, 5, get_lua, args, None)
                phases.append(run_phase("GET, no simulation", server, size, args.phase,
                                        get_lua, args, None))
                phases.append(run_phase("PUT, no simulation", server, size, args.phase,
                                        put_lua, args, None))
                for rate in args.rate:
                    phases.append(run_phase(f"{rate:,.0f} req/s, no simulation", server, size,
                                            args.phase, None, args, None, rate,
                                            targets(seeded)))
    print()
    print(table(phases))


if __name__ == "__main__":
    main()
