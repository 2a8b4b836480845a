"""Drives python-nest 2.11.0, as released, against a Roost server.

Run with the release on ``PYTHONPATH`` (it shares the import name ``nest`` with the 3.x and
4.x releases in the project's environment): ``python python_nest_driver.py LOGIN_URL EMAIL
PASSWORD``. Commands arrive one JSON object per line on stdin; every command is answered
with one JSON object per line on stdout. The only change to the client is its sign-in
address, the module constant ``nest.nest.LOGIN_URL``.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import sys
from importlib import metadata
from typing import Any

# python-nest 2.11.0 predates Python 3.10, which removed these aliases; it looks up
# collections.Callable on every sign-in. Restoring the alias is what running it on the
# Python it was written for would do, and leaves the client itself untouched.
collections.Callable = collections.abc.Callable  # type: ignore[attr-defined]

import nest.nest  # noqa: E402  (after the alias it needs)
import requests  # noqa: E402


def emit(event: dict[str, Any]) -> None:
    print(json.dumps(event), flush=True)


def status(napi: nest.nest.Nest) -> dict[str, Any]:
    """What python-nest shows of the home, through its own properties."""
    return {
        "structures": [{
            "serial": s.serial, "name": s.name, "away": s.away,
            "postal_code": s.postal_code, "country_code": s.country_code,
            "devices": [d.serial for d in s.devices],
            "outside_temperature": s.weather.current.temperature,
        } for s in napi.structures],
        "devices": [{
            "serial": d.serial, "name": d.name, "where": d.where,
            "temperature": d.temperature, "target": d.target, "mode": d.mode,
            "fan": d.fan, "humidity": d.humidity, "structure": d.structure.serial,
            "away_temperature": list(d.away_temperature),
        } for d in napi.devices],
    }


def properties(napi: nest.nest.Nest) -> dict[str, dict[str, Any]]:
    """Every property of every Structure, Device and ProtectDevice python-nest shows of the
    home, by class and name: the value as JSON would carry it, or the error it raised."""
    shown: dict[str, dict[str, Any]] = {}
    for objects in (napi.structures, napi.devices, napi.protectdevices):
        for obj in objects:
            cls = type(obj)
            names = sorted({name for klass in cls.__mro__ for name, attr in vars(klass).items()
                            if isinstance(attr, property) and not name.startswith("_")})
            values: dict[str, Any] = {}
            for name in names:
                try:
                    value = getattr(obj, name)
                except Exception as exc:  # what a client reading the home would hit
                    values[name] = {"raised": f"{type(exc).__name__}: {exc}"}
                    continue
                try:
                    values[name] = json.loads(json.dumps(value))
                except (TypeError, ValueError):
                    values[name] = repr(value)
            shown[f"{cls.__name__}:{obj.serial}"] = values
    return shown


def device(napi: nest.nest.Nest, serial: str) -> nest.nest.Device:
    return next(d for d in napi.devices if d.serial == serial)


def run(napi: nest.nest.Nest, command: dict[str, Any]) -> dict[str, Any]:
    action = command["do"]
    try:
        if action == "status":
            return {"status": status(napi)}
        if action == "properties":
            return {"properties": properties(napi)}
        if action == "set_target":
            thermostat = device(napi, command["device"])
            thermostat.target = command["target"]
            return {"done": action, "target": thermostat.target}
        if action == "set_where":
            thermostat = device(napi, command["device"])
            thermostat.where = command["where"]  # a new room is added to the structure first
            return {"done": action, "where": thermostat.where}
        if action == "set_away":
            structure = napi.structures[0]
            structure.away = command["away"]
            return {"done": action, "away": structure.away}
    except requests.HTTPError as exc:
        response = exc.response
        return {"refused": action, "status": response.status_code, "body": response.json()}
    return {"unknown": action}


def main() -> None:
    login_url, email, password = sys.argv[1:4]
    nest.nest.LOGIN_URL = login_url
    # cache_ttl=0: read the home anew on every look, so a change made through the other API
    # is seen at once rather than after python-nest's 270-second cache.
    napi = nest.nest.Nest(email, password, cache_ttl=0)
    emit({"ready": {"client": "python-nest", "version": metadata.version("python-nest")}})
    for line in sys.stdin:
        command = json.loads(line)
        if command["do"] == "exit":
            break
        emit(run(napi, command))


if __name__ == "__main__":
    main()
