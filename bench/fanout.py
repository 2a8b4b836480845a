"""Stream fan-out latency and server memory per open stream.

Opens 1,000 and then 5,000 (in all) ``Accept: text/event-stream`` streams of the demo Living
Room thermostat from one asyncio client (one coroutine per stream, raw sockets, no SSE parser:
a stream has an update when the new ``"target_temperature_f":N,`` appears in its bytes). At
each size it records the server's RSS with the streams idle, then PUTs a new target
temperature ``--writes`` times and measures, from the moment the PUT's 200 arrives, when each
stream has the event carrying the new value. The server runs on core 0, this client on core 1.

    python bench/fanout.py [--streams 1000 5000] [--writes 20] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.client
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import servers
from servers import HOST, Server

OPEN_AT_ONCE = 100  # connections being opened concurrently
OPEN_TIMEOUT = 120.0  # seconds to open one batch of streams
WRITE_TIMEOUT = 30.0  # seconds for one write to reach every stream
SETTLE = 2.0  # seconds to let the server go idle before reading its RSS


@dataclass
class Step:
    streams: int
    opened: int  # streams this step added
    open_s: float
    rss_kb: int
    per_stream_kb: float
    latencies_ms: list[float] = field(default_factory=list)  # one per stream per write
    last_ms: list[float] = field(default_factory=list)  # per write: the slowest stream
    missed: int = 0  # stream deliveries that did not arrive within WRITE_TIMEOUT
    cpu_ms_per_write: float = 0.0  # the server's
    load: str = ""  # the machine's load averages (1, 5, 15 min) after the writes
    client_ms_per_write: float = 0.0  # this holder's, to see whether it kept up


class Holder:
    """Holds the streams; each coroutine reports when its stream shows the current marker."""

    def __init__(self, server: Server, path: str) -> None:
        self.port = server.port
        self.request = (f"GET {path} HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
                        f"Authorization: Bearer {server.token}\r\n"
                        "Accept: text/event-stream\r\n\r\n").encode()
        self.generation = 0
        self.marker = b""
        self.expected = 0
        self.arrivals: list[float] = []
        self.done = asyncio.Event()
        self.opening = asyncio.Semaphore(OPEN_AT_ONCE)
        self.tasks: list[asyncio.Task[None]] = []

    def expect(self, target_f: int, count: int) -> None:
        """From now on, wait for ``count`` streams to show this target temperature."""
        self.generation += 1
        self.marker = b'"target_temperature_f":%d,' % target_f
        self.expected = count
        self.arrivals = []
        self.done.clear()

    async def open(self, count: int, target_f: int) -> int:
        """Open ``count`` more streams; they are open once the first ``put`` shows up."""
        self.expect(target_f, count)
        self.tasks += [asyncio.create_task(self._stream()) for _ in range(count)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.done.wait(), OPEN_TIMEOUT)
        return len(self.arrivals)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        self.tasks = []

    async def _stream(self) -> None:
        async with self.opening:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            writer.write(self.request)
            seen = await self._next(reader, 0)
        try:
            while True:
                seen = await self._next(reader, seen)
        finally:
            writer.close()

    async def _next(self, reader: asyncio.StreamReader, seen: int) -> int:
        """Read until the current marker appears in a generation this stream has not seen."""
        tail = b""
        while True:
            chunk = await reader.read(65536)
            if not chunk:
                raise ConnectionError("the server closed the stream")
            data = tail + chunk
            if self.generation != seen and self.marker in data:
                self.arrivals.append(time.perf_counter())
                if len(self.arrivals) >= self.expected:
                    self.done.set()
                return self.generation
            tail = data[-len(self.marker):]


class Writer:
    """PUTs, each on a fresh connection (uvicorn closes idle ones after 5 s). Deliberately
    blocking: while it waits for the 200 the holder's loop reads nothing, so the 200's arrival
    time is exact and every stream's arrival is timed after it (data that came in meanwhile is
    timed as soon as it is read)."""

    def __init__(self, server: Server, path: str) -> None:
        self.port = server.port
        self.path = path
        self.headers = {"Authorization": f"Bearer {server.token}",
                        "Content-Type": "application/json"}

    def put(self, target_f: int) -> float:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=10)
        try:
            conn.connect()
            conn.request("PUT", self.path,
                         orjson.dumps({"target_temperature_f": target_f}), self.headers)
            response = conn.getresponse()
            body = response.read()
            acked = time.perf_counter()
        finally:
            conn.close()
        if response.status != 200:
            raise RuntimeError(f"PUT answered {response.status}: {body!r}")
        return acked


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


async def measure(server: Server, sizes: list[int], writes: int,
                  profile: Path | None) -> list[Step]:
    device_id, value = servers.living_room(server)
    path = f"/devices/thermostats/{device_id}"
    holder, writer = Holder(server, path), Writer(server, path)

    async def write_all(count: int, step: Step | None) -> None:
        nonlocal value
        for _ in range(writes):
            value = value + 1 if value % 2 == 0 else value - 1  # alternate two values
            holder.expect(value, count)
            acked = writer.put(value)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(holder.done.wait(), WRITE_TIMEOUT)
            if step is not None:
                step.latencies_ms += [(t - acked) * 1000 for t in holder.arrivals]
                step.last_ms.append((max(holder.arrivals, default=acked) - acked) * 1000
                                    if len(holder.arrivals) == count else WRITE_TIMEOUT * 1000)
                step.missed += count - len(holder.arrivals)
            await asyncio.sleep(0.2)

    # Warm up the paths once so the first batch is not charged for them, then start clean.
    await holder.open(20, value)
    await write_all(20, None)
    await holder.close()
    await asyncio.sleep(SETTLE)
    baseline = server.rss_kb()
    print(f"server pid {server.pid}, RSS with no streams {baseline / 1024:.1f} MiB",
          flush=True)

    steps: list[Step] = []
    live = 0
    for size in sizes:
        started = time.perf_counter()
        opened = await holder.open(size - live, value)
        open_s = time.perf_counter() - started
        live += opened
        if not live:
            raise RuntimeError("no stream could be opened")
        await asyncio.sleep(SETTLE)
        rss = server.rss_kb()
        step = Step(live, opened, open_s, rss, (rss - baseline) / live)
        print(f"{live} of {size} streams open ({opened} more in {open_s:.1f} s); RSS "
              f"{rss / 1024:.1f} MiB, {step.per_stream_kb:.1f} KiB per stream", flush=True)
        cpu, client = server.cpu_seconds(), time.process_time()
        with servers.profiled(server, profile and profile / f"fanout-{size}.txt"):
            await write_all(live, step)
        step.cpu_ms_per_write = (server.cpu_seconds() - cpu) * 1000 / writes
        step.client_ms_per_write = (time.process_time() - client) * 1000 / writes
        step.load = servers.load_averages()
        print(f"  fan-out p50 {percentile(step.latencies_ms, 50):.0f} ms, "
              f"p99 {percentile(step.latencies_ms, 99):.0f} ms, "
              f"max {max(step.latencies_ms):.0f} ms, missed {step.missed}", flush=True)
        steps.append(step)
    await holder.close()
    return steps


def table(steps: list[Step], writes: int) -> str:
    rows = ["| Streams | Opened | Server RSS (idle) | RSS per stream | Fan-out p50 | "
            "p99 | max | Slowest stream, median of writes | Missed | CPU per write: server | "
            "holder | Server CPU per stream per event | Load averages |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
            "| --- |"]
    for s in steps:
        rows.append(
            f"| {s.streams:,} | {s.opened:,} more in {s.open_s:.1f} s | "
            f"{s.rss_kb / 1024:.0f} MiB | "
            f"{s.per_stream_kb:.1f} KiB | {percentile(s.latencies_ms, 50):.0f} ms | "
            f"{percentile(s.latencies_ms, 99):.0f} ms | {max(s.latencies_ms):.0f} ms | "
            f"{statistics.median(s.last_ms):.0f} ms | {s.missed} of {s.streams * writes:,} | "
            f"{s.cpu_ms_per_write:.0f} ms | {s.client_ms_per_write:.0f} ms | "
            f"{s.cpu_ms_per_write * 1000 / s.streams:.1f} µs | {s.load} |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[1000, 5000],
                        help="stream counts, ascending; each step opens the difference")
    parser.add_argument("--writes", type=int, default=20, help="PUTs at each stream count")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample the server with py-spy during the writes; stacks go here")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    servers.prepare_client()
    with (tempfile.TemporaryDirectory(prefix="roost-fanout-") as tmp,
          servers.running(servers.start_roost(Path(tmp))) as roost,
          asyncio.Runner(loop_factory=_client_loop()) as runner):
        steps = runner.run(measure(roost, sorted(args.streams), args.writes, args.profile))
    print()
    print(table(steps, args.writes))
    last = steps[-1]
    p99 = percentile(last.latencies_ms, 99)
    print(f"\nfan-out p99 at {last.streams:,} streams = {p99:.0f} ms (target <= 1,000 ms: "
          f"{'met' if p99 <= 1000 else 'missed'})")
    per_event = last.cpu_ms_per_write * 1000 / last.streams
    print(f"server CPU per stream per event at {last.streams:,} = {per_event:.1f} µs "
          f"(target <= 25 µs: {'met' if per_event <= 25 else 'missed'})")
    print(f"RSS per idle stream at {last.streams:,} = {last.per_stream_kb:.1f} KiB "
          f"(target <= 50 KB: {'met' if last.per_stream_kb * 1024 <= 50_000 else 'missed'})")


def _client_loop() -> type[asyncio.AbstractEventLoop] | None:
    """The holder runs on uvloop when it is installed: the cheaper the client, the less of
    its own time is in the measured latency."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.Loop


if __name__ == "__main__":
    main()
