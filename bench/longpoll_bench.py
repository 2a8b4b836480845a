"""Legacy long-polls: time from one write until every idle ``/v2/subscribe`` has answered.

Signs in to the legacy API of ``roost serve --demo`` (core 0) and holds ``--polls``
concurrent ``POST /v2/subscribe`` requests from one asyncio client (core 1; raw sockets, one
coroutine and one keep-alive connection per long-poll), each listing the demo Living Room
thermostat's ``shared``, ``device`` and ``schedule`` buckets and the structure at their
current versions, with ``X-nl-subscribe-timeout: 600``. With all of them idle it reads the
server's RSS, then PUTs a new target temperature through the Works with Nest API and
measures, from the moment the PUT's 200 arrives, when each long-poll's answer (the
``shared`` bucket, complete) has been read. Once all have, each long-poll subscribes again
with the new version, as unofficial-nest-api does, for the next of ``--rounds`` writes.

    python bench/longpoll_bench.py [--polls 2000] [--rounds 5] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import orjson
import servers
from fanout import Writer, _client_loop, percentile
from servers import HOST, Server

from roost import demo

OPEN_AT_ONCE = 100  # long-polls being opened concurrently
WRITE_TIMEOUT = 30.0  # seconds for one write to reach every long-poll
SETTLE = 2.0  # seconds to let the server go idle (every long-poll held) before measuring
HOLD = 600  # the subscribe timeout asked for, seconds
QUIET = 0.1  # cores of other load under which a round counts as undisturbed


@dataclass
class Round:
    latencies_ms: list[float]  # one per long-poll, from the PUT's 200 to its answer
    missed: int
    server_cpu_ms: float
    client_cpu_ms: float
    other: float  # cores used meanwhile by anything but the server and this client

    @property
    def all_ms(self) -> float:
        return max(self.latencies_ms, default=WRITE_TIMEOUT * 1000)


@dataclass
class Result:
    polls: int
    open_s: float
    baseline_kb: int
    rss_kb: int
    rounds: list[Round] = field(default_factory=list)

    @property
    def per_poll_kb(self) -> float:
        return (self.rss_kb - self.baseline_kb) / self.polls


class Session:
    """A legacy sign-in and the buckets a long-poll lists."""

    def __init__(self, server: Server) -> None:
        self.port = server.port
        self.device_id, _ = servers.living_room(server)
        with self._http() as http:
            session = http.post("/user/login", data={"username": demo.EMAIL,
                                                     "password": demo.PASSWORD})
            session.raise_for_status()
            self.token = session.json()["access_token"]
            self.user = session.json()["user"]

    def _http(self) -> httpx.Client:
        return httpx.Client(base_url=f"http://{HOST}:{self.port}", timeout=30)

    def watched(self) -> dict[str, int]:
        """The listed buckets and their versions now."""
        with self._http() as http:
            mobile = http.get(f"/v2/mobile/{self.user}",
                              headers={"Authorization": f"Basic {self.token}"}).json()
        structure = mobile["link"][self.device_id]["structure"]
        versions = {f"{kind}.{self.device_id}": mobile[kind][self.device_id]["$version"]
                    for kind in ("shared", "device", "schedule")}
        versions[structure] = mobile["structure"][structure.partition(".")[2]]["$version"]
        return versions

    def request(self, versions: dict[str, int]) -> bytes:
        body = orjson.dumps({"keys": [{"key": k, "version": v, "timestamp": 0}
                                      for k, v in versions.items()]})
        return (f"POST /v2/subscribe HTTP/1.1\r\nHost: {HOST}:{self.port}\r\n"
                f"Authorization: Basic {self.token}\r\nX-nl-protocol-version: 1\r\n"
                f"X-nl-subscribe-timeout: {HOLD}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode() + body


class Holder:
    """One coroutine per long-poll: answered → note the time → once every long-poll has
    its answer, subscribe again (unofficial-nest-api waits 2 s), so the measured window holds
    the answers alone, not the next round's requests."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.generation = 0  # the write being waited for
        self.arrivals: list[float] = []
        self.expected = 0
        self.done = asyncio.Event()
        self.again = asyncio.Event()  # set once a round is over
        self.sent = 0  # requests written, to know when all are out
        self.opening = asyncio.Semaphore(OPEN_AT_ONCE)
        self.tasks: list[asyncio.Task[None]] = []
        self.failures: list[str] = []

    def expect(self, count: int) -> None:
        self.generation += 1
        self.arrivals = []
        self.expected = count
        self.done.clear()
        self.again.clear()

    async def open(self, count: int) -> None:
        watched = self.session.watched()
        self.tasks += [asyncio.create_task(self._poll(watched)) for _ in range(count)]
        while self.sent < len(self.tasks) and not self.failures:
            await asyncio.sleep(0.05)
        if self.failures:
            raise RuntimeError(self.failures[0])

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def _poll(self, watched: dict[str, int]) -> None:
        versions = dict(watched)
        seen = self.generation
        async with self.opening:
            reader, writer = await asyncio.open_connection(HOST, self.session.port)
        try:
            while True:
                writer.write(self.session.request(versions))
                self.sent += 1
                head = await reader.readuntil(b"\r\n\r\n")
                headers = dict(line.split(b": ", 1) for line in head.split(b"\r\n")[1:-2])
                body = await reader.readexactly(int(headers.get(b"content-length", b"0")))
                arrived = time.perf_counter()
                key = headers.get(b"x-nl-skv-key", b"").decode()
                if not head.startswith(b"HTTP/1.1 200") or key not in versions or not body:
                    self.failures.append(f"unexpected answer: {head!r} {body[:200]!r}")
                    return
                versions[key] = int(headers[b"x-nl-skv-version"])
                if seen == self.generation:
                    # Another listed bucket the write changed, after subscribing again.
                    if not self.again.is_set():
                        self.failures.append(f"answered while idle: {head!r}")
                        return
                else:  # the first answer after this write
                    seen = self.generation
                    self.arrivals.append(arrived)
                    if len(self.arrivals) >= self.expected:
                        self.done.set()
                await self.again.wait()
        except Exception as exc:
            self.failures.append(repr(exc))
        finally:
            writer.close()


