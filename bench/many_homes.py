"""Many active homes: start-up time, memory per home, and CPU per request as homes grow.

Seeds ``--homes`` users with a demo home and a token each (``sim_homes.py``) into one
database and ``--few`` into another, and starts ``roost serve --no-simulate`` on each, timing
from the process's start until it accepts connections, and reading its RSS once idle (memory
per home is the difference between the two servers over the difference in homes). Then, on
the large server, wrk spreads GETs of a Living Room thermostat, with one PUT of its label in
ten (each one a change, so every PUT commits), over the first ``--few`` homes and over all of
them, each home with its own token, in interleaved rounds; each case is charged the server's
CPU per request.

    python bench/many_homes.py [--homes 10000] [--few 100] [--duration 10] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import http_bench
import servers
import sim_homes
from servers import Server

LUA = """\
local homes = {%s}
local n = 0
local sweep = %s  -- true: every home in turn (warm-up); false: at random
-- Each run's labels are new to every home (wrk runs are seconds apart), so every PUT is a
-- change and commits, however rarely a home is written: a home written once per run with
-- the same value as the run before would commit nothing and cost less.
local run = os.time()
request = function()
  n = n + 1
  local home = sweep and homes[(n - 1) %% #homes + 1] or homes[math.random(#homes)]
  local headers = {["Authorization"] = "Bearer " .. home[1]}
  if n %% 10 == 0 then
    headers["Content-Type"] = "application/json"
    return wrk.format("PUT", home[2], headers, '{"label": "' .. run .. "-" .. n .. '"}')
  end
  return wrk.format("GET", home[2], headers)
end
"""
SETTLE = 2.0  # seconds idle before reading a server's RSS


def lua(homes: list[sim_homes.Seeded], sweep: bool) -> str:
    table = ",".join(f'{{"{h.token}","/devices/thermostats/{h.living_room}"}}' for h in homes)
    return LUA % (table, "true" if sweep else "false")


def start(db: Path) -> tuple[Server, float, int]:
    """A server on ``db``: it, its start-up time in seconds and its idle RSS in KiB."""
    began = time.monotonic()
    # At real speed, as ``roost serve`` runs by default: at the simulator's 60 the cloud's
    # step over every home would come each second, not each minute, and be charged to the
    # requests (a tenth of the core at 10,000 homes).
    server = servers.start_simulated(db, db.with_suffix(".steps"), speed=1.0, simulate=False)
    took = time.monotonic() - began
    time.sleep(SETTLE)
    return server, took, server.rss_kb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=10_000)
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--duration", type=float, default=10, help="seconds per case")
    parser.add_argument("--repeat", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    args = parser.parse_args()
    args.profile = None
    servers.prepare_client()
    with tempfile.TemporaryDirectory(prefix="roost-homes-") as tmp:
        work = Path(tmp)
        print(f"seeding {args.homes:,} and {args.few:,} homes", flush=True)
        many = sim_homes.seed(work / "many.db", args.homes, with_tokens=args.homes)
        sim_homes.seed(work / "few.db", args.few, with_tokens=0)
        small, small_start, small_rss = start(work / "few.db")
        servers.stop(small)
        big, big_start, big_rss = start(work / "many.db")
        per_home = (big_rss - small_rss) / (args.homes - args.few)
        print(f"start-up: {args.few:,} homes {small_start:.2f} s, {args.homes:,} homes "
              f"{big_start:.2f} s; RSS {small_rss / 1024:.1f} and {big_rss / 1024:.1f} MiB: "
              f"{per_home:.1f} KiB per home; load averages {servers.load_averages()}",
              flush=True)
        with servers.running(big):
            cases = []
            for label, homes in ((f"{args.few:,} homes", many[:args.few]),
                                 (f"{args.homes:,} homes", many)):
                sweep, spread = work / f"sweep-{len(homes)}.lua", work / f"spread-{len(homes)}.lua"
                sweep.write_text(lua(homes, sweep=True))
                spread.write_text(lua(homes, sweep=False))
                cases.append((label, spread))
                # Every home's token and projection seen once before anything is measured.
                args.warmup = max(3.0, len(homes) / 2000)
                warm = argparse.Namespace(**{**vars(args), "duration": 1})
                http_bench._wrk_once(f"warm-up over {label}", big, "/", sweep, warm)
            args.warmup = 2.0
            runs: dict[str, list[http_bench.Result]] = {}
            for round_ in range(args.repeat):
                print(f"round {round_ + 1} of {args.repeat}", flush=True)
                for label, script in cases:
                    runs.setdefault(label, []).append(
                        http_bench._wrk_once(label, big, "/", script, args))
    results = [http_bench.median_run(r) for r in runs.values()]
    print()
    print(http_bench.table(results))
    few, all_ = (runs[label] for label, _ in cases)
    ratios = sorted(b.us_per_request / a.us_per_request for a, b in zip(few, all_, strict=True))
    print(f"\nCPU per request over {args.homes:,} homes / over {args.few:,}: "
          f"median {ratios[(len(ratios) - 1) // 2]:.2f} (rounds {ratios[0]:.2f}–{ratios[-1]:.2f};"
          " target <= 1.00)")
    print(f"start-up at {args.homes:,} homes: {big_start:.2f} s (target <= 2 s); "
          f"memory {per_home:.1f} KiB per home (target <= 20 KiB)")


if __name__ == "__main__":
    main()
