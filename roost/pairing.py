"""Claiming a real thermostat (the device protocol, roost/device/) for a user's home.

The thermostat shows an entry key; whoever types it in owns the device. :func:`claim` is the
one way to do that, shared by every place a user claims from (the command line, the pairing
API, the web page): it gives the device showing the key to the user in the store (recording
an account event, so a running server learns of a claim the command line made) and then,
in a running server, :func:`attach` makes it a thermostat of the user's structure with
``Service.create``. A claim made while no server runs is attached when one starts.

Entry keys are compared by their SHA-256 digest, the only form stored; failed claims are
throttled per user, so the 7-character key cannot be guessed online.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import time
import weakref
from dataclasses import dataclass

from roost import errors
from roost.auth.principal import system
from roost.clock import millis
from roost.model.home import Obj
from roost.service import Service
from roost.store.base import Conflict
from roost.store.records import DeviceRecord

FAILURES_ALLOWED = 10  # wrong keys per user and window before claims are refused for a while
FAILURE_WINDOW = 600.0  # seconds
ROOM = "Hallway"  # where a claimed thermostat is put; the user moves it in the Nest app
HOME_NAME = "Home"  # the structure made for a user who has none


@dataclass(frozen=True)
class Claimed:
    serial: str
    device_id: str
    structure_id: str


class ClaimRefused(Exception):
    """A claim that cannot go ahead: ``status`` 404 (no device shows that key, or it
    expired), 409 (claimed already) or 429 (too many wrong keys)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def key_digest(entry_key: str) -> str:
    """What the store keeps of an entry key: dashes and case do not count (``123-abcd``)."""
    cleaned = "".join(c for c in entry_key.upper() if c.isalnum())
    return hashlib.sha256(cleaned.encode()).hexdigest()


_failures: dict[str, list[float]] = {}
# One attach at a time per service: the claimant and the claim's account event both ask.
_attaching: weakref.WeakKeyDictionary[Service, asyncio.Lock] = weakref.WeakKeyDictionary()


def _throttled(user_id: str) -> bool:
    now = time.monotonic()
    recent = [t for t in _failures.get(user_id, []) if now - t < FAILURE_WINDOW]
    _failures[user_id] = recent
    return len(recent) >= FAILURES_ALLOWED


async def record_claim(service: Service, user_id: str, entry_key: str,
                       structure_id: str | None = None) -> DeviceRecord:
    """Give the device showing ``entry_key`` to the user, in the store only (what the command
    line does; the server attaches it). ClaimRefused when it cannot be."""
    if _throttled(user_id):
        raise ClaimRefused(429, "too many wrong entry keys; try again later")
    if structure_id is not None:
        found = service.home.get("structures", structure_id)
        if found is None or found.user_id != user_id:
            raise ClaimRefused(404, f"no structure {structure_id}")
    now_ms = millis(service.clock())
    try:
        record = await service.store.claim_device(key_digest(entry_key), now_ms, user_id,
                                                  structure_id)
    except Conflict:
        raise ClaimRefused(409, "that device is already claimed") from None
    if record is None:
        _failures.setdefault(user_id, []).append(time.monotonic())
        raise ClaimRefused(404, "no device shows that entry key, or it has expired")
    return record


async def claim(service: Service, user_id: str, entry_key: str,
                structure_id: str | None = None) -> Claimed:
    """Claim the device showing ``entry_key`` for the user and make it a thermostat of the
    structure (the user's first one, or a new one if they have none)."""
    record = await record_claim(service, user_id, entry_key, structure_id)
    return await attach(service, record.serial)


def device_id_for(service: Service, serial: str) -> str:
    """The thermostat's WWN id: stable for a serial, and not the serial (which the device
    shows and which an id would otherwise hand to every product)."""
    mac = hmac.new(service.secret.encode(), b"device:" + serial.encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


async def attach(service: Service, serial: str) -> Claimed:
    """Make the claimed device a thermostat of its owner's home, once: a second call (the
    account event of a claim this process made) finds it made."""
    async with _attaching.setdefault(service, asyncio.Lock()):
        record = await service.store.device(serial)
        if record is None or record.user_id is None:
            raise ClaimRefused(404, f"device {serial} is not claimed")
        thermostat = service.home.get("thermostats", record.device_id or "")
        if thermostat is not None and thermostat.user_id == record.user_id:
            return Claimed(serial, thermostat.id, thermostat.structure_id)
        principal = system(record.user_id)
        structure = _structure(service, record.user_id, record.structure_id)
        if structure is None:
            structure = await service.create(principal, "structures", {"name": HOME_NAME})
        device_id = device_id_for(service, serial)
        if service.home.get("thermostats", device_id) is None:
            await service.create(principal, "thermostats", {
                "structure_id": structure.id, "device_id": device_id, "where_name": ROOM,
                "device_serial": serial, "label": ""})
        await service.store.attach_device(serial, structure.id, device_id)
        return Claimed(serial, device_id, structure.id)


def _structure(service: Service, user_id: str, structure_id: str | None) -> Obj | None:
    if structure_id is not None:
        found = service.home.get("structures", structure_id)
        if found is not None and found.user_id == user_id:
            return found
    return next(iter(service.home.of_user(user_id, "structures")), None)


async def attach_waiting(service: Service) -> list[Claimed]:
    """Attach every device claimed while no server ran."""
    attached = []
    for record in await service.store.devices():
        if record.user_id is not None and service.home.get(
                "thermostats", record.device_id or "") is None:
            try:
                attached.append(await attach(service, record.serial))
            except (ClaimRefused, errors.ApiError):
                continue
    return attached
