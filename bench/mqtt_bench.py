"""From a Works with Nest write to Home Assistant's MQTT state message, with 1,000 thermostats
changing.

One user owns two demo homes (a Protect and a camera each) holding ``--thermostats`` in all,
seeded into a fresh database; ``roost serve --mqtt`` publishes them to the Mosquitto at
127.0.0.1:1883 under a prefix of its own. A paced client PUTs a new set point to every
thermostat in turn (``--rate`` writes/s for ``--seconds``), and an MQTT subscriber on the same
core notes when each new value arrives on its state topic. Printed per write: the time from
sending the PUT to its 200 (the baseline, in the same run) and from sending it to the state
message; the server's CPU per write; the other load on the machine. Retained messages are
removed afterwards.

    python bench/mqtt_bench.py --thermostats 1000 --rate 200 --seconds 20
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiomqtt
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from servers import (
    HOST,
    Server,
    _spawn,
    _wait_for,
    _wait_listening,
    free_port,
    machine_busy_seconds,
    prepare_client,
    stop,
)

from roost import demo
from roost.auth import passwords, tokens
from roost.auth.principal import system
from roost.service import Service
from roost.store import SQLiteStore

EMAIL = "bench@example.com"
BROKER = 1883


async def seed(db: Path, thermostats: int) -> tuple[str, list[tuple[str, str]]]:
    """One user with two demo homes and more thermostats in them, ``thermostats`` in all (a
    user has at most three homes); a token, and each thermostat with the field its mode takes
    (the Bedroom is in heat-cool, every other heats)."""
    service = Service(SQLiteStore(db, synchronous="NORMAL"))
    await service.start()
    user = await service.store.create_user(EMAIL, passwords.hash_password(demo.PASSWORD))
    principal = system(user.id)
    found: list[tuple[str, str]] = []
    for n in range(2):
        home = demo.home(service.clock())
        living_room = home[1][1]
        extra = (thermostats // 2) - 2 + (thermostats % 2 if n else 0)
        created = await service.create_many(principal, home)
        found += [(created[1].id, "target"), (created[2].id, "target_low")]
        for start in range(0, extra, 100):
            more = await service.create_many(principal, [
                ("thermostats", {**living_room, "where_name": "Den"})
                for _ in range(min(100, extra - start))])
            found += [(obj.id, "target") for obj in more]
    token = tokens.new_token()
    await service.store.add_token(tokens.digest(token), user.id, tokens.FIRST_PARTY_CLIENT)
    await service.stop()
    service.store.close()
    return token, found


def start(db: Path, prefix: str, workdir: Path) -> Server:
    port = free_port()
    log = workdir / "roost.log"
    process = _spawn(["-m", "roost", "serve", "--no-simulate", "--db", str(db), "--host", HOST,
                      "--port", str(port), "--log-level", "warning",
                      "--mqtt", f"mqtt://{HOST}:{BROKER}", "--mqtt-user", EMAIL,
                      "--mqtt-prefix", prefix, "--mqtt-discovery-prefix", f"{prefix}-ha"], log)
    _wait_for(log, process, r"Roost serving", timeout=120)
    _wait_listening(port)
    return Server(process, port, db=db)


FIELDS = {"target": "target_temperature_c", "target_low": "target_temperature_low_c"}
# Two values each, taken in turn, the first unlike the demo's (21.0 and 20.0): every write
# changes its thermostat.
VALUES = {"target": (20.0, 21.0), "target_low": (19.0, 20.0)}


async def measure(server: Server, token: str, thermostats: list[tuple[str, str]],
                  prefix: str, rate: float, seconds: float) -> None:
    sent: dict[tuple[str, str], float] = {}
    to_answer: list[float] = []
    to_message: list[float] = []
    missed = 0
    async with aiomqtt.Client(HOST, BROKER) as mqtt:
        await mqtt.subscribe(f"{prefix}/+/target", qos=1)
        await mqtt.subscribe(f"{prefix}/+/target_low", qos=1)

        seen: set[str] = set()

        async def listen() -> None:
            async for message in mqtt.messages:
                seen.add(message.topic.value)
                assert isinstance(message.payload, bytes)
                key = (message.topic.value, message.payload.decode())
                at = sent.pop(key, None)
                if at is not None:
                    to_message.append(time.perf_counter() - at)

        listening = asyncio.create_task(listen())
        # The bridge's first publication of every entity comes first: wait until it is over.
        started = time.monotonic()
        while len(seen) < len(thermostats) and time.monotonic() - started < 300:
            await asyncio.sleep(0.1)
        print(f"every thermostat's set point seen after {time.monotonic() - started:.1f} s")
        await asyncio.sleep(2)
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(base_url=f"http://{HOST}:{server.port}", limits=limits,
                                     headers={"Authorization": f"Bearer {token}"},
                                     timeout=30) as http:
            async def write(n: int) -> None:
                id, topic = thermostats[n % len(thermostats)]
                value = VALUES[topic][(n // len(thermostats)) % 2]
                at = time.perf_counter()
                sent[(f"{prefix}/{id}/{topic}", str(value))] = at
                response = await http.put(f"/devices/thermostats/{id}",
                                          json={FIELDS[topic]: value})
                to_answer.append(time.perf_counter() - at)
                assert response.status_code == 200, response.text

            cpu, busy, began = server.cpu_seconds(), machine_busy_seconds(), time.monotonic()
            writes = []
            total = int(rate * seconds)
            for n in range(total):
                writes.append(asyncio.create_task(write(n)))
                await asyncio.sleep(max(0.0, began + (n + 1) / rate - time.monotonic()))
            await asyncio.gather(*writes)
            settle = time.monotonic()
            while sent and time.monotonic() - settle < 30:
                await asyncio.sleep(0.1)
            elapsed = time.monotonic() - began
            server_cpu = server.cpu_seconds() - cpu
            other = machine_busy_seconds() - busy - server_cpu
        missed = len(sent)
        listening.cancel()

    def pct(values: list[float], p: float) -> float:
        return statistics.quantiles(values, n=100)[p - 1] * 1000 if len(values) > 1 else 0

    print(f"{len(thermostats)} thermostats, {total} writes at {rate:g}/s over {seconds:g} s")
    print("| From sending the PUT to | p50 ms | p99 ms | max ms |")
    print("| --- | ---: | ---: | ---: |")
    for name, values in (("its 200 (baseline)", to_answer),
                         ("the MQTT state message", to_message)):
        print(f"| {name} | {pct(values, 50):.1f} | {pct(values, 99):.1f} | "
              f"{max(values, default=0) * 1000:.1f} |")
    print(f"p99 ratio MQTT / 200: {pct(to_message, 99) / pct(to_answer, 99):.2f}; "
          f"missed messages: {missed}; server CPU {server_cpu / total * 1000:.2f} ms per write "
          f"({server_cpu / elapsed:.0%} of a core); other load {other / elapsed:.2f} cores "
          "(the MQTT client and Mosquitto included)")


async def clear(prefix: str) -> None:
    """Remove the run's retained messages."""
    async with aiomqtt.Client(HOST, BROKER) as mqtt:
        await mqtt.subscribe(f"{prefix}/#")
        await mqtt.subscribe(f"{prefix}-ha/#")
        topics: set[str] = set()
        try:
            async with asyncio.timeout(2):
                async for message in mqtt.messages:
                    if message.retain and message.payload:
                        topics.add(message.topic.value)
        except TimeoutError:
            pass
        for topic in topics:
            await mqtt.publish(topic, b"", qos=1, retain=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--thermostats", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200, help="writes per second")
    parser.add_argument("--seconds", type=float, default=20)
    args = parser.parse_args()
    prepare_client()
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        token, thermostats = asyncio.run(seed(workdir / "roost.db", args.thermostats))
        server = start(workdir / "roost.db", prefix, workdir)
        try:
            asyncio.run(measure(server, token, thermostats, prefix, args.rate, args.seconds))
        finally:
            stop(server)
            asyncio.run(clear(prefix))


if __name__ == "__main__":
    main()
