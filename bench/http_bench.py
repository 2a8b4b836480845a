"""HTTP throughput of Roost next to a bare ASGI app and a minimal Starlette app (wrk, 64
connections).

Cases: GET of the demo Living Room thermostat and PUT of its target temperature (alternating
two values, ``synchronous=FULL``), each against Roost, against Roost with ``--routes`` more
routes ahead of its own (as new transports add them), and against the two baselines of
``minimal_app.py`` under the same uvicorn setup; then PUT against a Roost started with
``--synchronous NORMAL``. Every server gets a fresh database, core 0 and the access log off;
wrk runs on core 1 with one thread. With ``--repeat N`` the cases run in N interleaved rounds
(every case once per round), and shares are taken within a round, so load that comes and goes
touches both sides of a ratio alike.

    python bench/http_bench.py [--duration 15] [--connections 64] [--repeat 1]
                               [--routes 50] [--profile DIR]
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from string import Template

import servers
from servers import HOST, Server

GET_LUA = Template("""\
wrk.headers["Authorization"] = "Bearer $token"
""")
PUT_LUA = Template("""\
wrk.method = "PUT"
wrk.headers["Authorization"] = "Bearer $token"
wrk.headers["Content-Type"] = "application/json"
local bodies = {'{"target_temperature_f": $a}', '{"target_temperature_f": $b}'}
local n = 0
request = function()
  n = n + 1
  return wrk.format(nil, nil, nil, bodies[n % 2 + 1])
