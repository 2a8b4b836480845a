"""Starting and watching the servers under test; shared by the benchmark scripts."""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

HOST = "127.0.0.1"
SERVER_CPU = "0"  # the server gets core 0, the load generator core 1
CLIENT_CPU = 1
BENCH = Path(__file__).resolve().parent


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    token: str = ""
    db: Path | str | None = None  # a SQLite file or a postgresql:// URL
    helper_pids: tuple[int, ...] = ()  # processes working for it (its database's backends)

    @property
    def pid(self) -> int:
        return self.process.pid

    def rss_kb(self) -> int:
        """Resident memory from /proc/<pid>/status, in KiB."""
        text = Path(f"/proc/{self.pid}/status").read_text()
        match = re.search(r"^VmRSS:\s+(\d+) kB", text, re.M)
        assert match is not None
        return int(match.group(1))

    def cpu_seconds(self) -> float:
        """User + system CPU time the server has used so far (all threads)."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def helper_cpu_seconds(self) -> float:
        """User + system CPU time of ``helper_pids`` so far (those still running)."""
        total = 0.0
        for pid in self.helper_pids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return total

    def client(self) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(base_url=f"http://{HOST}:{self.port}", headers=headers, timeout=10)


def machine_busy_seconds() -> float:
    """User and system CPU time of all processes so far (from /proc/stat), to see what else
    ran meanwhile. Interrupt time (loopback traffic) is left out: no process is charged it."""
    user, nice, system = map(int, Path("/proc/stat").read_text().split(maxsplit=4)[1:4])
    return (user + nice + system) / os.sysconf("SC_CLK_TCK")


def load_averages() -> str:
    """The machine's 1, 5 and 15 minute load averages, as ``uptime`` shows them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def children_cpu_seconds() -> float:
    """CPU time of this process's finished children (wrk)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def prepare_client(nofile: int = 20_000) -> None:
    """Pin this process (and so wrk and the stream holder) to the client core; raise the open
    file limit, which the servers inherit."""
    os.sched_setaffinity(0, {CLIENT_CPU})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def _wait_for(log: Path, process: subprocess.Popen[bytes], pattern: str,
              timeout: float = 30) -> re.Match[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        match = re.search(pattern, log.read_text())
        if match:
            return match
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}: {log.read_text()}")
        time.sleep(0.05)
    raise TimeoutError(f"server did not print {pattern!r} within {timeout} s")


def _wait_listening(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {HOST}:{port}")


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(["taskset", "-c", SERVER_CPU, sys.executable, *args],
                                stdout=out, stderr=subprocess.STDOUT, cwd=BENCH.parent)


@contextlib.contextmanager
def _killed_on_error(process: subprocess.Popen[bytes]) -> Iterator[None]:
    try:
        yield
    except BaseException:
        process.kill()
        process.wait(5)
        raise


def start_roost(workdir: Path, *, synchronous: str = "FULL", keepalive: float = 30.0,
                extra_routes: int = 0, db: str | None = None) -> Server:
    """``roost serve --demo`` on a fresh database in ``workdir`` (or on ``db``, a
    postgresql:// URL), access log off; with ``extra_routes``, that many more routes ahead
    of all of Roost's (bench/more_routes.py)."""
    port = free_port()
    db = db or str(workdir / f"roost-{port}.db")
    log = workdir / f"roost-{port}.log"
    args = ["serve", "--demo", "--no-simulate", "--db", str(db), "--host", HOST,
            "--port", str(port), "--synchronous", synchronous, "--keepalive", str(keepalive),
            "--log-level", "warning"]
    start = ["-m", "roost"] if not extra_routes else [str(BENCH / "more_routes.py"),
                                                      str(extra_routes)]
    process = _spawn([*start, *args], log)
    with _killed_on_error(process):
        token = _wait_for(log, process, r"access token: (\S+)").group(1)
        _wait_for(log, process, r"Roost serving")
        _wait_listening(port)
    return Server(process, port, token, db if db.startswith("postgresql:") else Path(db))


def start_simulated(db: Path, step_log: Path, *, speed: float = 60.0,
                    simulate: bool = True) -> Server:
    """``roost serve`` on an existing database (no demo), access log off, the simulator's
    per-step log in ``step_log`` (bench/sim_server.py)."""
    port = free_port()
    args = [str(BENCH / "sim_server.py"), str(step_log), "--db", str(db), "--host", HOST,
            "--port", str(port), "--speed", f"{speed:g}",
            "--simulate" if simulate else "--no-simulate", "--log-level", "warning"]
    log = step_log.with_suffix(".out")
    process = _spawn(args, log)
    with _killed_on_error(process):
        _wait_for(log, process, r"Roost serving", timeout=120)
        _wait_listening(port)
    return Server(process, port, db=db)


def start_minimal(workdir: Path, *, raw: bool = False) -> Server:
    """The minimal Starlette app, or with ``raw`` the bare ASGI app (bench/minimal_app.py)."""
    port = free_port()
    args = [str(BENCH / "minimal_app.py"), "--host", HOST, "--port", str(port),
            "--log-level", "warning", *(["--raw"] if raw else [])]
    process = _spawn(args, workdir / f"minimal-{port}.log")
    with _killed_on_error(process):
        _wait_listening(port)
    return Server(process, port)


def stop(server: Server, timeout: float = 15) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(5)


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    try:
        yield server
    finally:
        stop(server)


@contextlib.contextmanager
def profiled(server: Server, output: Path | None) -> Iterator[None]:
    """Sample the server with py-spy (200 Hz, collapsed stacks) while the block runs;
    nothing happens when ``output`` is None. Summarise with hotspots.py."""
    if output is None:
        yield
        return
    spy = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    process = subprocess.Popen([spy, "record", "--pid", str(server.pid),
                                "--rate", "200", "--format", "raw",
                                "--output", str(output)], stdout=subprocess.DEVNULL)
    time.sleep(0.5)  # let it attach
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def living_room(server: Server) -> tuple[str, int]:
    """The demo Living Room thermostat (heat mode): its id and target temperature in °F."""
    with server.client() as http:
        thermostats = http.get("/devices/thermostats").raise_for_status().json()
    for device_id, t in thermostats.items():
        if t["where_name"] == "Living Room":
            assert t["hvac_mode"] == "heat", t["hvac_mode"]
            return device_id, int(t["target_temperature_f"])
    raise LookupError("the demo home has no Living Room thermostat")


@contextlib.contextmanager
def scratch_database(server: str) -> Iterator[str]:
    """The URL of a new database on the PostgreSQL at ``server``, dropped at the end."""
    import psycopg  # only the benchmarks of PostgreSQL need it

    name = f"roost_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
