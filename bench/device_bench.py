"""Real thermostats at scale: ``--devices`` emulated thermostats, each claimed by a user of
its own, hold their ``/v7/subscribe`` on one ``roost serve`` (core 0) from one asyncio client
(core 1; raw sockets, one coroutine per device). With all of them held it reads the server's
RSS, then writes ``--writes`` new setpoints through Works with Nest, each to a random
device's thermostat, ``--concurrency`` at a time, and measures from the PUT being sent (and
from its 200) until that device's held subscribe has delivered the chunk. A device that got a
chunk subscribes again once its body ends, as the firmware does.

    python bench/device_bench.py [--devices 1000] [--writes 500] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import servers
from fanout import _client_loop, percentile
from servers import HOST, Server

from roost.auth import clients, tokens
from roost.store.sqlite import SQLiteStore

OPEN_AT_ONCE = 50
SETTLE = 3.0


def prepare(db: Path, count: int) -> list[str]:
    """``count`` users with a first-party token each, written before the server starts (a
    dummy password hash: nobody signs in)."""
    store = SQLiteStore(db)
    store.open()
    found = []
    try:
        asyncio.run(clients.ensure_first_party(store))
        for n in range(count):
            user = asyncio.run(store.create_user(f"owner{n}@example.com", "unused"))
            token = tokens.new_token()
            asyncio.run(store.add_token(tokens.digest(token), user.id,
                                        tokens.FIRST_PARTY_CLIENT))
            found.append(token)
    finally:
        store.close()
    return found


def start(workdir: Path, db: Path) -> Server:
    port = servers.free_port()
    log = workdir / "roost.log"
    process = servers._spawn(["-m", "roost", "serve", "--no-simulate", "--db", str(db),
                              "--host", HOST, "--port", str(port), "--log-level", "warning",
                              "--device-hold", "600", "--device-offline-after", "3600"], log)
    servers._wait_for(log, process, r"Roost serving")
    servers._wait_listening(port)
    return Server(process, port, db=db)


class Device:
    def __init__(self, n: int, port: int, token: str) -> None:
        self.serial = f"02AA01AC{n:08d}"
        self.port = port
        self.token = token
        self.device_id = ""
        self.stamps: dict[str, tuple[int, int]] = {}
        self.held = asyncio.Event()  # a subscribe is held now
        self.arrived: asyncio.Future[float] | None = None
        self.target = 20.0  # as joined

    @property
    def headers(self) -> str:
        return (f"Host: {HOST}\r\nX-nl-device-id: {self.serial}\r\n"
                f"X-nl-client-id: d.{self.serial}.1\r\nContent-Type: application/json\r\n")

    async def request(self, method: str, path: str, body: object = None) -> object:
        reader, writer = await asyncio.open_connection(HOST, self.port)
        data = b"" if body is None else json.dumps(body).encode()
        writer.write(f"{method} {path} HTTP/1.1\r\n{self.headers}Content-Length: {len(data)}"
                     f"\r\nConnection: close\r\n\r\n".encode() + data)
        raw = await reader.read()
        writer.close()
        head, _, rest = raw.partition(b"\r\n\r\n")
        assert b" 200 " in head.split(b"\r\n")[0], head
        if b"chunked" in head.lower():
            rest = b"".join(_chunks(rest))
        return json.loads(rest)

    def take(self, objects: list[dict[str, object]]) -> None:
        for o in objects:
            self.stamps[str(o["object_key"])] = (int(o["object_revision"]),  # type: ignore
                                                 int(o["object_timestamp"]))  # type: ignore

    async def join(self, http: httpx.AsyncClient) -> None:
        key = (await self.request("GET", "/nest/passphrase"))["value"]  # type: ignore
        put = await self.request("POST", "/nest/transport/v7/put", {"objects": [
            {"object_key": f"shared.{self.serial}", "value": {
                "current_temperature": 20.5, "can_heat": True, "target_temperature": 20.0,
                "target_temperature_type": "heat"}},
            {"object_key": f"device.{self.serial}", "value": {"current_humidity": 40}}]})
        self.take(put["objects"])  # type: ignore
        claimed = await http.post("/api/v1/pairings", json={"entry_key": key},
                                  headers={"Authorization": f"Bearer {self.token}"})
        claimed.raise_for_status()
        self.device_id = claimed.json()["device_id"]
        first = await self.request("POST", "/nest/transport/v7/subscribe", {
            "chunked": True, "objects": self._listing()})
        self.take(first["objects"])  # type: ignore

    def _listing(self) -> list[dict[str, object]]:
        return [{"object_key": k, "object_revision": r, "object_timestamp": t}
                for k, (r, t) in self.stamps.items()]

    async def hold(self) -> None:
        """Subscribe, again and again: each chunk resolves ``arrived``."""
        while True:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            data = json.dumps({"chunked": True, "objects": self._listing()}).encode()
            writer.write(f"POST /nest/transport/v7/subscribe HTTP/1.1\r\n{self.headers}"
                         f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
            await reader.readuntil(b"\r\n\r\n")
            self.held.set()
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                chunk = (await reader.readexactly(size + 2))[:-2]
                now = time.perf_counter()
                self.held.clear()
                self.take(json.loads(chunk)["objects"])
                if self.arrived is not None and not self.arrived.done():
                    self.arrived.set_result(now)
            writer.close()


def _chunks(body: bytes) -> list[bytes]:
    out = []
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out.append(body[:size])
        body = body[size + 2:]
    return out


async def run(server: Server, tokens_: list[str], writes: int, concurrency: int) -> dict:
    devices = [Device(n, server.port, t) for n, t in enumerate(tokens_)]
    limits = httpx.Limits(max_connections=concurrency * 2)
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{server.port}", timeout=60,
                                 limits=limits) as http:
        started = time.perf_counter()
        for n in range(0, len(devices), OPEN_AT_ONCE):
            await asyncio.gather(*(d.join(http) for d in devices[n:n + OPEN_AT_ONCE]))
        joined_s = time.perf_counter() - started
        await asyncio.sleep(SETTLE)
        before_holds = server.rss_kb()
        holders = [asyncio.create_task(d.hold()) for d in devices]
        await asyncio.gather(*(d.held.wait() for d in devices))
        await asyncio.sleep(SETTLE)
        held_rss = server.rss_kb()
        from_send: list[float] = []
        from_ok: list[float] = []
        missed = 0
        queue = random.Random(1).choices(devices, k=writes)
        cpu_before, busy_before = server.cpu_seconds(), servers.machine_busy_seconds()
        wall_before = time.perf_counter()

        async def one(device: Device, target: float) -> None:
            nonlocal missed
            await device.held.wait()
            device.arrived = asyncio.get_running_loop().create_future()
            sent = time.perf_counter()
            answer = await http.put(f"/devices/thermostats/{device.device_id}",
                                    json={"target_temperature_c": target},
                                    headers={"Authorization": f"Bearer {device.token}"})
            ok = time.perf_counter()
            answer.raise_for_status()
            try:
                arrived = await asyncio.wait_for(device.arrived, 10)
            except TimeoutError:
                missed += 1
                return
            from_send.append((arrived - sent) * 1000)
            from_ok.append((arrived - ok) * 1000)

        in_use: set[Device] = set()
        pending: set[asyncio.Task[None]] = set()
        for device in queue:
            while device in in_use or len(pending) >= concurrency:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                in_use = {d for d in in_use if d.serial in {t.get_name() for t in pending}}
            # Whole degrees, alternating: a setpoint that rounds to the one held is no change.
            device.target = 22.0 if device.target == 21.0 else 21.0
            pending.add(asyncio.create_task(one(device, device.target), name=device.serial))
            in_use.add(device)
        await asyncio.gather(*pending)
        wall = time.perf_counter() - wall_before
        server_cpu = server.cpu_seconds() - cpu_before
        other = servers.machine_busy_seconds() - busy_before - server_cpu
        for task in holders:
            task.cancel()
    return {
        "devices": len(devices), "join_s": round(joined_s, 1),
        "rss_before_holds_kib": before_holds, "rss_held_kib": held_rss,
        "per_held_kib": round((held_rss - before_holds) / len(devices), 1),
        "writes": writes, "missed": missed,
        "send_p50_ms": round(statistics.median(from_send), 1),
        "send_p99_ms": round(percentile(from_send, 99), 1),
        "send_max_ms": round(max(from_send), 1),
        "ok_p50_ms": round(statistics.median(from_ok), 1),
        "ok_p99_ms": round(percentile(from_ok, 99), 1),
        "wall_s": round(wall, 1), "server_cpu_s": round(server_cpu, 1),
        "other_load_cores": round(other / wall, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--writes", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    servers.prepare_client()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db = workdir / "roost.db"
        owners = prepare(db, args.devices)
        server = start(workdir, db)
        with servers.running(server):
            empty = server.rss_kb()
            with asyncio.Runner(loop_factory=_client_loop()) as runner:
                result = runner.run(run(server, owners, args.writes, args.concurrency))
            result["rss_empty_kib"] = empty
            result["per_device_total_kib"] = round(
                (result["rss_held_kib"] - empty) / args.devices, 1)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
