"""A Python client for Roost's APIs: the Works with Nest data API (reads, writes, streams),
the developer API (products), the simulator API and token revocation. Sync
(:class:`Roost`) and asyncio (:class:`AsyncRoost`), on httpx.

It imports nothing else of Roost, so an integration's tests can use it against any server
(``docs/testing-with-roost.md``)."""

from roost.client.aio import AsyncRoost
from roost.client.errors import ApiError, RoostError, TokenRevoked, Unreachable
from roost.client.objects import (
    Camera,
    CameraEvent,
    Home,
    Product,
    Protect,
    SimStatus,
    Structure,
    Thermostat,
    Weather,
)
from roost.client.sse import Event
from roost.client.sync import Roost

__all__ = ["ApiError", "AsyncRoost", "Camera", "CameraEvent", "Event", "Home", "Product",
           "Protect", "Roost", "RoostError", "SimStatus", "Structure", "Thermostat",
           "TokenRevoked", "Unreachable", "Weather"]
