"""Target 3 without HTTP: Roost's own CPU per request spread over 10,000 homes and over 100,
the ASGI app called directly, as ``app_put.py`` calls it.

``many_homes.py`` charges each case the whole server, uvicorn's parsing and the sockets
included, which cost the same over any number of homes and so dilute the difference. Here
the app alone is charged: 64 concurrent callers send the mix of ``many_homes.py`` (GETs of a
home's Living Room thermostat, one PUT of its label in ten, each home its own token) over the
first ``--few`` homes and over all of them, block after block alternately, and each block is
charged the process's CPU per request, the event loop's and the other threads' (the SQLite
writer's) apart. Run it pinned to one core:

    taskset -c 0 python bench/app_homes.py [--homes 10000] [--few 100] [--rounds 30]

The homes are seeded once into ``--seeded`` (a directory) and copied for each run, so every
run starts from the same file. Count the store's page reads and writes per PUT with
``strace -f -c`` around two runs with ``--only``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import sim_homes
import uvloop
from app_put import thread_cpu

from roost.app import create_app
from roost.settings import Settings

CALLERS = 64
PUT_EVERY = 10  # one PUT in ten, as many_homes.py sends


async def run(db: Path, homes: list[tuple[str, str]], args: argparse.Namespace) -> None:
    # The cloud's step over every home (once a simulated minute) slowed a thousandfold, so
    # that no block is charged for it: this measures the requests alone.
    app = create_app(Settings(db=str(db), simulate=False, speed=0.001))
    lifespan: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    started = asyncio.Event()

    async def lifespan_send(message: dict[str, Any]) -> None:
        if message["type"] == "lifespan.startup.complete":
            started.set()

    await lifespan.put({"type": "lifespan.startup"})
    running = asyncio.create_task(app({"type": "lifespan", "asgi": {"version": "3.0"}},
                                      lifespan.get, lifespan_send))
    await started.wait()
    sent = 0

    async def call(token: str, device_id: str, put: bool) -> None:
        nonlocal sent
        sent += 1
        path = f"/devices/thermostats/{device_id}"
        body = b'{"label": "run %d"}' % sent if put else b""  # every PUT a change
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                 "method": "PUT" if put else "GET", "scheme": "http", "path": path,
                 "raw_path": path.encode(), "query_string": b"", "root_path": "",
                 "headers": [(b"host", b"127.0.0.1:8000"),
                             (b"authorization", b"Bearer " + token.encode()),
                             (b"content-type", b"application/json"),
                             (b"content-length", b"%d" % len(body))],
                 "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)}
        messages = [{"type": "http.request", "body": body, "more_body": False}]
        status: list[int] = []

        async def receive() -> dict[str, Any]:
            return messages.pop() if messages else {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])

        await app(scope, receive, send)
        assert status == [200], status

    pick = random.Random(0)

    async def block(over: list[tuple[str, str]]) -> None:
        async def caller() -> None:
            for _ in range(args.block // CALLERS):
                token, device_id = over[pick.randrange(len(over))]
                await call(token, device_id, pick.randrange(PUT_EVERY) == 0)

        await asyncio.gather(*(caller() for _ in range(CALLERS)))

    cases = {f"{args.few:,} homes": homes[:args.few], f"{len(homes):,} homes": homes}
    if args.only is not None:
        cases = {label: over for label, over in cases.items() if len(over) == args.only}
    for over in cases.values():  # every token, principal and answer seen once
        for token, device_id in over:
            await call(token, device_id, False)
    loop_us: dict[str, list[float]] = {label: [] for label in cases}
    other_us: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(args.rounds):
        for label, over in cases.items():
            before, cpu = thread_cpu(), time.process_time()
            await block(over)
            cpu, after = time.process_time() - cpu, thread_cpu()
            requests = args.block // CALLERS * CALLERS
            loop = after["event loop"] - before["event loop"]
            loop_us[label].append(loop / requests * 1e6)
            other_us[label].append((cpu - loop) / requests * 1e6)
    for label in cases:
        print(f"{label}: {statistics.median(loop_us[label]):.1f} µs of the event loop and "
              f"{statistics.median(other_us[label]):.1f} µs of other threads per request "
              f"(medians of {args.rounds} blocks)")
    if len(cases) == 2:
        few, all_ = (
            [loop + other for loop, other in zip(loop_us[label], other_us[label], strict=True)]
            for label in cases)
        ratios = sorted(b / a for a, b in zip(few, all_, strict=True))
        print(f"CPU per request over {len(homes):,} homes / over {args.few:,}: median "
              f"{statistics.median(ratios):.2f} (blocks {ratios[0]:.2f}–{ratios[-1]:.2f})")
    await lifespan.put({"type": "lifespan.shutdown"})
    await running


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--homes", type=int, default=10_000)
    parser.add_argument("--few", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=30, help="blocks of each case")
    parser.add_argument("--block", type=int, default=6_000, help="requests per block")
    parser.add_argument("--only", type=int, help="run only the case of this many homes")
    parser.add_argument("--seeded", type=Path, default=Path(tempfile.gettempdir())
                        / "roost-app-homes", help="where the seeded homes are kept")
    args = parser.parse_args()
    seeded, tokens = args.seeded / f"{args.homes}.db", args.seeded / f"{args.homes}.json"
    if not tokens.exists():
        args.seeded.mkdir(parents=True, exist_ok=True)
        seeded.unlink(missing_ok=True)
        homes = [(h.token, h.living_room)
                 for h in sim_homes.seed(seeded, args.homes, with_tokens=args.homes)]
        tokens.write_bytes(orjson.dumps(homes))
    homes = [tuple(home) for home in orjson.loads(tokens.read_bytes())]
    with tempfile.TemporaryDirectory(prefix="roost-app-homes-") as work:
        db = Path(work) / "roost.db"
        shutil.copy(seeded, db)
        gc.set_threshold(50_000, 20, 20)  # as roost/server.py sets it
        uvloop.run(run(db, homes, args))


if __name__ == "__main__":
    main()
