"""The asyncio client: :class:`~roost.client.sync.Roost`'s methods, awaited."""

from __future__ import annotations

import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any, TypeVar

import httpx

from roost.client import calls
from roost.client.calls import Call
from roost.client.errors import TokenRevoked, Unreachable
from roost.client.objects import (
    Camera,
    Home,
    Product,
    Protect,
    SimStatus,
    Structure,
    Thermostat,
    Weather,
)
from roost.client.sse import AUTH_REVOKED, KEEP_ALIVE, Event, Parser
from roost.client.sync import STREAM_READ, apply

T = TypeVar("T")


class AsyncRoost:
    """One server, one token, for asyncio code::

        async with AsyncRoost(url, token) as roost:
            home = await roost.home()
            async for event in roost.stream("/structures"):
                ...
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0,
                 transport: httpx.AsyncBaseTransport | None = None,
                 verify: ssl.SSLContext | bool | str = True) -> None:
        self.url = url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.AsyncClient(base_url=self.url, headers=headers, timeout=timeout,
                                      follow_redirects=True, transport=transport,
                                      verify=calls.tls(verify))
        self.products = AsyncProducts(self._run)
        self.sim = AsyncSim(self._run)

    async def __aenter__(self) -> AsyncRoost:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.aclose()

    async def _run(self, call: Call[T]) -> T:
        try:
            response = await self.http.request(call.method, call.path, json=call.body)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach Roost at {self.url}: {exc}") from exc
        return calls.answer(call, response)

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """Any request to the server with this client's token: the answer's JSON (None when
        empty), or :class:`~roost.client.ApiError`."""
        return await self._run(calls.Call(method, calls.location(path), body))

    async def get(self, path: str) -> Any:
        return await self._run(calls.read(path))

    async def put(self, path: str, values: dict[str, Any]) -> Any:
        return await self._run(calls.write(path, values))

    async def home(self) -> Home:
        return await self._run(calls.home())

    async def structures(self) -> dict[str, Structure]:
        return await self._run(calls.structures())

    async def structure(self, structure_id: str) -> Structure:
        return await self._run(calls.structure(structure_id))

    async def thermostat(self, device_id: str) -> Thermostat:
        return await self._run(calls.thermostat(device_id))

    async def protect(self, device_id: str) -> Protect:
        return await self._run(calls.protect(device_id))

    async def camera(self, device_id: str) -> Camera:
        return await self._run(calls.camera(device_id))

    async def set_thermostat(self, device_id: str, values: dict[str, Any]) -> Any:
        return await self._run(calls.set_thermostat(device_id, values))

    async def set_structure(self, structure_id: str, values: dict[str, Any]) -> Any:
        return await self._run(calls.set_structure(structure_id, values))

    async def set_camera(self, device_id: str, values: dict[str, Any]) -> Any:
        return await self._run(calls.set_camera(device_id, values))

    async def revoke(self, token: str | None = None) -> None:
        target = token or self.token
        if not target:
            raise ValueError("no token to revoke")
        await self._run(calls.revoke(target))

    async def stream(self, path: str = "/", *, keepalive: bool = False,
                     read_timeout: float = STREAM_READ) -> AsyncIterator[Event]:
        timeout = httpx.Timeout(self.http.timeout.connect, read=read_timeout)
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        try:
            async with self.http.stream("GET", calls.location(path), headers=headers,
                                        timeout=timeout) as response:
                if response.status_code != 200:
                    await response.aread()
                    raise calls.refusal(response)
                parser = Parser()
                async for line in response.aiter_lines():
                    event = parser.feed(line)
                    if event is None:
                        continue
                    if event.event == AUTH_REVOKED:
                        raise TokenRevoked(f"the token was revoked while streaming {path}")
                    if event.event != KEEP_ALIVE or keepalive:
                        yield event
        except httpx.TimeoutException as exc:
            raise TimeoutError(f"nothing arrived on {path} for {read_timeout:g} s") from exc
        except httpx.HTTPError as exc:
            raise Unreachable(f"the stream of {path} broke: {exc}") from exc

    async def wait_for(self, path: str, condition: Callable[[Any], bool],
                       timeout: float = 10.0) -> Any:
        deadline = time.monotonic() + timeout
        value: Any = None
        async for event in self.stream(path, keepalive=True, read_timeout=timeout):
            if event.is_put:
                value = apply(value, event.path or "/", event.data)
                if condition(value):
                    return value
            if time.monotonic() > deadline:
                break
        raise TimeoutError(f"{path} did not reach the condition within {timeout:g} s; last "
                           f"value: {value!r}")


Runner = Callable[[Call[Any]], Awaitable[Any]]


class AsyncProducts:
    def __init__(self, run: Runner) -> None:
        self._run = run

    async def list(self) -> list[Product]:
        return await self._run(calls.products())

    async def get(self, client_id: str) -> Product:
        return await self._run(calls.product(client_id))

    async def create(self, name: str, permissions: Iterable[str], description: str = "",
                     redirect_uri: str | None = None) -> Product:
        return await self._run(calls.create_product(name, permissions, description,
                                                    redirect_uri))

    async def update(self, client_id: str, **changes: Any) -> Product:
        if "permissions" in changes:
            changes["permissions"] = list(changes["permissions"])
        return await self._run(calls.update_product(client_id, changes))

    async def delete(self, client_id: str) -> None:
        await self._run(calls.delete_product(client_id))


class AsyncSim:
    def __init__(self, run: Runner) -> None:
        self._run = run

    async def status(self) -> SimStatus:
        return await self._run(calls.sim_status())

    async def weather(self) -> Weather:
        return await self._run(calls.weather())

    async def set_weather(self, **changes: float | None) -> Weather:
        return await self._run(calls.set_weather(changes))

    async def alarm(self, device_id: str, scenario: str) -> Protect:
        return await self._run(calls.alarm(device_id, scenario))

    async def camera_event(self, device_id: str, kinds: Iterable[str] = ("motion",),
                           duration: float | None = None) -> Camera:
        return await self._run(calls.camera_event(device_id, kinds, duration))

    async def add_structure(self, **values: str) -> Structure:
        return await self._run(calls.add_structure(values))

    async def remove_structure(self, structure_id: str) -> None:
        await self._run(calls.remove_structure(structure_id))

    async def arrive(self, structure_id: str) -> Structure:
        return await self._run(calls.arrive(structure_id))

    async def depart(self, structure_id: str) -> Structure:
        return await self._run(calls.depart(structure_id))

    async def add_device(self, kind: str, structure_id: str, where: str | None = None,
                         label: str = "") -> dict[str, Any]:
        return await self._run(calls.add_device(kind, structure_id, where, label))

    async def remove_device(self, device_id: str) -> None:
        await self._run(calls.remove_device(device_id))

    async def set_online(self, device_id: str, online: bool) -> dict[str, Any]:
        return await self._run(calls.set_online(device_id, online))
