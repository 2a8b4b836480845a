"""The legacy API's routes, mounted by the app ahead of the Works with Nest catch-all.

Nest served these from two hosts (home.nest.com for sessions and weather, the transport for
buckets); Roost serves both from one origin, which every session advertises as its
``transport_url``.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from roost.legacy import subscribe, transport
from roost.legacy.errors import route
from roost.legacy.launch import AppLaunch
from roost.legacy.session import Sessions
from roost.legacy.weather import Forecasts
from roost.service import Service
from roost.settings import Settings
from roost.weather import Outdoors


def routes(service: Service, settings: Settings, outdoors: Outdoors) -> list[BaseRoute]:
    sessions = Sessions(service, settings)
    weather = Forecasts(service, outdoors)
    return [
        route("/user/login", sessions.login, "POST"),
        route("/session", sessions.session, "GET", "POST"),
        route("/user/service_urls", sessions.service_urls, "POST"),
        route("/weather/v1", weather.weather_v1, "GET"),
        route("/api/0.1/weather/forecast/{query}", weather.forecast, "GET"),
        route("/api/0.1/user/{userid}/app_launch", AppLaunch(service, settings, outdoors),
              "POST"),
        *transport.routes(service, settings),
        *subscribe.routes(service),
    ]
