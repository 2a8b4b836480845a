"""Nest's device protocol: real Nest thermostats (Gen 1/2 running Nest's own client, pointed
at Roost by the NoLongerEvil firmware) living in a Roost home (docs/devices.md,
shared spec device-protocol.md).

``entry`` (first contact and the entry key), ``claims`` (a user claiming a device),
``subscribe`` (the chunked long-poll), ``put`` (the device's writes), ``registry`` (every
device's buckets and their sync with the home), ``buckets`` (what the buckets mean for the
thermostat), ``identity`` (which device calls), ``errors``.

The device's paths live under ``/nest`` (and ``/entry``, where the firmware's flashed URL
points), never among Works with Nest data locations; ``--device-port`` serves them alone.
"""

from __future__ import annotations

from starlette.routing import BaseRoute, Route

from roost.device.claims import Pairings
from roost.device.entry import PREFIX, TRANSPORT, Entry, ping, upload, weather
from roost.device.errors import DeviceError
from roost.device.put import Put
from roost.device.registry import Registry
from roost.device.subscribe import Subscribe
from roost.http.guard import guarded


def _route(path: str, endpoint: object, *methods: str) -> Route:
    return Route(path, guarded(DeviceError, methods)(endpoint),  # type: ignore[arg-type]
                 methods=list(methods))


def routes(registry: Registry, device_origin: str | None) -> list[BaseRoute]:
    """What a thermostat calls."""
    entry = Entry(registry, device_origin)
    put = Put(registry)
    return [
        _route("/entry", entry.entry, "GET", "POST"),
        _route(f"{PREFIX}/passphrase", entry.passphrase, "GET", "POST"),
        _route(f"{TRANSPORT}/v7/subscribe", Subscribe(registry), "POST"),
        _route(f"{TRANSPORT}/v7/put", put.put, "POST"),
        _route(f"{TRANSPORT}/v7/device/{{key:path}}", put.objects, "GET"),
        _route(TRANSPORT, ping, "GET"),
        _route(f"{PREFIX}/ping", ping, "GET"),
        _route(f"{PREFIX}/upload", upload, "POST"),
        _route(f"{PREFIX}/weather/v1", weather, "GET"),
    ]


def api_routes(registry: Registry) -> list[BaseRoute]:
    """What a user's own app calls: claiming a device."""
    return [_route("/api/v1/pairings", Pairings(registry).create, "POST")]


__all__ = ["Registry", "api_routes", "routes"]
