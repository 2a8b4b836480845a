"""The simulator's step alone, in-process: how long one tick takes at N thermostats.

Seeds ``--users`` demo homes into a fresh database, loads them into a service on a manual
clock, then runs ``--steps`` ticks of one simulated minute each and prints each step's
duration (the store's commits included: each step waits for them), the CPU time the event
loop's thread spent in it (what other work on the machine does not inflate), and the longest
the step held the loop at a stretch (what an API request would have waited). No HTTP, no other load:
this is where to profile the step (``--profile out.prof`` writes cProfile stats; view with
``python -m pstats`` or snakeviz).

    python bench/sim_step.py [--users 5000] [--steps 10] [--streams 0] [--profile FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import logging
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sim_homes import THERMOSTATS_PER_HOME, seed

from roost.auth.principal import system
from roost.clock import ManualClock, system_clock
from roost.service import Service
from roost.simulator.runner import Simulator
from roost.store import SQLiteStore


@dataclass
class Measured:
    wall: float
    cpu: float  # the event loop thread's
    hold: float  # the longest the loop was held without a break: what a request waited


async def _watch(lateness: list[float]) -> None:
    """How late a 1 ms sleep wakes is how long something held the loop meanwhile."""
    while True:
        before = time.perf_counter()
        await asyncio.sleep(0.001)
        lateness.append(time.perf_counter() - before - 0.001)


async def _run(db: Path, args: argparse.Namespace) -> list[Measured]:
    clock = ManualClock(system_clock())
    service = Service(SQLiteStore(db, synchronous=args.synchronous), clock)
    await service.start()
    simulator = Simulator(service)
    # Streams of the first --streams users, at the root: each change re-renders their trees.
    # Nobody reads them; a subscriber keeps only the newest snapshot, so they cost no memory.
    users = sorted({o.user_id for o in service.home.committed.values()})[:args.streams]
    for user_id in users:
        service.subscribe(system(user_id), ())
    profile = cProfile.Profile() if args.profile else None
    durations: list[Measured] = []
    lateness: list[float] = []
    watcher = asyncio.create_task(_watch(lateness))
    try:
        for _ in range(args.steps):
            clock.advance(minutes=1)
            if profile is not None:
                profile.enable()
            await asyncio.sleep(0.01)  # the watcher's sleep is running: it sees the whole step
            lateness.clear()
            start, cpu = time.perf_counter(), time.thread_time()
            await simulator.step()
            wall, cpu = time.perf_counter() - start, time.thread_time() - cpu
            await asyncio.sleep(0.002)  # the last hold ends when the watcher wakes
            durations.append(Measured(wall, cpu, max(lateness, default=0.0)))
            if profile is not None:
                profile.disable()
    finally:
        watcher.cancel()
        await service.stop()
        service.store.close()
    if profile is not None:
        profile.dump_stats(args.profile)
    return durations


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=5_000,
                        help=f"demo homes ({THERMOSTATS_PER_HOME} thermostats each)")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--streams", type=int, default=0,
                        help="open a stream at / for this many users")
    parser.add_argument("--synchronous", choices=["FULL", "NORMAL"], default="FULL")
    parser.add_argument("--profile", type=Path, metavar="FILE")
    args = parser.parse_args()
    # The step's own log line says how many thermostats reported and in how many commits.
    logging.basicConfig(format="    %(message)s")
    logging.getLogger("roost.simulator.runner").setLevel(logging.DEBUG)
    gc.set_threshold(50_000, 20, 20)  # as `roost serve` runs (roost/server.py)
    with tempfile.TemporaryDirectory(prefix="roost-sim-") as tmp:
        db = Path(tmp) / "roost.db"
        start = time.perf_counter()
        seed(db, args.users, with_tokens=0)
        print(f"seeded {args.users:,} homes, {args.users * THERMOSTATS_PER_HOME:,} thermostats "
              f"in {time.perf_counter() - start:.1f} s", flush=True)
        with sqlite3.connect(db) as conn:
            before = conn.execute("SELECT max(seq) FROM changes").fetchone()[0]
        durations = asyncio.run(_run(db, args))
        with sqlite3.connect(db) as conn:
            after = conn.execute("SELECT max(seq) FROM changes").fetchone()[0]
    for name in ("wall", "cpu", "hold"):
        values = [getattr(m, name) * 1000 for m in durations]
        print(f"{name}: median {statistics.median(values):.0f} ms, max {max(values):.0f} ms",
              end="; ")
    print(f"{after - before} commits over {len(durations)} steps")


if __name__ == "__main__":
    main()
