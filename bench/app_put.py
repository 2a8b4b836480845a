"""Roost's own cost of a durable PUT, with no HTTP server: the ASGI app called directly by
64 concurrent writers, each putting the demo Living Room thermostat's target temperature
(alternating two values) and awaiting the answer. Prints the process's CPU per PUT (the
event loop and the SQLite writer thread, ``synchronous=FULL``) and each thread's share.

uvicorn's own work is left out, and with it most of the noise of a wrk run: a quick way to
see what a change to the data path costs before measuring it against the raw ASGI app with
``compare.py``. Run it pinned to one core, as the server runs in the other benchmarks:

    taskset -c 0 python bench/app_put.py [--writes 40000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import uvloop

from roost import demo
from roost.app import create_app
from roost.service import Service
from roost.settings import Settings

WRITERS = 64


def thread_cpu() -> dict[str, float]:
    """CPU seconds so far of each of this process's threads: the event loop's, and the
    others' (the store's writer, its readers) by id."""
    ticks = os.sysconf("SC_CLK_TCK")
    found = {}
    for tid in os.listdir("/proc/self/task"):
        fields = Path(f"/proc/self/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        name = "event loop" if int(tid) == os.getpid() else f"thread {tid}"
        found[name] = (int(fields[11]) + int(fields[12])) / ticks
    return found


async def run(writes: int, rounds: int) -> None:
    ready: dict[str, Any] = {}

    async def on_ready(service: Service) -> None:
        ready["token"] = await demo.ensure(service)

    db = Path(tempfile.mkdtemp(prefix="roost-app-put-")) / "roost.db"
    app = create_app(Settings(db=str(db), simulate=False), on_ready=on_ready)
    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def lifespan_send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()
        elif message["type"] == "lifespan.startup.failed":
            raise SystemExit(message.get("message", "start-up failed"))

    await lifespan.put({"type": "lifespan.startup"})
    running = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                      lifespan.get, lifespan_send))
    await started.wait()
    token = ready["token"].encode()

    async def call(method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": method, "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1:8000"),
                             (b"authorization", b"Bearer " + token),
                             (b"content-type", b"application/json"),
                             (b"content-length", b"%d" % len(body))],
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
        answer: dict[str, Any] = {}
        messages = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            else:
                answer["body"] = message.get("body", b"")

        await app(scope, receive, send)
        return answer["status"], answer["body"]

    status, body = await call("GET", "/devices/thermostats")
    assert status == 200, body
    device_id = next(i for i, t in orjson.loads(body).items() if t["where_name"] == "Living Room")
    path = f"/devices/thermostats/{device_id}"
    bodies = [b'{"target_temperature_f": 71}', b'{"target_temperature_f": 72}']
    done = 0

    async def writer(until: int) -> None:
        nonlocal done
        while done < until:
            done += 1
            status, body = await call("PUT", path, bodies[done % 2])
            assert status == 200, body

    await asyncio.gather(*(writer(writes // 4) for _ in range(WRITERS)))  # warm-up
    for round_ in range(1, rounds + 1):
        done = 0
        before, cpu, wall = thread_cpu(), time.process_time(), time.perf_counter()
        await asyncio.gather(*(writer(writes) for _ in range(WRITERS)))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = thread_cpu()
        shares = ", ".join(f"{name} {(after[name] - before[name]) / done * 1e6:.1f}"
                           for name in after if name in before
                           and after[name] - before[name] > 0.001)
        print(f"round {round_}: {cpu / done * 1e6:.1f} µs CPU per PUT, {done / wall:,.0f} "
              f"PUTs/s (µs per PUT by thread: {shares})", flush=True)
    await lifespan.put({"type": "lifespan.shutdown"})
    await running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=40_000, help="PUTs per round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    gc.set_threshold(50_000, 20, 20)  # as roost/server.py sets it
    uvloop.run(run(args.writes, args.rounds))


if __name__ == "__main__":
    main()
