"""The home page: each structure with its rooms and devices, the values a person reads and
the controls they change, and the one call every control makes.

The page is rendered from the signed-in user's own read of ``/``; ``static/app.js`` keeps
it live from the same location's stream (``live.py``). Every element showing a value names
its data location in ``data-f``, so the script needs no knowledge of devices.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from roost import errors
from roost.auth import sessions
from roost.http.body import BodyRefused, read_body
from roost.model import paths
from roost.web.visitor import HEADERS, page, service_of, to_sign_in, visitor

KINDS = ("thermostats", "smoke_co_alarms", "cameras")
# What a person may change from the page, by kind: the write path checks the rest.
WRITABLE = {
    "thermostats": {"target_temperature_f", "target_temperature_c", "target_temperature_low_f",
                    "target_temperature_high_f", "target_temperature_low_c",
                    "target_temperature_high_c", "hvac_mode", "fan_timer_active"},
    "cameras": {"is_streaming"},
    "structures": {"away"},
}
MAX_WRITE = 4 * 1024


def rooms(tree: dict[str, Any], structure: dict[str, Any]) -> list[tuple[str, list[Any]]]:
    """The structure's devices by room, rooms in name order: (room, [(kind, device)])."""
    by_room: dict[str, list[tuple[str, dict[str, Any]]]] = defaultdict(list)
    devices = tree.get("devices", {})
    for kind in KINDS:
        for device_id in structure.get(kind, []):
            device = devices.get(kind, {}).get(device_id)
            if device is not None:
                by_room[device.get("where_name") or "Elsewhere"].append((kind, device))
    return sorted(by_room.items())


async def home(request: Request) -> Response:
    who = await visitor(request)
    if who is None:
        return to_sign_in()
    tree = service_of(request).read(who.principal, ())
    structures = sorted(tree.get("structures", {}).values(), key=lambda s: s.get("name", ""))
    homes = [(s, rooms(tree, s)) for s in structures]
    return page(request, "app/home.html", who, homes=homes)


def _refused(status: int, message: str) -> Response:
    return JSONResponse({"error": message}, status_code=status, headers=HEADERS)


async def write(request: Request) -> Response:
    """``POST /app/write`` ``{"path": "devices/thermostats/<id>", "values": {...}}`` with the
    session's CSRF token in ``X-CSRF-Token``: :meth:`Service.write` as the signed-in user. A
    refusal answers the rules' own words."""
    who = await visitor(request)
    if who is None:
        return _refused(401, "Your session has ended. Sign in again.")
    if not sessions.Session(who.user_id, who.csrf).csrf_ok(
            request.headers.get("x-csrf-token", "")):
        return _refused(403, "This page has expired. Reload it and try again.")
    try:
        body = await read_body(request, MAX_WRITE)
        location, values = str(body["path"]), body["values"]
        if not isinstance(values, dict):
            raise ValueError("values")
    except (BodyRefused, ValueError, KeyError, TypeError):
        return _refused(400, "The page sent a malformed change.")
    try:
        path = paths.parse("/" + location.strip("/"))
        kind = path[1] if path[:1] == ("devices",) and len(path) > 1 else path[0]
        if len(path) not in (2, 3) or not set(values) <= WRITABLE.get(kind, set()):
            return _refused(400, "The page cannot change that.")
        await service_of(request).write(who.principal, path, values)
    except errors.ApiError as exc:
        return _refused(exc.status, exc.text)
    return JSONResponse({"ok": True}, headers=HEADERS)
