"""Every real thermostat that calls: its buckets with their revisions, its held subscribes,
and the sync between its buckets and the thermostat it is in the home.

A device's buckets are kept as it sent them (``device.<S>``, ``shared.<S>``, ``schedule.<S>``
and whatever else it puts), each with a counter revision and a server timestamp (spec §7).
For a claimed device Roost also keeps, per bucket, the keys it last reconciled with the home
(``synced``): on every change of the owner's home the thermostat's keys are worked out again
(:func:`roost.device.buckets.sent`), and only keys that moved since are sent, as a new
revision, to every held subscribe of the device. A device's own write sets ``synced`` to
what it wrote before the write is applied, so it never comes back to it; a write the rules
change or refuse does, as the cloud's value (the device's "write protection").
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from roost import errors, pairing
from roost.auth.principal import system
from roost.clock import iso, millis
from roost.device import buckets
from roost.http.errors import Elsewhere
from roost.model.home import Obj
from roost.service import Service
from roost.store.records import DEVICE_CLAIMED, AccountEvent, DeviceRecord

log = logging.getLogger("roost.device")

MAX_HOLDS = 4  # overlapping subscribes kept per device; the oldest beyond ends
SEEN_EVERY = 60.0  # seconds between last_connection writes of a device that keeps calling

Stamped = dict[str, Any]  # {"object_revision", "object_timestamp", "object_key"[, "value"]}


@dataclass
class Bucket:
    revision: int
    timestamp: int  # ms
    value: dict[str, Any]

    def stamp(self, key: str, value: dict[str, Any] | None = None) -> Stamped:
        # The device reads the stamps before the key (spec §8.4): built in this order, and
        # never serialised with sorted keys.
        out: Stamped = {"object_revision": self.revision, "object_timestamp": self.timestamp,
                        "object_key": key}
        if value is not None:
            out["value"] = value
        return out


class Hold:
    """One held subscribe: the chunks waiting to be written, and a wake-up for its writer."""

    __slots__ = ("chunks", "ended", "woken")

    def __init__(self) -> None:
        self.chunks: list[list[Stamped]] = []
        self.ended = False
        self.woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake(self) -> None:
        if not self.woken.done():
            self.woken.set_result(None)

    def rearm(self) -> None:
        if self.woken.done():
            self.woken = asyncio.get_running_loop().create_future()


@dataclass(eq=False)
class Device:
    serial: str
    user_id: str | None = None
    structure_id: str | None = None
    device_id: str | None = None
    buckets: dict[str, Bucket] = field(default_factory=dict)
    synced: dict[str, dict[str, Any]] = field(default_factory=dict)
    holds: list[Hold] = field(default_factory=list)
    entry_key: str | None = None  # shown while unclaimed; only its digest is stored
    key_expires: int = 0
    last_call: float = 0.0  # monotonic
    last_written: float = 0.0  # monotonic: the last is_online/last_connection write
    pairing_sent: dict[str, float] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def claimed(self) -> bool:
        return self.user_id is not None and self.device_id is not None

    def own(self, key: str) -> bool:
        """A bucket of this device itself (``<type>.<serial>``), which it may write."""
        kind, _, id = key.partition(".")
        return bool(kind) and id == self.serial and kind not in ("structure", "user")

    def encoded(self) -> str:
        return orjson.dumps({k: [b.revision, b.timestamp, b.value]
                             for k, b in self.buckets.items()}).decode()


class Registry:
    def __init__(self, service: Service, hold: float = 290.0,
                 offline_after: float = 360.0) -> None:
        self.service = service
        self.hold = hold
        self.offline_after = offline_after
        self.devices: dict[str, Device] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._watching: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        for claimed in await pairing.attach_waiting(self.service):
            log.info("device %s joined structure %s", claimed.serial, claimed.structure_id)
        for record in await self.service.store.devices():
            self._load(record)
        self.service.listen_accounts(self._account_event)
        self._watching = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        for device in self.devices.values():
            for hold in device.holds:
                hold.ended = True
                hold.wake()
        if self._watching is not None:
            self._watching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watching

    def _load(self, record: DeviceRecord) -> Device:
        device = self.devices.get(record.serial) or Device(record.serial)
        self.devices[record.serial] = device
        stored = orjson.loads(record.buckets)
        device.buckets = {k: Bucket(int(r), int(t), v) for k, (r, t, v) in stored.items()}
        device.user_id, device.structure_id = record.user_id, record.structure_id
        device.device_id = record.device_id
        device.last_call = device.last_call or time.monotonic()
        if device.claimed:
            thermostat = self.thermostat(device)
            if thermostat is not None:
                now = buckets.sent(thermostat)
                for kind in buckets.THERMOSTAT_BUCKETS:
                    device.synced[f"{kind}.{device.serial}"] = now[kind]
            for key in self._pairing_keys(device):
                if key in device.buckets:
                    device.synced[key] = dict(device.buckets[key].value)
        return device

    def device(self, serial: str) -> Device:
        found = self.devices.get(serial)
        if found is None:
            found = self.devices[serial] = Device(serial, last_call=time.monotonic())
        return found

    async def serve_here(self, device: Device) -> None:
        """A claimed device whose home another server process serves is sent there (307),
        or answered 503 while none does (docs/scale-out.md)."""
        if device.user_id is not None:
            owner = await self.service.owner_url(device.user_id)
            if owner is not None:
                raise Elsewhere(owner)

    # -- the home's side ---------------------------------------------------------------------

    def thermostat(self, device: Device) -> Obj | None:
        if not device.claimed:
            return None
        found = self.service.home.get("thermostats", device.device_id or "")
        return found if found is not None and found.user_id == device.user_id else None

    def _pairing_keys(self, device: Device) -> list[str]:
        if not device.claimed:
            return []
        return [f"user.{device.user_id}", f"structure.{device.structure_id}"]

    def _cloud(self, device: Device) -> dict[str, dict[str, Any]]:
        """By bucket key, what the home says the device should hold of the keys it is sent."""
        thermostat = self.thermostat(device)
        if thermostat is None:
            return {}
        now = buckets.sent(thermostat)
        out = {f"{kind}.{device.serial}": now[kind] for kind in buckets.THERMOSTAT_BUCKETS}
        structure = self.service.home.get("structures", thermostat.structure_id)
        if structure is not None:
            serials = sorted(d.serial for d in self.devices.values()
                             if d.claimed and d.structure_id == structure.id)
            out[f"structure.{structure.id}"] = buckets.structure_value(structure, serials)
        out[f"user.{device.user_id}"] = {"name": device.user_id}
        return out

    def now_ms(self, after: int = 0) -> int:
        """Server time in ms, strictly after ``after`` (a bucket's previous timestamp)."""
        return max(millis(self.service.clock()), after + 1)

    async def refresh(self, device: Device) -> None:
        """Send every held subscribe of the device what moved in the home since it was last
        reconciled, as new revisions, in one chunk."""
        async with device.lock:
            chunk = self._moved(device)
            if chunk:
                await self.service.store.save_device_buckets(device.serial, device.encoded())
                self._send(device, chunk)

    def _moved(self, device: Device) -> list[Stamped]:
        chunk: list[Stamped] = []
        now_s = int(self.service.clock().timestamp())
        for key, values in self._cloud(device).items():
            synced = device.synced.setdefault(key, {})
            changed = {k: v for k, v in values.items() if synced.get(k, _MISSING) != v}
            if not changed:
                continue
            synced.update(changed)
            out = dict(changed)
            if "eco" in out:
                out["eco"] = {**out["eco"], "touched_by": 3, "mode_update_timestamp": now_s}
            if "manual_eco_all" in out:
                out["manual_eco_timestamp"] = now_s
                if not out["manual_eco_all"]:
                    out["away"] = False  # never timestamp-checked: ends a device-side away
            if buckets.SETPOINTS & out.keys():
                out["target_change_pending"] = True
                out["touched_by"] = {"touched_by": 3, "touched_at": now_s,
                                     "touched_user_id": device.user_id}
            bucket = device.buckets.get(key)
            if bucket is None:
                bucket = device.buckets[key] = Bucket(0, 0, {})
            merged = {**bucket.value, **out}
            if merged == bucket.value:
                continue
            bucket.value = merged
            bucket.revision += 1
            bucket.timestamp = self.now_ms(bucket.timestamp)
            chunk.append(bucket.stamp(key, out))
        return chunk

    def _send(self, device: Device, chunk: list[Stamped]) -> None:
        for hold in device.holds:
            hold.chunks.append(chunk)
            hold.wake()

    # -- the device's side -------------------------------------------------------------------

    def newer(self, device: Device, listed: dict[str, tuple[int, int]]) -> list[Stamped]:
        """The buckets the device listed (key → revision, timestamp) of which the server has a
        newer copy, whole, and the pairing buckets it did not list (at most once per hold
        period: a device that never lists them must not spin)."""
        out: list[Stamped] = []
        for key, (revision, timestamp) in listed.items():
            bucket = device.buckets.get(key)
            if bucket is None or bucket.timestamp == 0:
                continue  # nothing here: the device will put what it has
            if timestamp == 0 or bucket.timestamp > timestamp or (
                    bucket.timestamp == timestamp and bucket.revision > revision):
                out.append(bucket.stamp(key, bucket.value))
        now = time.monotonic()
        for key in self._pairing_keys(device):
            bucket = device.buckets.get(key)
            if key in listed or bucket is None:
                continue
            if now - device.pairing_sent.get(key, -float("inf")) >= self.hold:
                device.pairing_sent[key] = now
                out.append(bucket.stamp(key, bucket.value))
        return out

    async def put(self, device: Device, objects: list[dict[str, Any]]) -> list[Stamped]:
        """Apply a device's bucket writes (each ``{"object_key", "value", "if_object_revision"?}``,
        its own buckets only) and answer one receipt per bucket, without values (spec §9.3)."""
        receipts: list[Stamped] = []
        fields: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        async with device.lock:
            for obj in objects:
                key, value = obj["object_key"], obj["value"]
                bucket = device.buckets.get(key)
                expect = obj.get("if_object_revision")
                if expect is not None and (bucket.revision if bucket else 0) != expect:
                    if bucket is not None:  # refused: the device keeps its fields and retries
                        receipts.append(bucket.stamp(key))
                    continue
                if bucket is None:
                    bucket = device.buckets[key] = Bucket(0, 0, {})
                merged = dict(value) if key.startswith("schedule.") else {**bucket.value, **value}
                if merged != bucket.value:
                    bucket.value = merged
                    bucket.revision += 1
                    bucket.timestamp = self.now_ms(bucket.timestamp)
                    kind = key.partition(".")[0]
                    if kind in buckets.THERMOSTAT_BUCKETS:
                        fields.append((kind, value, merged))
                        device.synced.setdefault(key, {}).update(buckets.expected(kind, value))
                receipts.append(bucket.stamp(key))
            if fields:
                await self.service.store.save_device_buckets(device.serial, device.encoded())
        if fields:
            await self._report(device, fields)
        return receipts

    async def _report(self, device: Device,
                      written: list[tuple[str, dict[str, Any], dict[str, Any]]]) -> None:
        """The device's writes as its thermostat's fields, each field on its own: one the
        table or the rules refuse does not hold back the others."""
        thermostat = self.thermostat(device)
        if thermostat is None:
            return
        values: dict[str, Any] = {}
        for kind, given, merged in written:
            values.update(buckets.fields_of(kind, given, merged, thermostat))
        if not values:
            return
        principal = system(thermostat.user_id)
        path = ("devices", "thermostats", thermostat.id)
        outcomes = await self.service.write_many(
            [(principal, path, {name: value}) for name, value in values.items()])
        for (name, value), refused in zip(values.items(), outcomes, strict=True):
            if refused is not None:
                log.info("device %s: %s=%r not taken: %s", device.serial, name, value, refused)

    # -- online and offline ------------------------------------------------------------------

    async def called(self, device: Device) -> None:
        """The device called: it is online, and its thermostat says so."""
        device.last_call = time.monotonic()
        thermostat = self.thermostat(device)
        if thermostat is None:
            return
        stale = device.last_call - device.last_written >= SEEN_EVERY
        if thermostat.data.get("is_online") is False or stale:
            device.last_written = device.last_call
            await self._online(thermostat, True)

    async def _online(self, thermostat: Obj, online: bool) -> None:
        values: dict[str, Any] = {"is_online": online}
        if online:
            values["last_connection"] = iso(self.service.clock())
        try:
            await self.service.write(system(thermostat.user_id),
                                     ("devices", "thermostats", thermostat.id), values)
        except errors.ApiError as exc:
            log.warning("thermostat %s: online=%s not written: %s", thermostat.id, online, exc)

    async def _watch(self) -> None:
        """Mark offline the thermostats whose device stopped calling."""
        period = max(0.2, min(5.0, self.offline_after / 4))
        while True:
            await asyncio.sleep(period)
            now = time.monotonic()
            for device in list(self.devices.values()):
                if device.holds or now - device.last_call < self.offline_after:
                    continue
                thermostat = self.thermostat(device)
                if thermostat is not None and thermostat.data.get("is_online") is not False:
                    log.info("device %s stopped calling: offline", device.serial)
                    await self._online(thermostat, False)

    # -- claims ------------------------------------------------------------------------------

    def _account_event(self, event: AccountEvent) -> None:
        if event.kind == DEVICE_CLAIMED:
            task = asyncio.get_running_loop().create_task(self.claimed(event.subject))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def claimed(self, serial: str) -> None:
        """A user claimed the device (here or from the command line): make it a thermostat of
        their home with the state it reported, and send the pairing buckets. A home another
        server process serves is made there: here the device is only sent on."""
        record = await self.service.store.device(serial)
        if record is not None and record.user_id is not None \
                and not self.service.serves(record.user_id):
            self.device(serial).user_id = record.user_id
            return
        try:
            await pairing.attach(self.service, serial)
        except Exception:
            log.exception("device %s could not join its home", serial)
            return
        record = await self.service.store.device(serial)
        if record is None:
            return
        device = self.device(serial)
        async with device.lock:
            if device.claimed and device.device_id == record.device_id:
                return  # attached already
            device.user_id, device.structure_id = record.user_id, record.structure_id
            device.device_id = record.device_id
            device.entry_key = None
            thermostat = self.thermostat(device)
            if thermostat is None:
                return
            reported = [(kind, b.value, b.value) for kind in buckets.THERMOSTAT_BUCKETS
                        if (b := device.buckets.get(f"{kind}.{serial}")) is not None]
            for kind, value, _ in reported:
                device.synced[f"{kind}.{serial}"] = {
                    **buckets.sent(thermostat)[kind], **buckets.expected(kind, value)}
        await self._report(device, reported)
        await self.called(device)
        log.info("device %s is thermostat %s of structure %s", serial, device.device_id,
                 device.structure_id)
        await self.refresh(device)


_MISSING = object()
