"""Roost now against Roost at an earlier commit, beside the raw ASGI app, in interleaved
rounds of PUTs (or GETs): server CPU per request, each as a share of the raw app's in the
same round, and now over then. Beside each median share, the share at each server's fastest
round: other load only ever adds to a round's CPU, so a server's fastest round is the nearest
a busy machine comes to a quiet one.

The earlier commit is exported with ``git archive`` into a temporary directory and served
from there by this virtualenv's Python, so both run on the same libraries and settings as
``http_bench.py``'s Roost (``--demo``, ``synchronous=FULL``, wrk with 64 connections).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path

import http_bench
import servers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="the earlier commit, e.g. main or a hash")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8, help="seconds per case")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each case")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--get", action="store_true", help="GETs instead of PUTs")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    args = parser.parse_args()
    args.profile = None
    servers.prepare_client()
    here = servers.BENCH
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roost-compare-")))
        then_tree = work / "then"
        then_tree.mkdir()
        archive = subprocess.run(["git", "-C", str(here.parent), "archive", args.revision],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(then_tree)], input=archive, check=True)
        raw = stack.enter_context(servers.running(servers.start_minimal(work, raw=True)))
        servers.BENCH = then_tree / "bench"  # start_roost serves the tree BENCH lies in
        then = stack.enter_context(servers.running(servers.start_roost(work)))
        servers.BENCH = here
        now = stack.enter_context(servers.running(servers.start_roost(work)))
        device_id, value = servers.living_room(now)
        template = http_bench.GET_LUA if args.get else http_bench.PUT_LUA
        cases = []
        for name, server in (("raw ASGI app", raw), (f"Roost at {args.revision}", then),
                             ("Roost now", now)):
            path = device_id if server.db is None else servers.living_room(server)[0]
            script = work / f"{server.port}.lua"
            script.write_text(template.substitute(token=server.token or now.token,
                                                  a=value + 1, b=value))
            cases.append((name, server, f"/devices/thermostats/{path}", script))
        runs: dict[str, list[http_bench.Result]] = {}
        for round_ in range(args.rounds):
            # The two Roosts swap places every round: neither always follows the raw app.
            order = cases if round_ % 2 == 0 else [cases[0], cases[2], cases[1]]
            for name, server, path, script in order:
                runs.setdefault(name, []).append(
                    http_bench._wrk_once(name, server, path, script, args))
    print()
    for name, results in runs.items():
        print(f"{name}: CPU µs/request {[round(r.us_per_request) for r in results]}, "
              f"requests/s {[round(r.rps) for r in results]}")
    raw_runs, then_runs, now_runs = runs.values()
    for name, results in ((cases[1][0], then_runs), (cases[2][0], now_runs)):
        shares = [base.us_per_request / run.us_per_request
                  for base, run in zip(raw_runs, results, strict=True)]
        fastest = min(r.us_per_request for r in raw_runs) / min(r.us_per_request for r in results)
        print(f"{name} / raw ASGI app by CPU per request: median "
              f"{statistics.median(shares):.0%} ({min(shares):.0%}–{max(shares):.0%}); "
              f"at each one's fastest round {fastest:.0%}")
    ratios = [n.us_per_request / t.us_per_request for n, t in zip(now_runs, then_runs, strict=True)]
    print(f"CPU per request, now / then: median {statistics.median(ratios):.2f} "
          f"({min(ratios):.2f}–{max(ratios):.2f})")


if __name__ == "__main__":
    main()
