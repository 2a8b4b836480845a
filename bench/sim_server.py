"""``roost serve`` with the simulator's log at debug level in a file of its own.

The simulator logs one line per step (when, how many thermostats, reports and commits, how
long it took); ``roost serve`` leaves Roost's own loggers at their default (warnings only),
so sim_bench.py starts the server through this.

    python bench/sim_server.py STEP_LOG [roost serve options]
"""

from __future__ import annotations

import logging
import sys

from roost.cli import main

if __name__ == "__main__":
    handler = logging.FileHandler(sys.argv[1])
    # Real (wall-clock) time first: the benchmark matches steps to its load phases by it.
    handler.setFormatter(logging.Formatter("%(created).3f %(levelname)s %(message)s"))
    simulator = logging.getLogger("roost.simulator")
    simulator.setLevel(logging.DEBUG)
    simulator.addHandler(handler)
    main(["serve", *sys.argv[2:]])
