"""The simulator's control over HTTP, for the user's own homes::

    GET    /api/v1/sim                                   status: clock, speed, weather, homes
    GET    /api/v1/sim/weather                           the weather
    PUT    /api/v1/sim/weather                           {"outdoor_c", "mean_c", ...}
    POST   /api/v1/sim/alarms/<device_id>                {"scenario": "smoke-emergency"}
    POST   /api/v1/sim/cameras/<device_id>/events        {"kinds": ["motion"], "duration": 40}
    POST   /api/v1/sim/structures                        add one; 201
    DELETE /api/v1/sim/structures/<structure_id>         remove it and its devices; 204
    POST   /api/v1/sim/structures/<structure_id>/arrival   someone comes home
    POST   /api/v1/sim/structures/<structure_id>/departure everyone leaves
    POST   /api/v1/sim/devices                           {"kind", "structure_id", "where"}; 201
    DELETE /api/v1/sim/devices/<device_id>               remove it; 204
    PUT    /api/v1/sim/devices/<device_id>/online        {"online": false}

Only a first-party token (``roost token create``, the demo) may drive the simulator: a
product acts as its user's app, not as the devices. Another user's structure or device
answers 404, like a missing one. Errors use the data API's Nest envelope. Answers that
change an object carry it as the data API shows it now.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from roost import errors
from roost.auth import tokens
from roost.auth.principal import Principal
from roost.http.body import read_body
from roost.http.errors import Translations
from roost.http.guard import guarded
from roost.model import paths
from roost.model.home import Obj
from roost.service import Service
from roost.settings import Settings
from roost.simulator.control import Control, Invalid, NotFound, weather_json
from roost.simulator.runner import Simulator

PREFIX = "/api/v1/sim"
Handler = Callable[[Request, Principal], Awaitable[Response]]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# A body field's expected JSON type: its name in messages and the Python types that match.
STRING = ("a string", (str,))
NUMBER = ("a number", (int, float))
BOOLEAN = ("true or false", (bool,))
STRINGS = ("a list of strings", (list,))
Spec = dict[str, tuple[str, tuple[type, ...]]]


def unauthorized() -> errors.ApiError:
    exc = errors.unauthorized()
    exc.headers = {"WWW-Authenticate": "Bearer"}
    return exc


def forbidden() -> errors.ApiError:
    return errors.ApiError(403, "Only Roost's own tokens (from `roost token create` or the "
                           "demo) may drive the simulator", "forbidden")


def invalid(message: str, field: str | None = None) -> errors.ApiError:
    return errors.ApiError(400, message, "invalid-value",
                           {"field_name": field} if field else None)


# What the simulator's control refuses, in the data API's envelope.
CONTROL_ERRORS: Translations = {
    NotFound: lambda exc: errors.ApiError(404, str(exc), "not-found", {"path": exc.path}),
    Invalid: lambda exc: invalid(str(exc), exc.field),
}


class SimApi:
    def __init__(self, service: Service, simulator: Simulator, settings: Settings) -> None:
        self.service = service
        self.control = Control(simulator, running=settings.simulate)
        self.max_body = settings.max_body
        self.session_control = settings.session_control
    def routes(self) -> list[Route]:
        """Every route; register them before the data API's catch-all."""
        route = self._route
        return [
            route(PREFIX, GET=self.status),
            route(f"{PREFIX}/weather", GET=self.weather, PUT=self.set_weather),
            route(f"{PREFIX}/alarms/{{device_id}}", POST=self.alarm),
            route(f"{PREFIX}/cameras/{{device_id}}/events", POST=self.camera_event),
            route(f"{PREFIX}/structures", POST=self.add_structure),
            route(f"{PREFIX}/structures/{{structure_id}}", DELETE=self.remove_structure),
            route(f"{PREFIX}/structures/{{structure_id}}/arrival", POST=self.arrival),
            route(f"{PREFIX}/structures/{{structure_id}}/departure", POST=self.departure),
            route(f"{PREFIX}/devices", POST=self.add_device),
            route(f"{PREFIX}/devices/{{device_id}}", DELETE=self.remove_device),
            route(f"{PREFIX}/devices/{{device_id}}/online", PUT=self.set_online),
            # Anything else under the prefix is no data location either: 404 here, in the
            # same envelope, rather than the data API's reading of a path it does not know.
            route(f"{PREFIX}/{{rest:path}}"),
        ]

    def _route(self, path: str, **handlers: Handler) -> Route:
        """Every method reaches the endpoint, so an unsupported one gets this API's 405
        rather than falling through to the data API's catch-all."""
        return Route(path, self._endpoint(handlers), methods=METHODS)

    def _endpoint(self, handlers: dict[str, Handler]) -> Callable[[Request], Awaitable[Response]]:
        allowed = ", ".join(handlers)

        @guarded(errors.ApiError, extra=CONTROL_ERRORS)
        async def endpoint(request: Request) -> Response:
            principal = await self._caller(request)
            handler = handlers.get(request.method)
            if not handlers:
                raise errors.ApiError(404, f"No simulator endpoint at {request.url.path}",
                                      "not-found", {"path": request.url.path})
            if handler is None:
                raise errors.ApiError.method_not_allowed(request.method, allowed)
            return await handler(request, principal)

        return endpoint

    async def _caller(self, request: Request) -> Principal:
        """A first-party principal from the Authorization header. Not ``?auth=``: these
        requests change homes, and a query string ends up in logs and histories."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized()
        try:
            principal = await self.service.authenticate(token.strip())
        except errors.ApiError as exc:
            if exc.status != 401:  # the home between servers (503)
                raise
            raise unauthorized() from None
        if principal.client_id != tokens.FIRST_PARTY_CLIENT or (
                tokens.is_password_session(principal.token) and not self.session_control):
            raise forbidden()
        return principal

    async def _body(self, request: Request, spec: Spec, required: tuple[str, ...] = (),
                    empty_ok: bool = False) -> dict[str, Any]:
        """The body's fields, checked against ``spec``; unknown keys are refused so a
        misspelt one is not silently ignored."""
        headers = request.headers
        if empty_ok and headers.get("content-length", "0") == "0" \
                and "transfer-encoding" not in headers:
            return {}  # no body at all (read_body would call that invalid JSON)
        body = await read_body(request, self.max_body)
        if not isinstance(body, dict):
            raise errors.ApiError(400, "The body must be a JSON object", "format-error")
        unknown = sorted(set(body) - set(spec))
        if unknown:
            raise invalid(f"Unknown field {unknown[0]}: this request takes "
                          f"{', '.join(spec) or 'no fields'}", unknown[0])
        missing = [name for name in required if name not in body]
        if missing:
            raise invalid(f"Missing field {missing[0]}", missing[0])
        for name, value in body.items():
            what, types = spec[name]
            if value is None and name not in required:
                continue  # null: as if left out (for the weather: back to the daily cycle)
            # JSON's true is no number, nor 1 a boolean.
            ok = isinstance(value, types) and isinstance(value, bool) == (bool in types)
            if ok and types == STRINGS[1]:
                ok = all(isinstance(v, str) for v in value)
            if not ok:
                raise invalid(f"{name} must be {what}", name)
        return body

    def _object(self, principal: Principal, obj: Obj, status: int = 200) -> Response:
        """The object as the data API shows it now, with where to find it there."""
        path = paths.object_path(obj.kind, obj.id)
        body = self.service.read_json(principal, paths.parse(path))
        headers = {"Location": path} if status == 201 else None
        return Response(body, status_code=status, media_type="application/json",
                        headers=headers)

    # -- handlers ----------------------------------------------------------------------------

    async def status(self, request: Request, principal: Principal) -> Response:
        return JSONResponse(self.control.status(principal))

    async def weather(self, request: Request, principal: Principal) -> Response:
        return JSONResponse(weather_json(self.control.simulator.weather))

    async def set_weather(self, request: Request, principal: Principal) -> Response:
        body = await self._body(request, {"outdoor_c": NUMBER, "mean_c": NUMBER,
                                          "amplitude_c": NUMBER, "warmest_hour": NUMBER})
        return JSONResponse(weather_json(self.control.set_weather(body)))

    async def alarm(self, request: Request, principal: Principal) -> Response:
        body = await self._body(request, {"scenario": STRING}, required=("scenario",))
        alarm = await self.control.alarm(principal, request.path_params["device_id"],
                                         body["scenario"])
        return self._object(principal, alarm)

    async def camera_event(self, request: Request, principal: Principal) -> Response:
        body = await self._body(request, {"kinds": STRINGS, "duration": NUMBER},
                                required=("kinds",))
        duration = body.get("duration")
        camera = await self.control.camera_event(
            principal, request.path_params["device_id"], set(body["kinds"]),
            *([] if duration is None else [timedelta(seconds=duration)]))
        return self._object(principal, camera)

    async def add_structure(self, request: Request, principal: Principal) -> Response:
        body = await self._body(request, {"name": STRING, "time_zone": STRING,
                                          "postal_code": STRING, "country_code": STRING},
                                empty_ok=True)
        given = {k: v for k, v in body.items() if v is not None}
        structure = await self.control.add_structure(principal, **given)
        return self._object(principal, structure, 201)

    async def remove_structure(self, request: Request, principal: Principal) -> Response:
        await self.control.remove_structure(principal, request.path_params["structure_id"])
        return Response(status_code=204)

    async def arrival(self, request: Request, principal: Principal) -> Response:
        structure = await self.control.arrive(principal, request.path_params["structure_id"])
        return self._object(principal, structure)

    async def departure(self, request: Request, principal: Principal) -> Response:
        structure = await self.control.depart(principal, request.path_params["structure_id"])
        return self._object(principal, structure)

    async def add_device(self, request: Request, principal: Principal) -> Response:
        body = await self._body(request, {"kind": STRING, "structure_id": STRING,
                                          "where": STRING, "label": STRING},
                                required=("kind", "structure_id"))
        device = await self.control.add_device(
            principal, body["structure_id"], body["kind"], body.get("where"),
            body.get("label") or "")
        return self._object(principal, device, 201)

    async def remove_device(self, request: Request, principal: Principal) -> Response:
        await self.control.remove_device(principal, request.path_params["device_id"])
        return Response(status_code=204)

    async def set_online(self, request: Request, principal: Principal) -> Response:
        body = await self._body(request, {"online": BOOLEAN}, required=("online",))
        device = await self.control.set_online(principal, request.path_params["device_id"],
                                               body["online"])
        return self._object(principal, device)
