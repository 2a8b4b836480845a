"""What a test that uses the pytest plugin's ``roost_home`` fixture costs, against two
baselines in the same run: a test without it, and a test that starts its own
``roost serve --demo`` process (what Roost's own suite does, tests/conftest.py).

Generates a test module of N tests of each kind, interleaved, runs it in one pytest session
(in this process) and prints each kind's first, median and 90th-percentile cost
(setup + call + teardown).

    .venv/bin/python bench/plugin_cost.py [--tests 40] [--process-tests 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import textwrap
from collections import defaultdict
from pathlib import Path

import pytest

MODULE = '''
import re, socket, subprocess, sys, os
import pytest
from roost.client import Roost


def test_bare_{i}():
    assert sum(range(100)) == 4950


def test_home_{i}(roost_home):
    home = roost_home(thermostats=2, protects=1, cameras=1)
    home.client.set_thermostat(home.thermostats[0], {{"hvac_mode": "heat"}})
    assert home.client.thermostat(home.thermostats[0]).hvac_mode == "heat"
'''

PROCESS = '''

def test_process_{i}(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "roost", "serve", "--demo",
                             "--no-simulate", "--db", str(tmp_path / "r.db"), "--port",
                             str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env={{**os.environ, "PYTHONUNBUFFERED": "1"}})
    token = None
    for line in proc.stdout:
        if m := re.match(r"access token: (\\S+)", line):
            token = m.group(1)
        if "Uvicorn running" in line:
            break
    try:
        with Roost(f"http://127.0.0.1:{{port}}", token) as client:
            home = client.home()
            t = next(iter(home.thermostats))
            client.set_thermostat(t, {{"hvac_mode": "heat"}})
            assert client.thermostat(t).hvac_mode == "heat"
    finally:
        proc.kill()
        proc.wait()
'''


class Timings:
    def __init__(self) -> None:
        self.costs: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.costs[report.nodeid][report.when] += report.duration


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=40)
    parser.add_argument("--process-tests", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "test_cost.py"
        body = "".join(MODULE.format(i=i) + (PROCESS.format(i=i) if i < args.process_tests
                                               else "") for i in range(args.tests))
        path.write_text(textwrap.dedent(body))
        (Path(tmp) / "pytest.ini").write_text("[pytest]\n")
        timings = Timings()
        code = pytest.main(["-q", "-p", "no:cacheprovider", "-p", "no:randomly", str(path)],
                           plugins=[timings])
        assert code == 0, f"pytest exited with {code}"
    kinds: dict[str, list[float]] = defaultdict(list)
    for nodeid, parts in timings.costs.items():  # in run order
        kind = nodeid.split("::")[1].rsplit("_", 1)[0].removeprefix("test_")
        kinds[kind].append(sum(parts.values()) * 1000)
    print("\n| Test | Runs | First (ms) | Median of the rest (ms) | p90 of the rest (ms) |")
    print("| --- | --- | --- | --- | --- |")
    for kind, costs in kinds.items():
        rest = sorted(costs[1:])
        p90 = rest[int(len(rest) * 0.9) - 1] if rest else 0.0
        print(f"| {kind} | {len(costs)} | {costs[0]:.0f} | "
              f"{statistics.median(rest) if rest else 0:.1f} | {p90:.1f} |")


if __name__ == "__main__":
    main()
