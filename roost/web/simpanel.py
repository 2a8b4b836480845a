"""The simulator's panel: weather, and the scenarios ``roost sim`` has (alarms, motion,
departures and arrivals, devices going offline), for the signed-in user's homes only.

The web app does not import the simulator: the server hands it the simulator's controls as
:class:`SimHooks` on ``app.state.web_sim`` (None when the simulator does not run), and the
controls check that every structure and device is the signed-in user's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from roost import errors
from roost.auth.principal import Principal
from roost.web.visitor import PREFIX, Visitor, form_of, page, service_of, to_sign_in, visitor


class SimControls(Protocol):
    """What the panel uses of the simulator's controls (``roost.simulator.control``)."""

    def status(self, principal: Principal) -> dict[str, Any]: ...
    def set_weather(self, changes: Mapping[str, Any]) -> Any: ...
    async def alarm(self, principal: Principal, alarm_id: str, scenario: str) -> Any: ...
    async def camera_event(self, principal: Principal, camera_id: str,
                           kinds: set[str]) -> Any: ...
    async def arrive(self, principal: Principal, structure_id: str) -> Any: ...
    async def depart(self, principal: Principal, structure_id: str) -> Any: ...
    async def set_online(self, principal: Principal, device_id: str, online: bool) -> Any: ...


@dataclass(frozen=True)
class SimHooks:
    controls: SimControls
    refusals: tuple[type[Exception], ...]  # what the controls raise for a refused request
    scenarios: tuple[str, ...]  # the alarm scenarios


def _hooks(request: Request) -> SimHooks | None:
    return request.app.state.web_sim


KIND_NAMES = {"thermostats": "Thermostat", "smoke_co_alarms": "Smoke + CO alarm",
              "cameras": "Camera"}


def _devices(request: Request, who: Visitor) -> list[dict[str, Any]]:
    """The user's devices as the API shows them to the user, by name."""
    devices = service_of(request).read(who.principal, ()).get("devices", {})
    return [{"id": id, "kind": kind, "what": KIND_NAMES[kind],
             "structure_id": device.get("structure_id"),
             "name": device.get("name_long") or device.get("name") or id,
             "online": device.get("is_online", True)}
            for kind in KIND_NAMES for id, device in sorted(devices.get(kind, {}).items())]


async def show(request: Request, who: Visitor | None = None, status: int = 200,
               done: str = "", refused: str = "", where: str = "") -> Response:
    who = who or await visitor(request)
    if who is None:
        return to_sign_in()
    hooks = _hooks(request)
    if hooks is None:
        return page(request, "app/message.html", who, 404, title="No simulator",
                    text="This Roost runs without the simulator (roost serve --no-simulate).")
    return page(request, "app/simulator.html", who, status, nav="sim",
                sim=hooks.controls.status(who.principal), devices=_devices(request, who),
                scenarios=hooks.scenarios, done=done, refused=refused, where=where)


def _number(form: Any, name: str) -> float | None:
    raw = str(form.get(name, "")).strip()
    return None if raw == "" else float(raw)


async def act(request: Request) -> Response:
    who = await visitor(request)
    hooks = _hooks(request)
    if who is None:
        return to_sign_in()
    form = await form_of(request, who)
    if form is None or hooks is None:
        return await show(request, who, 403, refused="This page has expired. Try again.")
    controls, principal = hooks.controls, who.principal
    action, target = str(form.get("action", "")), str(form.get("target", ""))
    try:
        if action == "weather":
            changes = {"outdoor_c": _number(form, "outdoor_c")}
            for name in ("mean_c", "amplitude_c"):
                if (value := _number(form, name)) is not None:
                    changes[name] = value
            controls.set_weather(changes)
            done = "Weather changed."
        elif action == "alarm":
            await controls.alarm(principal, target, str(form.get("scenario", "")))
            done = f"Alarm {form.get('scenario')} started."
        elif action in ("motion", "person"):
            kinds = {"motion", "person"} if action == "person" else {"motion"}
            await controls.camera_event(principal, target, kinds)
            done = f"The camera saw {'a person' if action == 'person' else 'motion'}."
        elif action == "arrive":
            await controls.arrive(principal, target)
            done = "Someone came home."
        elif action == "depart":
            await controls.depart(principal, target)
            done = "Everyone left."
        elif action in ("offline", "online"):
            await controls.set_online(principal, target, action == "online")
            done = f"The device is {action}."
        else:
            return await show(request, who, 400, refused="Unknown action.")
    except ValueError:
        return await show(request, who, 400, refused="Enter numbers for the weather.",
                          where=action)
    except (*hooks.refusals, errors.ApiError) as exc:
        text = exc.text if isinstance(exc, errors.ApiError) else str(exc)
        return await show(request, who, 400, refused=text, where=action + target)
    return await show(request, who, done=done, where=action + target)


def routes() -> list[Route]:
    return [
        Route(PREFIX + "/simulator", show, methods=["GET"]),
        Route(PREFIX + "/simulator", act, methods=["POST"]),
    ]
