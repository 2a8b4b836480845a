"""Long-polls: ``/v2/subscribe`` (keys) and ``/v5``, ``/v6/subscribe`` (objects).

A request lists buckets with the ``$version`` the client holds. Any listed bucket whose
version differs, or that was listed without one, is answered at once: ``/v2`` answers the
first such bucket alone, its value as the body and its key, version and timestamp in
``X-nl-skv-*`` headers; the object form answers all of them. When every listed bucket is as
the client holds it, the request waits for the user's next change and looks again, until one
of them differs or the timeout passes; then ``/v2`` answers 200 with an empty body and the
object form ``{"objects": []}``.

A key that names no bucket of the user (``energy_latest``, which Roost does not model, or
another user's device) is never answered, with or without a version: it waits like an
unchanged bucket. unofficial-nest-api lists ``energy_latest`` in every subscribe; answering
it at once would have it subscribe again every two seconds, forever.

The timeout is the body's ``timeout`` or else the ``X-nl-subscribe-timeout`` header, in
seconds, capped at :data:`MAX_TIMEOUT`; :data:`DEFAULT_TIMEOUT` when neither is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import Receive

from roost.auth.principal import Principal
from roost.clock import millis
from roost.http.body import read_body
from roost.legacy import auth, snapshot
from roost.legacy.errors import invalid_request, route
from roost.legacy.snapshot import Entry, Snapshot
from roost.model.numbers import is_number
from roost.service import Service

DEFAULT_TIMEOUT = 60.0  # seconds: unofficial-nest-api's own, and the spec's advice
MAX_TIMEOUT = 600.0  # ha-nest-protect's; homebridge-nest-cam asks up to 1,100 s
# Object-form clients send back every bucket they hold, values included (homebridge-nest
# 3.x, homebridge-nest-cam): a whole home's, well past the limit for a write.
MAX_BODY = 1024 * 1024
NO_STORE = {"Cache-Control": "no-store"}

Changed = list[tuple[str, Entry]]  # (bucket key, its entry now), in the order listed


@dataclass(frozen=True, slots=True)
class Held:
    """A bucket the client holds; ``version`` None asks for it at once."""

    key: str
    version: int | None


def changed(snap: Snapshot, held: list[Held]) -> Changed:
    """The listed buckets of the user that differ from what the client holds."""
    found = []
    for item in held:
        entry = snap.get(item.key)
        if entry is not None and entry.version != item.version:
            found.append((item.key, entry))
    return found


def routes(service: Service) -> list[BaseRoute]:
    polls = LongPolls(service)
    return [
        *(route(f"/v{n}/subscribe", polls.keys, "POST") for n in (1, 2)),
        *(route(f"/v{n}/subscribe", polls.objects, "POST") for n in (5, 6)),
    ]


class LongPolls:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.projection = snapshot.of(service)

    async def keys(self, request: Request) -> Response:
        """``POST /v2/subscribe`` ``{"keys": [{"key", "version", "timestamp"}, ...]}``."""
        principal = await auth.principal(self.service, request)
        body = await read_body(request, MAX_BODY)
        held = _held(body, "keys", "key", "version", "timestamp")
        found = await self.wait(request, principal, held, timeout(request, body))
        headers = {**NO_STORE, "X-nl-service-timestamp": str(self._now_ms())}
        if not found:
            return Response(b"", headers=headers)
        key, entry = found[0]
        headers.update({"X-nl-skv-key": key, "X-nl-skv-version": str(entry.version),
                        "X-nl-skv-timestamp": str(entry.timestamp)})
        return Response(orjson.dumps(entry.value), headers=headers,
                        media_type="application/json")

    async def objects(self, request: Request) -> Response:
        """``POST /v5/subscribe`` ``{"objects": [{"object_key", "object_revision",
        "object_timestamp"}, ...], "timeout"?}``; a ``value`` sent along is ignored."""
        principal = await auth.principal(self.service, request)
        body = await read_body(request, MAX_BODY)
        held = _held(body, "objects", "object_key", "object_revision", "object_timestamp")
        found = await self.wait(request, principal, held, timeout(request, body))
        answer = {"objects": [entry.object(key) for key, entry in found]}
        return Response(orjson.dumps(answer), media_type="application/json",
                        headers={**NO_STORE, "X-nl-service-timestamp": str(self._now_ms())})

    async def wait(self, request: Request, principal: Principal, held: list[Held],
                   seconds: float) -> Changed:
        """What changed of ``held``, at once or after waiting up to ``seconds``; empty when
        nothing did, the server is stopping or the client has gone. LegacyError 401 when the
        request's token is revoked or ends meanwhile."""
        user_id = principal.user_id
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        gone: asyncio.Future[None] | None = None
        try:
            while True:
                # Cached per user and state of the home: thousands of waiters woken by one
                # commit compute the user's buckets once.
                found = changed(await self.projection.snapshot(user_id), held)
                left = deadline - loop.time()
                if found or left <= 0 or self.service.stopping:
                    return found
                if gone is None:
                    gone = asyncio.ensure_future(_disconnected(request.receive))
                await asyncio.wait((self.service.changed(user_id), gone), timeout=left,
                                   return_when=asyncio.FIRST_COMPLETED)
                if gone.done():
                    return []  # nobody left to answer
                await self.service.authenticate(principal.token)  # revoked or ended: 401
        finally:
            if gone is not None:
                gone.cancel()

    def _now_ms(self) -> int:
        return millis(self.service.clock())


def timeout(request: Request, body: dict[str, Any]) -> float:
    """Seconds to hold: the body's ``timeout``, else ``X-nl-subscribe-timeout``, capped."""
    raw = body.get("timeout", request.headers.get("x-nl-subscribe-timeout"))
    if raw is None:
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw) if isinstance(raw, int | float | str) and \
            not isinstance(raw, bool) else math.nan
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise invalid_request(f"the subscribe timeout must be a number of seconds, "
                              f"not {orjson.dumps(raw).decode()}")
    return min(seconds, MAX_TIMEOUT)


def _held(body: Any, field: str, key: str, version: str, stamp: str) -> list[Held]:
    """The buckets listed under ``field``, each once (the first listing wins)."""
    items = body.get(field) if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise invalid_request(f'the body needs {field}: a list of {{"{key}", "{version}", '
                              f'"{stamp}"}}')
    held: dict[str, Held] = {}
    for item in items:
        name = item.get(key) if isinstance(item, dict) else None
        if not isinstance(name, str) or not name:
            raise invalid_request(f'every entry of {field} needs a "{key}": "<type>.<id>"')
        number = _integer(item.get(version), f"{version} of {name}")
        _integer(item.get(stamp), f"{stamp} of {name}", whole=False)
        held.setdefault(name, Held(name, number))
    return list(held.values())


def _integer(value: Any, what: str, whole: bool = True) -> int | None:
    """A version (a whole number) or a timestamp (any number); None when absent."""
    if value is None:
        return None
    number = is_number(value) and math.isfinite(value)
    if not number or (whole and not float(value).is_integer()):
        # Numbers, not strings: unofficial-nest-api found Nest strict about this.
        kind = "a whole number" if whole else "a number"
        raise invalid_request(f"{what} must be {kind}, not {orjson.dumps(value).decode()}")
    return int(value)


async def _disconnected(receive: Receive) -> None:
    """Done when the client closes the connection: the body has been read, so the next
    message is the disconnect."""
    with contextlib.suppress(Exception):
        while (await receive())["type"] != "http.disconnect":
            pass