end
""")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
QUIET = 0.1  # cores of other load under which a run counts as undisturbed


@dataclass
class Result:
    case: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    failed: int  # non-2xx answers and socket errors
    cpu: float  # server CPU time / wall time, as a share of its one core
    other: float  # CPU used by anything but the server and wrk, in cores
    commits: float | None = None  # rows added to the change log per second (Roost only)
    load: str = ""  # the machine's load averages (1, 5, 15 min) as the run ended
    helper_cpu: float = 0.0  # CPU of the server's helpers (PostgreSQL backends), in cores

    @property
    def us_per_request(self) -> float:
        """Server CPU per answer: steadier than requests/s when others share its core."""
        return self.cpu / self.rps * 1e6


def _latency(out: str, pct: str) -> float:
    match = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    assert match is not None, out
    return float(match.group(1)) * UNITS_MS[match.group(2)]


def _last_seq(server: Server) -> int | None:
    if server.db is None:
        return None
    if isinstance(server.db, str):  # PostgreSQL (psycopg needed only then)
        import psycopg

        with psycopg.connect(server.db) as pg:
            row = pg.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()
            assert row is not None
            return int(row[0])
    with sqlite3.connect(f"file:{server.db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT coalesce(max(seq), 0) FROM changes").fetchone()[0])


def _wrk_once(case: str, server: Server, path: str, script: Path,
              args: argparse.Namespace) -> Result:
    url = f"http://{HOST}:{server.port}{path}"

    def run(seconds: float) -> str:
        cmd = ["taskset", "-c", str(servers.CLIENT_CPU), args.wrk, "-t1",
               f"-c{args.connections}", f"-d{seconds:g}s", "--latency", "-s", str(script), url]
        return subprocess.run(cmd, check=True, capture_output=True, text=True,
                              timeout=seconds + 60).stdout

    run(args.warmup)
    profile = None
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
        profile = args.profile / (re.sub(r"\W+", "-", case).strip("-").lower() + ".txt")
    with servers.profiled(server, profile):
        seq, start = _last_seq(server), time.monotonic()
        cpu, busy, client, helper = (server.cpu_seconds(), servers.machine_busy_seconds(),
                                     servers.children_cpu_seconds(), server.helper_cpu_seconds())
        out = run(args.duration)
        wall = time.monotonic() - start
        cpu = server.cpu_seconds() - cpu
        client = servers.children_cpu_seconds() - client
        helper = server.helper_cpu_seconds() - helper
        other = (servers.machine_busy_seconds() - busy - cpu - client - helper) / wall
        after = _last_seq(server)
    requests = re.search(r"(\d+) requests in", out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert requests and rps, out
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    failed = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(g) for g in errors.groups()) if errors else 0)
    result = Result(case, int(requests.group(1)), float(rps.group(1)), _latency(out, "50"),
                    _latency(out, "99"), failed, cpu / wall, max(other, 0.0),
                    None if seq is None or after is None else (after - seq) / wall,
                    servers.load_averages(), helper / wall)
    print(f"  {case}: {result.rps:,.0f} req/s, p50 {result.p50_ms:.2f} ms, "
          f"p99 {result.p99_ms:.2f} ms, failed {failed}, other load {result.other:.2f} cores, "
          f"load averages {result.load}", flush=True)
    return result


def median_run(runs: list[Result]) -> Result:
    """The median of the undisturbed runs (other load at most 0.1 cores), or if none was
    undisturbed, the median of all."""
    quiet = sorted((r for r in runs if r.other <= QUIET), key=lambda r: r.rps)
    chosen = quiet or sorted(runs, key=lambda r: r.rps)
    return chosen[(len(chosen) - 1) // 2]


def table(results: list[Result]) -> str:
    rows = ["| Case | Requests/s | p50 ms | p99 ms | Failed | Commits/s | Server CPU | "
            "CPU µs/request | Other load | Load averages |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
    for r in results:
        commits = "—" if r.commits is None else f"{r.commits:,.0f}"
        rows.append(f"| {r.case} | {r.rps:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
                    f"{r.failed} | {commits} | {r.cpu:.0%} | {r.us_per_request:.0f} | "
                    f"{r.other:.2f} cores | "
                    f"{r.load} |")
    return "\n".join(rows)


def share(runs: dict[str, list[Result]], case: str, base: str) -> str:
    """``case`` as a share of ``base`` within each round, by requests/s and by server CPU
    per request (base's over case's): the medians and the ranges."""
    pairs = list(zip(runs[case], runs[base], strict=True))
    by_rate = sorted(a.rps / b.rps for a, b in pairs)
    by_cpu = sorted(b.us_per_request / a.us_per_request for a, b in pairs)
    return f"by requests/s {_spread(by_rate)}; by CPU per request {_spread(by_cpu)}"


def _spread(shares: list[float]) -> str:
    median = shares[(len(shares) - 1) // 2]
    return f"{median:.0%}" + (f" (rounds {shares[0]:.0%}–{shares[-1]:.0%})"
                              if len(shares) > 1 else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=15, help="seconds per case")
    parser.add_argument("--warmup", type=float, default=3, help="seconds before each case")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=1,
                        help="interleaved rounds; the table keeps each case's median run")
    parser.add_argument("--routes", type=int, default=50,
                        help="routes the second Roost has ahead of its own")
    parser.add_argument("--wrk", default=shutil.which("wrk") or "wrk")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample the server with py-spy during each case; stacks go here")
    parser.add_argument("--only", metavar="TEXT",
                        help="run only the cases whose name contains TEXT (for example PUT)")
    args = parser.parse_args()
    servers.prepare_client()
    more = f"Roost with {args.routes} more routes"
    runs: dict[str, list[Result]] = {}
    with contextlib.ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="roost-bench-")))
        start = {
            "raw ASGI app": lambda: servers.start_minimal(work, raw=True),
            "minimal app": lambda: servers.start_minimal(work),
            "Roost": lambda: servers.start_roost(work),
            more: lambda: servers.start_roost(work, extra_routes=args.routes),
            "Roost NORMAL": lambda: servers.start_roost(work, synchronous="NORMAL"),
        }
        started = {name: stack.enter_context(servers.running(run())) for name, run in
                   start.items()}
        device_id, value = servers.living_room(started["Roost"])
        cases: list[tuple[str, Server, str, Path]] = []
        for name, server in started.items():
            path = device_id if server.db is None else servers.living_room(server)[0]
            path = f"/devices/thermostats/{path}"
            token = server.token or started["Roost"].token
            get_lua, put_lua = work / f"get-{server.port}.lua", work / f"put-{server.port}.lua"
            get_lua.write_text(GET_LUA.substitute(token=token))
            put_lua.write_text(PUT_LUA.substitute(token=token, a=value + 1, b=value))
            if name != "Roost NORMAL":
                cases.append((f"{name} GET", server, path, get_lua))
            put = "PUT (echo, no storage)" if server.db is None else (
                "PUT, synchronous=NORMAL" if name == "Roost NORMAL" else "PUT, synchronous=FULL")
            cases.append((f"{name.removesuffix(' NORMAL')} {put}", server, path, put_lua))
        cases.sort(key=lambda c: " PUT" in c[0])  # all GETs first in each round
        cases = [c for c in cases if args.only is None or args.only in c[0]]
        print(", ".join(f"{name} pid {s.pid}" for name, s in started.items()), flush=True)
        for round_ in range(args.repeat):
            print(f"round {round_ + 1} of {args.repeat}", flush=True)
            for case, server, path, script in cases:
                runs.setdefault(case, []).append(_wrk_once(case, server, path, script, args))
    results = [median_run(r) for r in runs.values()]
    print()
    print(table(results))
    print()
    get, put = "Roost GET", "Roost PUT, synchronous=FULL"
    for case, base in ((get, "raw ASGI app GET"), (get, "minimal app GET"),
                       (f"{more} GET", "raw ASGI app GET"),
                       (put, "raw ASGI app PUT (echo, no storage)"),
                       (put, "minimal app PUT (echo, no storage)"),
                       (f"{more} PUT, synchronous=FULL", "raw ASGI app PUT (echo, no storage)")):
        if case in runs and base in runs:
            print(f"{case} = {share(runs, case, base)} of {base}")
    if put in runs:
        print(f"durable acknowledged writes (FULL): {median_run(runs[put]).rps:,.0f}/s")


if __name__ == "__main__":
    main()
