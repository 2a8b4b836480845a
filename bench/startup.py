"""Start-up and idle memory of Roost now against Roost at an earlier commit, on one database.

Seeds ``--homes`` demo homes (``sim_homes.py``), exports the earlier commit with ``git
archive`` and starts ``roost serve --no-simulate`` on the database from each tree in turn,
``--rounds`` times, timing from the process's start until it accepts connections and reading
its RSS once idle. On a shared machine only the ratio within a round is worth reading.

    python bench/startup.py main [--homes 10000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import servers
import sim_homes

SETTLE = 2.0  # seconds idle before reading a server's RSS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the earlier commit, e.g. main or a hash")
    parser.add_argument("--homes", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    here = servers.BENCH
    with tempfile.TemporaryDirectory(prefix="roost-startup-") as tmp:
        work = Path(tmp)
        then_tree = work / "then"
        then_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(here.parent), "archive", args.revision],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(then_tree)], input=archive, check=True)
        db = work / "homes.db"
        print(f"seeding {args.homes:,} homes", flush=True)
        sim_homes.seed(db, args.homes, with_tokens=0)
        ratios = []
        for round_ in range(args.rounds):
            took = {}
            # The two swap places every round: neither always starts on a warmer machine.
            trees = [("then", then_tree), ("now", here.parent)]
            for name, tree in trees if round_ % 2 == 0 else trees[::-1]:
                servers.BENCH = tree / "bench"
                os.environ["PYTHONPATH"] = str(tree)  # the server script imports that Roost
                began = time.monotonic()
                server = servers.start_simulated(db, db.with_suffix(".steps"), simulate=False)
                took[name] = time.monotonic() - began
                time.sleep(SETTLE)
                rss = server.rss_kb()
                servers.stop(server)
                print(f"  {name}: start {took[name]:.2f} s, RSS {rss / 1024:.1f} MiB, "
                      f"load averages {servers.load_averages()}", flush=True)
            ratios.append(took["now"] / took["then"])
        servers.BENCH = here
    print(f"start-up now / then: median {statistics.median(ratios):.2f} "
          f"(rounds {min(ratios):.2f}–{max(ratios):.2f})")


if __name__ == "__main__":
    main()