async def settle(server: Server) -> None:
    """Wait until the server has stopped working (every request read and held): its CPU time
    still for half a second and the process asleep, not waiting for the core, after at least
    SETTLE seconds. Other work on its core can hold it back for seconds."""
    await asyncio.sleep(SETTLE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        before = server.cpu_seconds()
        await asyncio.sleep(0.5)
        if server.cpu_seconds() - before < 0.02 and _state(server) == "S":
            return
    raise RuntimeError("the server did not go idle within a minute")


def _state(server: Server) -> str:
    """The main thread's scheduler state: R runnable, S asleep."""
    return Path(f"/proc/{server.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


async def measure(server: Server, polls: int, rounds: int, profile: Path | None) -> Result:
    session = Session(server)
    device_id, value = servers.living_room(server)
    writer = Writer(server, f"/devices/thermostats/{device_id}")

    async def write_round(holder: Holder, count: int) -> Round:
        nonlocal value
        value = value + 1 if value % 2 == 0 else value - 1  # alternate two values
        holder.expect(count)
        cpu, client = server.cpu_seconds(), time.process_time()
        busy, started = servers.machine_busy_seconds(), time.perf_counter()
        acked = writer.put(value)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(holder.done.wait(), WRITE_TIMEOUT)
        cpu, client = server.cpu_seconds() - cpu, time.process_time() - client
        other = (servers.machine_busy_seconds() - busy - cpu - client) / (
            time.perf_counter() - started)
        done = Round([(t - acked) * 1000 for t in holder.arrivals],
                     count - len(holder.arrivals), cpu * 1000, client * 1000, max(other, 0.0))
        holder.again.set()
        await settle(server)  # every long-poll subscribes again and is held
        if holder.failures:
            raise RuntimeError(holder.failures[0])
        return done

    # Warm up the paths, then start clean.
    warm = Holder(session)
    await warm.open(20)
    await settle(server)
    await write_round(warm, 20)
    await warm.close()
    await asyncio.sleep(SETTLE)
    baseline = server.rss_kb()
    print(f"server pid {server.pid}, RSS with no long-polls {baseline / 1024:.1f} MiB",
          flush=True)

    holder = Holder(session)
    started = time.perf_counter()
    await holder.open(polls)
    open_s = time.perf_counter() - started
    await settle(server)
    if holder.failures:
        raise RuntimeError(holder.failures[0])
    result = Result(polls, open_s, baseline, server.rss_kb())
    print(f"{polls} long-polls sent in {open_s:.1f} s, idle; RSS {result.rss_kb / 1024:.1f} "
          f"MiB, {result.per_poll_kb:.1f} KiB per long-poll", flush=True)
    with servers.profiled(server, profile and profile / f"longpoll-{polls}.txt"):
        for n in range(rounds):
            r = await write_round(holder, polls)
            result.rounds.append(r)
            print(f"  round {n + 1}: all answered in {r.all_ms:.0f} ms (p50 "
                  f"{percentile(r.latencies_ms, 50):.0f}, p99 "
                  f"{percentile(r.latencies_ms, 99):.0f}), missed {r.missed}, CPU server "
                  f"{r.server_cpu_ms:.0f} ms, client {r.client_cpu_ms:.0f} ms, other load "
                  f"{r.other:.2f} cores", flush=True)
    await holder.close()
    if holder.failures:
        raise RuntimeError(holder.failures[0])
    return result


def table(result: Result) -> str:
    rows = ["| Round | All answered | p50 | p99 | max | Missed | CPU: server | client | "
            "Other load |",
            "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for n, r in enumerate(result.rounds, start=1):
        rows.append(f"| {n} | {r.all_ms:.0f} ms | {percentile(r.latencies_ms, 50):.0f} ms | "
                    f"{percentile(r.latencies_ms, 99):.0f} ms | {max(r.latencies_ms):.0f} ms | "
                    f"{r.missed} of {result.polls:,} | {r.server_cpu_ms:.0f} ms | "
                    f"{r.client_cpu_ms:.0f} ms | {r.other:.2f} cores |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=2000, help="concurrent long-polls")
    parser.add_argument("--rounds", type=int, default=5, help="writes, each answering all")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="sample the server with py-spy during the writes; stacks go here")
    args = parser.parse_args()
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    servers.prepare_client()
    with (tempfile.TemporaryDirectory(prefix="roost-longpoll-") as tmp,
          servers.running(servers.start_roost(Path(tmp))) as roost,
          asyncio.Runner(loop_factory=_client_loop()) as runner):
        result = runner.run(measure(roost, args.polls, args.rounds, args.profile))
    print()
    print(f"{result.polls:,} long-polls; server RSS idle {result.rss_kb / 1024:.0f} MiB, "
          f"{result.per_poll_kb:.1f} KiB per long-poll over {result.baseline_kb / 1024:.0f} MiB")
    print(table(result))
    quiet = [r for r in result.rounds if r.other <= QUIET]
    print(f"\n{len(quiet)} of {len(result.rounds)} rounds undisturbed (other load <= "
          f"{QUIET} cores)")
    for name, rounds in (("undisturbed", quiet), ("all rounds", result.rounds)):
        if rounds:
            worst = max(r.all_ms for r in rounds)
            median = statistics.median(r.all_ms for r in rounds)
            print(f"{name}: all {result.polls:,} answered after a write in median "
                  f"{median:.0f} ms, worst {worst:.0f} ms (target <= 1,000 ms: "
                  f"{'met' if worst <= 1000 else 'missed'})")


if __name__ == "__main__":
    main()
