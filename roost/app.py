"""The ASGI application: the Works with Nest API over one service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from roost import device, errors
from roost.api import oauth
from roost.api.developer import DeveloperApi
from roost.api.dispatch import DataFirst
from roost.api.rest import DataEndpoint
from roost.auth.oauth import OAuthError
from roost.auth.throttle import LoginThrottle
from roost.clock import Clock, system_clock
from roost.cloud.fan_timers import nobody
from roost.cloud.runner import Cloud
from roost.http.cors import Cors
from roost.http.errors import Elsewhere
from roost.http.guard import guarded
from roost.legacy import routes as legacy
from roost.model import openapi
from roost.service import Service
from roost.settings import Settings
from roost.simulator import alarms
from roost.simulator.control import Control, ControlError
from roost.simulator.routes import SimApi
from roost.simulator.runner import Simulator
from roost.store import open_store
from roost.store.base import LeaseTiming
from roost.weather import Outdoors
from roost.web import consent
from roost.web import routes as web
from roost.web.simpanel import SimHooks

# What answers only its own origin: the web app, the OAuth pages and endpoints, the
# developer and simulator APIs. The data API answers any origin (roost/http/cors.py).
SAME_ORIGIN = ("/app", "/login", "/oauth2", "/api/v1")


async def _not_found(scope: Scope, receive: Receive, send: Send) -> None:
    """What no route matches, a path with a line break in it (the catch-all's pattern does
    not cross lines): the data API's JSON 404 rather than Starlette's plain text."""
    if scope["type"] == "http":
        path = Request(scope).url.path
        await errors.not_found(path).response()(scope, receive, send)


ANY_METHOD = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


async def _elsewhere(request: Request, exc: Exception) -> Response:
    """A home another server process serves, asked of a handler no API guard wraps (the
    web app's pages): the same 307 as every API's; 503 while no process serves it."""
    if isinstance(exc, Elsewhere):
        return exc.redirect(request)
    assert isinstance(exc, errors.ApiError)
    if exc.status != 503:
        raise exc
    return exc.response()


def _pages(**by_method: Callable[[Request], Awaitable[Response]]
           ) -> Callable[[Request], Awaitable[Response]]:
    """The sign-in and consent pages at one path: each method's handler, another method a
    405 and a refused body a 413, in the OAuth envelope (their JSON refusals' shape)."""

    @guarded(OAuthError, methods=tuple(by_method))
    async def page(request: Request) -> Response:
        return await by_method[request.method](request)

    return page


def create_app(settings: Settings | None = None, clock: Clock = system_clock,
               on_ready: Callable[[Service], Awaitable[None]] | None = None) -> Starlette:
    """The app; ``on_ready`` runs once the store is open and before requests are served."""
    settings = settings or Settings()
    store = open_store(settings.db, settings.synchronous)
    service = Service(store, clock, store.join(settings.advertise_url,
                                               LeaseTiming(*settings.lease)))
    spec = openapi.document()
    developer = DeveloperApi(service, settings.max_body, settings.session_control)
    outdoors = Outdoors()
    # Nest's own logic runs always. Where the simulator runs, it plays the thermostats' own
    # logic (fan timers); where it does not, the cloud stands in for it.
    cloud = Cloud(service, settings.speed)
    # Always there, so scenarios can be triggered by hand; it runs on its own only when asked.
    simulator = Simulator(service, speed=settings.speed, occupancy=cloud.home_away,
                          outdoors=outdoors)
    cloud.fan_timers.plays = simulator.plays if settings.simulate else nobody
    devices = device.Registry(service, settings.device_hold, settings.device_offline_after)
    bridge = None
    if settings.mqtt is not None:  # imported only when asked for: aiomqtt is an extra
        from roost.mqtt.bridge import Bridge

        bridge = Bridge(service, settings.mqtt)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
        await devices.start()
        if on_ready is not None:
            await on_ready(service)
        # Started after on_ready, so the first steps see the home it prepared.
        clouding = asyncio.create_task(cloud.run())
        running = asyncio.create_task(simulator.run()) if settings.simulate else None
        if bridge is not None:
            await bridge.start()
        try:
            yield
        finally:
            if bridge is not None:
                await bridge.stop()
            # Each lets a step in progress finish before the store closes.
            cloud.stop()
            if running is not None:
                simulator.stop()
                await running
            await clouding
            await devices.stop()
            await service.stop()
            service.store.close()

    # The data API answers other origins; a browser asking for a page at / goes to the web app.
    data = Cors(DataEndpoint(service, settings), SAME_ORIGIN)
    top = web.FrontDoor(data)
    app = DataFirst(
        data,
        top,
        routes=[
            Route("/openapi.json", openapi_json, methods=["GET"]),
            # Every method reaches these, so another one is the OAuth envelope's 405 rather
            # than a write to the data API's catch-all.
            Route("/oauth2/access_token", oauth.access_token, methods=ANY_METHOD),
            Route("/oauth2/access_tokens/{token}", oauth.revoke, methods=ANY_METHOD),
            Route("/login/oauth2", _pages(GET=consent.authorize, POST=consent.decide),
                  methods=ANY_METHOD),
            Route("/login", _pages(POST=consent.sign_in), methods=ANY_METHOD),
            Route("/api/v1/clients", developer),
            Route("/api/v1/clients/{client_id}", developer),
            *SimApi(service, simulator, settings).routes(),
            *legacy.routes(service, settings, outdoors),
            *device.routes(devices, settings.device_origin),
            *device.api_routes(devices),
            *web.routes(),
            Route("/{path:path}", top),  # what DataFirst does not send straight to it
        ],
        lifespan=lifespan,
        exception_handlers={Elsewhere: _elsewhere, errors.ApiError: _elsewhere},
    )
    app.router.default = _not_found
    app.add_exception_handler(errors.StorageUnavailable, web.unavailable)
    app.state.service = service
    app.state.simulator = simulator
    app.state.cloud = cloud
    app.state.devices = devices
    # What --device-port serves: the device protocol alone, at the root the firmware expects.
    app.state.device_app = Starlette(routes=device.routes(devices, settings.device_origin))
    app.state.mqtt = bridge
    app.state.login_throttle = LoginThrottle(clock)
    app.state.settings = settings
    # The web app's simulator panel, for the signed-in user's homes, when the simulator runs.
    app.state.web_sim = SimHooks(Control(simulator), (ControlError,), alarms.SCENARIOS) \
        if settings.simulate else None
    return app
