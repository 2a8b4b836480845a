"""A load at a fixed rate, as many independent clients make it (an open model).

wrk sends each connection's next request as soon as the last is answered, so it takes every
bit of the server it can get: the right tool for the most a server can do, not for "is the
server still fine while N requests a second come in". Here request i is due at
``start + i / rate`` whatever happened before it, and its latency runs from that due time
(so a stalled server is charged for the requests that queued behind the stall, not only the
one in flight).

Requests rotate over ``targets`` (token, path); every ``put_every``-th one is a PUT of
``body(n)``, the rest GETs. Runs on uvloop when installed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CONNECTIONS = 32  # enough that a stall of the server does not stall the schedule


@dataclass
class Paced:
    sent: int = 0
    failed: int = 0  # non-2xx answers and broken connections
    latencies_ms: list[float] = field(default_factory=list)
    behind_ms: float = 0.0  # how late the last request left: the client's own lag


async def _client(host: str, port: int, requests: Callable[[int], bytes], rate: float,
                  start: float, until: float, counter: list[int], out: Paced) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while True:
            n = counter[0]
            counter[0] += 1
            due = start + n / rate
            if due >= until:
                return
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            out.behind_ms = max(0.0, (time.perf_counter() - due) * 1000)
            writer.write(requests(n))
            status = await _response(reader)
            out.sent += 1
            out.latencies_ms.append((time.perf_counter() - due) * 1000)
            if not 200 <= status < 300:
                out.failed += 1
    except (ConnectionError, asyncio.IncompleteReadError):
        out.failed += 1
    finally:
        writer.close()


async def _response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = next((int(line.split(":", 1)[1]) for line in lines[1:]
                   if line.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return status


def request_maker(host: str, port: int, targets: list[tuple[str, str]], put_every: int,
                  body: Callable[[int], bytes]) -> Callable[[int], bytes]:
    def make(n: int) -> bytes:
        token, path = targets[n % len(targets)]
        head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\n"
        if put_every and n % put_every == 0:
            payload = body(n)
            return (f"PUT {path} HTTP/1.1\r\n{head}Content-Type: application/json\r\n"
                    f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        return f"GET {path} HTTP/1.1\r\n{head}\r\n".encode()

    return make


def run(host: str, port: int, requests: Callable[[int], bytes], rate: float,
        seconds: float) -> Paced:
    """Send ``rate`` requests a second for ``seconds``; wait for every answer."""
    async def go() -> Paced:
        out, counter = Paced(), [0]
        start = time.perf_counter() + 0.2
        until = start + seconds
        await asyncio.gather(*(_client(host, port, requests, rate, start, until, counter, out)
                               for _ in range(CONNECTIONS)))
        return out

    try:
        import uvloop
    except ImportError:
        return asyncio.run(go())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(go())
