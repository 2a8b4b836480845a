"""What a client's write to a structure may do: its name, away, and arrival estimates (ETA)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roost import clock, errors
from roost.model.home import DEVICE_KINDS, Home, Obj
from roost.rules import thermostat

ETA_KEYS = ("trip_id", "estimated_arrival_window_begin", "estimated_arrival_window_end")
# The fields :func:`apply` decides; a client's write of any other is stored as given.
RULED = frozenset({"name", "eta", "wheres", "away"})


def apply(home: Home, obj: Obj, values: dict[str, Any], now: datetime) -> list[Obj]:
    d = dict(obj.data)
    if "name" in values:  # its length is checked with the field table
        d["name"] = values["name"].strip()
    if "eta" in values:
        _set_eta(home, obj, d, values["eta"], now)
    if "wheres" in values:
        d["wheres"] = checked_wheres(home, obj, values["wheres"])
    thermostats = set_away(home, obj, d, values.get("away"), now)
    return [obj.evolve(d), *thermostats]


def set_away(home: Home, structure: Obj, d: dict[str, Any], away: str | None,
             now: datetime | None = None, system: bool = False) -> list[Obj]:
    """Record ``away`` in the structure's new data ``d`` (and since when and by whom, the
    legacy API's ``away_timestamp`` and ``away_setter``: 1 for Nest's own Home/Away Assist,
    0 for a person); the thermostats it changes.

    Away puts the structure's thermostats in Eco; home brings back the ones it put there.
    """
    if away is None or structure.data.get("away") == away:
        return []
    d["away"] = away
    d["away_setter"] = int(system)
    if now is not None:
        d["away_since"] = clock.iso(now)
    changed = []
    for t in home.in_structure(structure.id, "thermostats", pending=True):
        d = dict(t.data)
        if away == "away" and d["hvac_mode"] not in ("eco", "off"):
            thermostat.set_mode(d, "eco", reason="away")
        elif away == "home" and d["hvac_mode"] == "eco" and d.get("eco_reason") == "away":
            thermostat.set_mode(d, d.get("previous_hvac_mode") or "heat", reason="away")
        else:
            continue
        changed.append(t.evolve(d))
    return changed


def _set_eta(home: Home, obj: Obj, d: dict[str, Any], eta: dict[str, Any],
             now: datetime) -> None:
    unknown = sorted(set(eta) - set(ETA_KEYS))
    if unknown:
        raise errors.eta_invalid(f"unknown field(s) {', '.join(unknown)}", {"fields": unknown})
    trip = eta.get("trip_id")
    if not isinstance(trip, str) or not trip:
        raise errors.eta_invalid("trip_id must be a non-empty string", {"field_name": "trip_id"})
    trips = {t: w for t, w in d.get("eta", {}).items() if clock.parse(w["end"]) > now}
    begin_value = eta.get("estimated_arrival_window_begin")
    if begin_value == 0 and not isinstance(begin_value, bool):
        trips.pop(trip, None)  # cancel, as python-nest's cancel_eta sends it
    else:
        if not home.in_structure(obj.id, "thermostats", pending=True):
            raise errors.eta_no_thermostat()
        begin = _time(eta, "estimated_arrival_window_begin")
        end = _time(eta, "estimated_arrival_window_end")
        if end < begin:
            raise errors.eta_invalid("the window ends before it begins",
                                     {"begin": clock.iso(begin), "end": clock.iso(end)})
        if end <= now:
            raise errors.eta_invalid("the window has already ended", {"end": clock.iso(end)})
        if begin <= now:  # the Away & ETA guide: it "must be greater than NOW"
            raise errors.eta_invalid("the window must begin in the future",
                                     {"begin": clock.iso(begin), "now": clock.iso(now)})
        trips[trip] = {"begin": clock.iso(begin), "end": clock.iso(end)}
    set_trips(d, trips)


def set_trips(d: dict[str, Any], trips: dict[str, dict[str, str]]) -> None:
    """Store the arrival windows by trip; eta_begin is the earliest begin, the epoch if none."""
    d["eta"] = trips
    d["eta_begin"] = min((w["begin"] for w in trips.values()), default=clock.EPOCH)


def _time(eta: dict[str, Any], key: str) -> datetime:
    moment = clock.parse(eta.get(key))
    if moment is None:
        raise errors.eta_invalid(f"{key} must be an ISO 8601 time", {"field_name": key})
    return moment


def checked_wheres(home: Home, obj: Obj, wheres: dict[str, Any]) -> dict[str, Any]:
    """The structure's rooms as the Nest app rewrites them (each checked with the field
    table): ``{where_id: {where_id, name}}``, and no room dropped while a device is in it."""
    checked = {where_id: {"where_id": where_id, "name": where["name"].strip()}
               for where_id, where in wheres.items()}
    dropped = set(obj.data.get("wheres", {})) - set(checked)
    for kind in DEVICE_KINDS:
        for device in home.in_structure(obj.id, kind, pending=True):
            if device.data.get("where_id") in dropped:
                raise errors.invalid_wheres(
                    f"room {device.data['where_id']!r} still has a device in it")
    return checked
