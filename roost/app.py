"""The ASGI application: the Works with Nest API over one service."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost.api import oauth
from roost.api.developer import DeveloperApi
from roost.api.rest import DataEndpoint
from roost.auth.throttle import LoginThrottle
from roost.clock import Clock, system_clock
from roost.cloud.fan_timers import nobody
from roost.cloud.runner import Cloud
from roost.legacy import routes as legacy
from roost.model import openapi
from roost.service import Service
from roost.settings import Settings
from roost.simulator.routes import SimApi
from roost.simulator.runner import Simulator
from roost.store import open_store
from roost.weather import Outdoors
from roost.web import consent


def create_app(settings: Settings | None = None, clock: Clock = system_clock,
               on_ready: Callable[[Service], Awaitable[None]] | None = None) -> Starlette:
    """The app; ``on_ready`` runs once the store is open and before requests are served."""
    settings = settings or Settings()
    service = Service(open_store(settings.db, settings.synchronous), clock)
    spec = openapi.document()
    developer = DeveloperApi(service, settings.max_body)
    outdoors = Outdoors()
    # Nest's own logic runs always. Where the simulator runs, it plays the thermostats' own
    # logic (fan timers); where it does not, the cloud stands in for it.
    cloud = Cloud(service, settings.speed)
    # Always there, so scenarios can be triggered by hand; it runs on its own only when asked.
    simulator = Simulator(service, speed=settings.speed, occupancy=cloud.home_away,
                          outdoors=outdoors)
    cloud.fan_timers.plays = simulator.plays if settings.simulate else nobody
    bridge = None
    if settings.mqtt is not None:  # imported only when asked for: aiomqtt is an extra
        from roost.mqtt.bridge import Bridge

        bridge = Bridge(service, settings.mqtt)

    async def openapi_json(request: Request) -> Response:
        return JSONResponse(spec)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await service.start()
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
            await service.stop()
            service.store.close()

    app = Starlette(
        routes=[
            Route("/openapi.json", openapi_json, methods=["GET"]),
            Route("/oauth2/access_token", oauth.access_token, methods=["POST"]),
            Route("/oauth2/access_tokens/{token}", oauth.revoke, methods=["DELETE"]),
            Route("/login/oauth2", consent.authorize, methods=["GET"]),
            Route("/login/oauth2", consent.decide, methods=["POST"]),
            Route("/login", consent.sign_in, methods=["POST"]),
            Route("/api/v1/clients", developer),
            Route("/api/v1/clients/{client_id}", developer),
            *SimApi(service, simulator, settings).routes(),
            *legacy.routes(service, settings, outdoors),
            Route("/{path:path}", DataEndpoint(service, settings)),
        ],
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.simulator = simulator
    app.state.cloud = cloud
    app.state.mqtt = bridge
    app.state.login_throttle = LoginThrottle(clock)
    app.state.settings = settings
    return app
