"""Running the app under uvicorn: the serving port, and optionally the 307 front door; or the
front door of several processes alone (``roost door``)."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.config import LOG_LEVELS
from uvicorn.logging import DefaultFormatter
from uvicorn.protocols.http.auto import AutoHTTPProtocol

from roost.api.redirect import FrontDoor
from roost.http.deadline import HEADER_TIMEOUT, with_header_deadline
from roost.http.redact import redact
from roost.store import is_database_url


class RedactTokens(logging.Filter):
    """Access logs show paths with their query; no secret in one may reach a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        return True


@dataclass(frozen=True)
class DevicePort:
    """Where thermostats call (``--device-port``), with TLS for custom-CA firmware builds."""

    port: int
    certfile: str | None = None
    keyfile: str | None = None


class _Server(uvicorn.Server):
    """One of the process's listeners. Signals reach only the last server that installed its
    handlers, so each exit request is passed to every listener. Open streams and long-polls
    end as soon as shutdown begins: uvicorn waits for running responses before it runs the
    lifespan shutdown, so they must not be left to run until then."""

    def __init__(self, config: uvicorn.Config, peers: list[_Server],
                 on_shutdown: Callable[[], None] = lambda: None) -> None:
        super().__init__(config)
        self.peers = peers
        self.on_shutdown = on_shutdown
        peers.append(self)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        for server in self.peers:
            uvicorn.Server.handle_exit(server, sig, frame)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        self.on_shutdown()
        await super().shutdown(sockets)


def _log_events(log_level: str) -> None:
    """Roost's own events (alarms, Home/Away Assist, refused writes) on the server's log,
    beside uvicorn's lines and in their format."""
    logger = logging.getLogger("roost")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(DefaultFormatter("%(levelprefix)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(LOG_LEVELS.get(log_level.lower(), logging.INFO))


def serve(app: Starlette, host: str, port: int, redirect_port: int | None = None,
          log_level: str = "info", certfile: str | None = None,
          keyfile: str | None = None, device: DevicePort | None = None,
          forwarded_allow_ips: str = "", header_timeout: float = HEADER_TIMEOUT) -> None:
    """Serve ``app`` on ``port``, over TLS when given a certificate and its key (the front
    door stays plain HTTP and sends clients on to https); with ``device``, the device
    protocol on a port of its own, plain HTTP unless it has a certificate of its own.
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only from
    ``forwarded_allow_ips`` (comma-separated addresses or networks; none by default): anyone
    else could name any address and so escape the sign-in throttle."""
    common = _listening(host, log_level, forwarded_allow_ips, header_timeout)
    servers: list[_Server] = []
    _Server(uvicorn.Config(app, port=port, lifespan="on", ssl_certfile=certfile,
                           ssl_keyfile=keyfile, **common), servers,
            on_shutdown=app.state.service.end_streams)
    if redirect_port is not None and is_database_url(app.state.settings.db):
        # Shared by several processes: each token to the process serving its home.
        _Server(uvicorn.Config(_door(app.state.settings.db), port=redirect_port,
                               lifespan="on", **common), servers)
    elif redirect_port is not None:
        serving = servers[0]

        async def authenticate(token: str | None) -> None:
            # The door listens at once; a request that beats the serving port's startup waits
            # for the store to open before its token is looked up.
            while not serving.started:
                await asyncio.sleep(0.02)
            await app.state.service.authenticate(token, here=False)

        door = FrontDoor(port, "https" if certfile else "http",
                         host=None if host in ("0.0.0.0", "::") else host,
                         authenticate=authenticate)
        _Server(uvicorn.Config(door, port=redirect_port, lifespan="off", **common), servers)

    if device is not None:
        serving = servers[0]

        async def device_app(scope: Scope, receive: Receive, send: Send) -> None:
            while not serving.started:  # the registry starts with the serving port
                await asyncio.sleep(0.02)
            await app.state.device_app(scope, receive, send)

        # An idle connection outlives the hold: the device reuses it for its next call.
        _Server(uvicorn.Config(device_app, port=device.port, lifespan="off",
                               ssl_certfile=device.certfile, ssl_keyfile=device.keyfile,
                               timeout_keep_alive=int(app.state.settings.device_hold) + 60,
                               **common), servers)

    _run(servers)


def serve_door(db: str, host: str, port: int, log_level: str = "info",
               forwarded_allow_ips: str = "", header_timeout: float = HEADER_TIMEOUT) -> None:
    """Serve the front door alone (``roost door``): no home in memory, only the slots'
    owners and the tokens read from the database ``db``."""
    common = _listening(host, log_level, forwarded_allow_ips, header_timeout)
    servers: list[_Server] = []
    _Server(uvicorn.Config(_door(db), port=port, lifespan="on", **common), servers)
    _run(servers)


def _door(db: str) -> ASGIApp:
    from roost.api.door import Door  # needs psycopg, an extra: imported only for PostgreSQL

    return Door(db)


def _listening(host: str, log_level: str, forwarded_allow_ips: str,
               header_timeout: float) -> dict[str, Any]:
    """What every listener of the process shares, with the logging set up for it."""
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    _log_events(log_level)
    # uvicorn formats every access line's arguments before the logger drops them; when the
    # level hides them, not asking for them saves about 5 % of each request's CPU.
    access_log = LOG_LEVELS.get(log_level.lower(), logging.INFO) <= logging.INFO
    return {"host": host, "log_level": log_level, "timeout_graceful_shutdown": 5,
            "access_log": access_log,
            "proxy_headers": bool(forwarded_allow_ips.strip()),
            "forwarded_allow_ips": forwarded_allow_ips.strip() or None,
            "http": with_header_deadline(AutoHTTPProtocol, header_timeout)}


def _run(servers: list[_Server]) -> None:
    async def run_all() -> None:
        await asyncio.gather(*(s.serve() for s in servers))

    # A server allocates many short-lived objects per request and per stream event; with the
    # default thresholds the collector ran for over a quarter of fan-out time (docs/benchmarks.md).
    gc.set_threshold(50_000, 20, 20)
    # uvicorn's own choice of loop: uvloop where installed.
    with asyncio.Runner(loop_factory=servers[0].config.get_loop_factory()) as runner:
        runner.run(run_all())
