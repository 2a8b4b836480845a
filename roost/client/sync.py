"""The blocking client."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Iterable, Iterator
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

T = TypeVar("T")
STREAM_READ = 90.0  # seconds without a byte before a stream counts as broken (3 keep-alives)


class Roost:
    """One server, one token::

        with Roost("http://127.0.0.1:8000", token) as roost:
            for t in roost.home().thermostats.values():
                roost.set_thermostat(t.device_id, {"target_temperature_f": 70})
            for event in roost.stream("/devices/thermostats/" + t.device_id):
                print(event.data)

    Refusals raise :class:`~roost.client.ApiError` with the server's error body.
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 10.0,
                 transport: httpx.BaseTransport | None = None,
                 verify: ssl.SSLContext | bool | str = True) -> None:
        self.url = url.rstrip("/")
        self.token = token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # Redirects followed: Nest's front door answered with a 307 to the serving host.
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout,
                                 follow_redirects=True, transport=transport,
                                 verify=calls.tls(verify))
        self.products = Products(self._run)
        self.sim = Sim(self._run)

    def __enter__(self) -> Roost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _run(self, call: Call[T]) -> T:
        try:
            response = self.http.request(call.method, call.path, json=call.body)
        except httpx.HTTPError as exc:
            raise Unreachable(f"cannot reach Roost at {self.url}: {exc}") from exc
        return calls.answer(call, response)

    # -- the data API ----------------------------------------------------------------------

    def request(self, method: str, path: str, body: Any = None) -> Any:
        """Any request to the server with this client's token: the answer's JSON (None when
        empty), or :class:`~roost.client.ApiError`."""
        return self._run(calls.Call(method, calls.location(path), body))

    def get(self, path: str) -> Any:
        """Any data location as JSON (``/devices/thermostats/ID/hvac_mode``)."""
        return self._run(calls.read(path))

    def put(self, path: str, values: dict[str, Any]) -> Any:
        """Write to a data location; the values written, as the server answers them."""
        return self._run(calls.write(path, values))

    def home(self) -> Home:
        return self._run(calls.home())

    def structures(self) -> dict[str, Structure]:
        return self._run(calls.structures())

    def structure(self, structure_id: str) -> Structure:
        return self._run(calls.structure(structure_id))

    def thermostat(self, device_id: str) -> Thermostat:
        return self._run(calls.thermostat(device_id))

    def protect(self, device_id: str) -> Protect:
        return self._run(calls.protect(device_id))

    def camera(self, device_id: str) -> Camera:
        return self._run(calls.camera(device_id))

    def set_thermostat(self, device_id: str, values: dict[str, Any]) -> Any:
        return self._run(calls.set_thermostat(device_id, values))

    def set_structure(self, structure_id: str, values: dict[str, Any]) -> Any:
        return self._run(calls.set_structure(structure_id, values))

    def set_camera(self, device_id: str, values: dict[str, Any]) -> Any:
        return self._run(calls.set_camera(device_id, values))

    def revoke(self, token: str | None = None) -> None:
        """Revoke a token (this client's own by default): its streams end with
        ``auth_revoked``, its requests get 401."""
        target = token or self.token
        if not target:
            raise ValueError("no token to revoke")
        self._run(calls.revoke(target))

    # -- streams -----------------------------------------------------------------------------

    def stream(self, path: str = "/", *, keepalive: bool = False,
               read_timeout: float = STREAM_READ) -> Iterator[Event]:
        """The location's events, first its whole value then each change, until the caller
        stops. ``keep-alive`` events only when ``keepalive``; ``auth_revoked`` raises
        :class:`TokenRevoked`."""
        timeout = httpx.Timeout(self.http.timeout.connect, read=read_timeout)
        headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
        try:
            with self.http.stream("GET", calls.location(path), headers=headers,
                                  timeout=timeout) as response:
                if response.status_code != 200:
                    response.read()
                    raise calls.refusal(response)
                parser = Parser()
                for line in response.iter_lines():
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

    def wait_for(self, path: str, condition: Callable[[Any], bool],
                 timeout: float = 10.0) -> Any:
        """Follow ``path`` until ``condition(value)`` holds for its value; that value. The
        value is the location's whole JSON, kept current as events arrive. Raises
        :class:`TimeoutError` after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        value: Any = None
        for event in self.stream(path, keepalive=True, read_timeout=timeout):
            if event.is_put:
                value = apply(value, event.path or "/", event.data)
                if condition(value):
                    return value
            if time.monotonic() > deadline:
                break
        raise TimeoutError(f"{path} did not reach the condition within {timeout:g} s; last "
                           f"value: {value!r}")


def apply(value: Any, path: str, data: Any) -> Any:
    """A ``put`` at ``path`` (relative to the stream's location) applied to ``value``."""
    keys = [k for k in path.split("/") if k]
    if not keys:
        return data
    root = dict(value) if isinstance(value, dict) else {}
    node = root
    for key in keys[:-1]:
        child = node.get(key)
        node[key] = dict(child) if isinstance(child, dict) else {}
        node = node[key]
    node[keys[-1]] = data
    return root


Runner = Callable[[Call[Any]], Any]


class Products:
    """The developer API: the caller's own products. Needs a full-access token."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def list(self) -> list[Product]:
        return self._run(calls.products())

    def get(self, client_id: str) -> Product:
        return self._run(calls.product(client_id))

    def create(self, name: str, permissions: Iterable[str], description: str = "",
               redirect_uri: str | None = None) -> Product:
        """A new product; its ``client_secret`` is in this answer only."""
        return self._run(calls.create_product(name, permissions, description, redirect_uri))

    def update(self, client_id: str, **changes: Any) -> Product:
        """Change name, description, redirect_uri (None: the PIN flow) or permissions."""
        if "permissions" in changes:
            changes["permissions"] = list(changes["permissions"])
        return self._run(calls.update_product(client_id, changes))

    def delete(self, client_id: str) -> None:
        self._run(calls.delete_product(client_id))


class Sim:
    """The simulator API (docs/simulator.md). Needs a full-access token."""

    def __init__(self, run: Runner) -> None:
        self._run = run

    def status(self) -> SimStatus:
        return self._run(calls.sim_status())

    def weather(self) -> Weather:
        return self._run(calls.weather())

    def set_weather(self, **changes: float | None) -> Weather:
        """``outdoor_c`` holds the outdoor temperature (None: back to the daily cycle);
        ``mean_c``, ``amplitude_c``, ``warmest_hour`` shape the cycle."""
        return self._run(calls.set_weather(changes))

    def alarm(self, device_id: str, scenario: str) -> Protect:
        """Play a Protect scenario: smoke-warning, smoke-emergency, co-warning,
        co-emergency, battery-replace, manual-test, clear."""
        return self._run(calls.alarm(device_id, scenario))

    def camera_event(self, device_id: str, kinds: Iterable[str] = ("motion",),
                     duration: float | None = None) -> Camera:
        """A camera sees ``kinds`` (motion, person, sound) for ``duration`` seconds."""
        return self._run(calls.camera_event(device_id, kinds, duration))

    def add_structure(self, **values: str) -> Structure:
        """name, time_zone, postal_code, country_code: each optional."""
        return self._run(calls.add_structure(values))

    def remove_structure(self, structure_id: str) -> None:
        self._run(calls.remove_structure(structure_id))

    def arrive(self, structure_id: str) -> Structure:
        return self._run(calls.arrive(structure_id))

    def depart(self, structure_id: str) -> Structure:
        return self._run(calls.depart(structure_id))

    def add_device(self, kind: str, structure_id: str, where: str | None = None,
                   label: str = "") -> dict[str, Any]:
        """kind: thermostat, smoke_co_alarm (or protect), camera. The device's JSON."""
        return self._run(calls.add_device(kind, structure_id, where, label))

    def remove_device(self, device_id: str) -> None:
        self._run(calls.remove_device(device_id))

    def set_online(self, device_id: str, online: bool) -> dict[str, Any]:
        return self._run(calls.set_online(device_id, online))
