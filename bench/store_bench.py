"""GET and durable PUT throughput and latency of Roost on each store, in one interleaved run
(wrk, 64 connections, as ``http_bench.py``).

Setups: Roost on a SQLite file (``synchronous=FULL``) and Roost on a PostgreSQL database
(one process; a scratch database on ``--postgres``, dropped afterwards). Each serves the demo
home; the cases are GET of the Living Room thermostat and PUT of its target temperature
(alternating two values, so every PUT is a commit). Every case runs once per round, GETs
first, and PostgreSQL's share of SQLite is taken within each round. The server runs on core
0 and wrk on core 1; PostgreSQL's backends for the database run where the machine puts them,
and their CPU is shown apart ("DB CPU") and left out of "other load". The machine's load
averages are recorded with every case.

    python bench/store_bench.py [--duration 8] [--warmup 2] [--connections 64] [--repeat 3]
                                [--postgres postgresql://postgres@127.0.0.1:5432]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import http_bench
import psycopg
import servers
from http_bench import GET_LUA, PUT_LUA, Result, median_run, share
from servers import Server


@dataclass
class Setup:
    """One way of serving Roost: a name for the table, and how to start it (given a work
    directory and a stack that stops it and cleans up after)."""

    name: str
    start: Callable[[Path, contextlib.ExitStack], Server]


def backends(url: str) -> tuple[int, ...]:
    """The PostgreSQL processes serving connections to the database at ``url``."""
    name = url.rsplit("/", 1)[1]
    with psycopg.connect(url, autocommit=True) as conn:
        pids = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s "
                            "AND pid <> pg_backend_pid()", (name,)).fetchall()
    return tuple(pid for (pid,) in pids)


def sqlite(work: Path, stack: contextlib.ExitStack) -> Server:
    return stack.enter_context(servers.running(servers.start_roost(work)))


def postgres_one(server_url: str) -> Callable[[Path, contextlib.ExitStack], Server]:
    def start(work: Path, stack: contextlib.ExitStack) -> Server:
        url = stack.enter_context(servers.scratch_database(server_url))
        server = stack.enter_context(servers.running(servers.start_roost(work, db=url)))
        server.helper_pids = backends(url)
        return server

    return start


def setups(args: argparse.Namespace) -> list[Setup]:
    """What the run compares. Several processes behind the front door are measured by
    scale_out_bench.py, beside these two, with a client that follows the door's 307s."""
    return [
        Setup("SQLite", sqlite),
        Setup("PostgreSQL, 1 process", postgres_one(args.postgres)),
    ]


def table(results: list[Result]) -> str:
    rows = ["| Case | Requests/s | p50 ms | p99 ms | Failed | Commits/s | Server CPU | "
            "DB CPU | Other load | Load averages |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        commits = "—" if r.commits is None else f"{r.commits:,.0f}"
        rows.append(f"| {r.case} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
                    f"{r.failed} | {commits} | {r.cpu:.0%} | {r.helper_cpu:.0%} | "
                    f"{r.other:.2f} cores | {r.load} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8, help="seconds per case")
    parser.add_argument("--warmup", type=float, default=2, help="seconds before each case")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3,
                        help="interleaved rounds; the table keeps each case's median run")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432",
                        help="a PostgreSQL server where a scratch database may be made")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    args = parser.parse_args()
    args.profile = None  # http_bench's case runner takes these two
    servers.prepare_client()
    cases: list[tuple[str, Server, str, Path]] = []
    runs: dict[str, list[Result]] = {}
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roost-bench-")))
        for setup in setups(args):
            server = setup.start(work, stack)
            device_id, value = servers.living_room(server)
            path = f"/devices/thermostats/{device_id}"
            get_lua, put_lua = work / f"get-{server.port}.lua", work / f"put-{server.port}.lua"
            get_lua.write_text(GET_LUA.substitute(token=server.token))
            put_lua.write_text(PUT_LUA.substitute(token=server.token, a=value + 1, b=value))
            cases += [(f"{setup.name} GET", server, path, get_lua),
                      (f"{setup.name} PUT, durable", server, path, put_lua)]
            print(f"{setup.name}: pid {server.pid}, database helpers {server.helper_pids}",
                  flush=True)
        cases.sort(key=lambda c: " PUT" in c[0])  # all GETs first in each round
        for round_ in range(args.repeat):
            print(f"round {round_ + 1} of {args.repeat}", flush=True)
            for case, server, path, script in cases:
                runs.setdefault(case, []).append(
                    http_bench._wrk_once(case, server, path, script, args))
    print()
    print(table([median_run(r) for r in runs.values()]))
    print()
    names = [s.name for s in setups(args)]
    for other in names[1:]:
        for what in ("GET", "PUT, durable"):
            print(f"{other} {what} = {share(runs, f'{other} {what}', f'{names[0]} {what}')} "
                  f"of {names[0]} {what}")


if __name__ == "__main__":
    main()
