"""The SQL of real thermostats (the device protocol's devices). Used only by
:mod:`roost.store.sqlite`; entry keys arrive here as digests."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

from roost.store.base import Conflict
from roost.store.queries import Events, record
from roost.store.records import DEVICE_CLAIMED, DeviceRecord

Conn = sqlite3.Connection
_COLUMNS = "serial, key_hash, key_expires, user_id, structure_id, device_id, buckets"


def _ensure(conn: Conn, serial: str) -> None:
    conn.execute("INSERT OR IGNORE INTO devices (serial, created) VALUES (?, ?)",
                 (serial, datetime.now(UTC).isoformat()))


def device(conn: Conn, serial: str) -> DeviceRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM devices WHERE serial = ?", (serial,)).fetchone()
    return DeviceRecord(*row) if row else None


def devices(conn: Conn) -> list[DeviceRecord]:
    return [DeviceRecord(*row)
            for row in conn.execute(f"SELECT {_COLUMNS} FROM devices ORDER BY serial")]


def save_buckets(conn: Conn, serial: str, buckets: str) -> None:
    _ensure(conn, serial)
    conn.execute("UPDATE devices SET buckets = ? WHERE serial = ?", (buckets, serial))


def set_entry_key(conn: Conn, serial: str, key_hash: str, expires: int) -> None:
    _ensure(conn, serial)
    conn.execute("UPDATE devices SET key_hash = ?, key_expires = ? WHERE serial = ?",
                 (key_hash, expires, serial))


def claim(conn: Conn, events: Events, key_hash: str, now_ms: int, user_id: str,
          structure_id: str | None) -> DeviceRecord | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM devices WHERE key_hash = ? AND key_expires > ?",
                       (key_hash, now_ms)).fetchone()
    if row is None:
        return None
    found = DeviceRecord(*row)
    if found.user_id is not None:
        raise Conflict(f"device {found.serial} is already claimed")
    conn.execute("UPDATE devices SET user_id = ?, structure_id = ?, device_id = NULL "
                 "WHERE serial = ?", (user_id, structure_id, found.serial))
    events.append(record(conn, DEVICE_CLAIMED, found.serial))
    return device(conn, found.serial)


def attach(conn: Conn, serial: str, structure_id: str, device_id: str) -> None:
    conn.execute("UPDATE devices SET structure_id = ?, device_id = ? WHERE serial = ?",
                 (structure_id, device_id, serial))
