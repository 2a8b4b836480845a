"""Weather for a postal code, from the server's outdoors (:mod:`roost.weather`).

Two shapes that must not be mixed (spec §9): ``weather_url`` (``/weather/v1?query=``) answers
``{<query>: {current, location, forecast}}`` with every temperature in both scales, as
python-nest 2.x reads it; the app's ``/api/0.1/weather/forecast/<postal>`` answers
``{now, forecast}`` with ``now`` in °C and the forecast in whole °F, as the one recorded
response shows. Neither needs a token.

The outdoors is the server's, which the simulator also heats and cools against: its
temperature curve in the time zone of a structure with
that postal code (UTC when none has it). It has no clouds, wind or sun of its own, so the sky
is always clear and calm, the sun is up from 07:00 to 17:00 local time, and the humidity
follows from a dew point two degrees below the day's low.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from roost.legacy.errors import invalid_request
from roost.model import localtime
from roost.model.units import c_to_f
from roost.service import Service
from roost.weather import Outdoors

SUNRISE, SUNSET = time(7), time(17)
HOURS, DAYS = 48, 10
DEW_BELOW_LOW_C = 2.0
_POSTAL = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]{0,15}")
_COUNTRY = re.compile(r"[A-Za-z]{2}")


@dataclass(frozen=True)
class Place:
    postal: str
    country: str  # "" when neither the query nor a structure names one
    zone: str  # IANA name


@dataclass(frozen=True)
class Reading:
    at: datetime
    temp_c: float
    humidity: int


@dataclass(frozen=True)
class Day:
    date: datetime  # local midnight
    low_c: float
    high_c: float
    humidity: int


@dataclass(frozen=True)
class Outlook:
    place: Place
    local: datetime  # now, in the place's zone
    now: Reading
    sunrise: datetime
    sunset: datetime
    hourly: list[Reading]
    daily: list[Day]


def parse_query(query: str) -> tuple[str, str]:
    """``94043,US`` → ("94043", "US"); the country is optional."""
    postal, _, country = query.partition(",")
    postal, country = postal.strip(), country.strip()
    if not _POSTAL.fullmatch(postal) or (country and not _COUNTRY.fullmatch(country)):
        raise invalid_request("expected a postal code and an optional two-letter country "
                              "code, such as 94043,US")
    return postal, country.upper()


def place(service: Service, postal: str, country: str) -> Place:
    """The postal code's time zone, from any structure there (any user's: a postal code's
    zone is no secret)."""
    def compact(code: str) -> str:
        return code.replace(" ", "").upper()

    for obj in list(service.home.committed.values()):
        d = obj.data
        if obj.kind == "structures" and not obj.deleted \
                and compact(str(d.get("postal_code", ""))) == compact(postal) \
                and (not country or str(d.get("country_code", "")).upper() == country):
            return Place(postal, country or str(d.get("country_code", "")),
                         str(d.get("time_zone") or "UTC"))
    return Place(postal, country, "UTC")


def _humidity(temp_c: float, dew_c: float) -> int:
    """Relative humidity from temperature and dew point (Magnus formula)."""
    a, b = 17.625, 243.04
    return min(100, round(100 * math.exp(a * dew_c / (b + dew_c) - a * temp_c / (b + temp_c))))


def outlook(outdoors: Outdoors, where: Place, now: datetime) -> Outlook:
    zone = localtime.zone(where.zone)
    weather = outdoors.weather  # one setting for the whole answer, even if it changes

    def temp(at: datetime) -> float:
        return weather.outdoor_c(at, where.zone)

    def day(date: datetime) -> Day:
        midnight = datetime(date.year, date.month, date.day, tzinfo=zone)
        after = midnight + timedelta(days=1)
        end = datetime(after.year, after.month, after.day, tzinfo=zone)
        samples, at = [], midnight.astimezone(UTC)
        while at < end:
            samples.append(temp(at))
            at += timedelta(minutes=30)
        low, high = min(samples), max(samples)
        mean = sum(_humidity(t, low - DEW_BELOW_LOW_C) for t in samples) / len(samples)
        return Day(midnight, low, high, round(mean))

    days: dict[tuple[int, int, int], Day] = {}

    def reading(at: datetime) -> Reading:
        local = at.astimezone(zone)
        key = (local.year, local.month, local.day)
        if key not in days:
            days[key] = day(local)
        t = temp(at)
        return Reading(at, t, _humidity(t, days[key].low_c - DEW_BELOW_LOW_C))

    local = now.astimezone(zone)
    current = reading(now)
    hour = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hourly = [reading(hour + timedelta(hours=i)) for i in range(1, HOURS + 1)]
    daily = [day(local + timedelta(days=i)) for i in range(DAYS)]
    today = local.date()
    return Outlook(where, local, current,
                   datetime.combine(today, SUNRISE, tzinfo=zone),
                   datetime.combine(today, SUNSET, tzinfo=zone), hourly, daily)


def _seconds(moment: datetime) -> int:
    return int(moment.timestamp())


def _one(value: float) -> float:
    return round(value, 1)


def _whole_f(celsius: float) -> float:
    return float(round(c_to_f(celsius)))


def _sky(o: Outlook) -> tuple[str, str]:
    """(condition, icon): always clear; the icon tells day from night."""
    return "Clear", "clear" if o.sunrise <= o.local < o.sunset else "nt_clear"


def _gmt_offset(local: datetime) -> str:
    offset = local.utcoffset() or timedelta()
    return f"{offset.total_seconds() / 3600:+06.2f}"


def weather_v1(o: Outlook) -> dict[str, Any]:
    """The inner object of a ``/weather/v1`` answer."""
    condition, icon = _sky(o)
    p = o.place
    name = f"{p.postal} {p.country}".strip()
    return {
        "current": {
            "temp_c": _one(o.now.temp_c), "temp_f": _one(c_to_f(o.now.temp_c)),
            "condition": condition, "icon": icon, "humidity": o.now.humidity,
            "sunrise": _seconds(o.sunrise), "sunset": _seconds(o.sunset),
            "lengthofday": int((o.sunset - o.sunrise).total_seconds() // 60),
            "wind_dir": "N", "wind_mph": 0, "wind_kph": 0.0,
            "gmt_offset": _gmt_offset(o.local), "timezone": o.local.tzname() or "UTC",
            "observation_time": _seconds(o.now.at),
        },
        "location": {
            "station_id": "unknown", "zip": p.postal, "country": p.country, "city": "",
            "state": "", "short_name": name, "full_name": name,
            "timezone": o.local.tzname() or "UTC", "timezone_long": p.zone,
            "gmt_offset": _gmt_offset(o.local),
        },
        "forecast": {
            "daily": [{
                "date": _seconds(d.date),
                "temp_low_c": _one(d.low_c), "temp_high_c": _one(d.high_c),
                "temp_low_f": _one(c_to_f(d.low_c)), "temp_high_f": _one(c_to_f(d.high_c)),
                "humidity": d.humidity, "condition": "Clear", "icon": "clear",
                "wind_dir": "N", "wind_kph": 0.0,
            } for d in o.daily],
            "hourly": [{
                "hour": i, "time": _seconds(r.at), "temp_c": _one(r.temp_c),
                "temp_f": _one(c_to_f(r.temp_c)), "humidity": r.humidity,
            } for i, r in enumerate(o.hourly, start=1)],
        },
    }


def forecast(o: Outlook) -> dict[str, Any]:
    """An ``/api/0.1/weather/forecast`` answer: ``now`` in °C, the forecast in whole °F."""
    condition, icon = _sky(o)
    return {
        "display_city": o.place.postal,
        "city": o.place.postal,
        "now": {
            "station_id": "unknown", "conditions": condition, "icon": icon,
            "current_temperature": _one(o.now.temp_c), "current_humidity": o.now.humidity,
            "current_wind": 0, "wind_direction": "N", "gmt_offset": _gmt_offset(o.local),
            "sunrise": _seconds(o.sunrise), "sunset": _seconds(o.sunset),
        },
        "forecast": {
            "hourly": [{"time": _seconds(r.at), "temp": _whole_f(r.temp_c),
                        "humidity": r.humidity} for r in o.hourly],
            "daily": [{"date": _seconds(d.date), "conditions": "Clear", "icon": "clear",
                       "low_temperature": _whole_f(d.low_c),
                       "high_temperature": _whole_f(d.high_c)} for d in o.daily],
        },
    }


class Forecasts:
    """The two weather routes, over one service and the server's outdoors."""

    def __init__(self, service: Service, outdoors: Outdoors) -> None:
        self.service = service
        self.outdoors = outdoors

    def _outlook(self, query: str) -> Outlook:
        postal, country = parse_query(query)
        return outlook(self.outdoors, place(self.service, postal, country),
                       self.service.clock())

    async def weather_v1(self, request: Request) -> Response:
        """``GET /weather/v1?query=<postal>,<CC>``, keyed by the query as sent."""
        query = request.query_params.get("query", "")
        if not query:
            raise invalid_request("missing ?query=<postal code>,<country code>")
        return _json({query: weather_v1(self._outlook(query))})

    async def forecast(self, request: Request) -> Response:
        """``GET /api/0.1/weather/forecast/<postal>[,<CC>]``."""
        return _json(forecast(self._outlook(request.path_params["query"])))


def _json(value: Any) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")
