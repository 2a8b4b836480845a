"""Every request the client makes, described once (method, path, body, how to read the
answer) and run by the sync and the async client alike."""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx

from roost.client.errors import ApiError
from roost.client.objects import (
    Camera,
    Home,
    Product,
    Protect,
    SimStatus,
    Structure,
    Thermostat,
    Weather,
)

T = TypeVar("T")
SIM = "/api/v1/sim"
PRODUCTS = "/api/v1/clients"
# Nest's device kinds by the names the simulator API uses.
SIM_KINDS = {"thermostats": "thermostat", "smoke_co_alarms": "smoke_co_alarm",
             "cameras": "camera", "thermostat": "thermostat", "protect": "smoke_co_alarm",
             "smoke_co_alarm": "smoke_co_alarm", "camera": "camera"}


@functools.cache
def _default_tls() -> ssl.SSLContext:
    """httpx builds a new TLS context, reading the whole CA bundle, for every client (about
    70 ms); one per process serves them all."""
    make = getattr(httpx, "create_ssl_context", None)
    if make is not None:
        return make()
    import certifi  # httpx's own CA bundle, for versions without create_ssl_context

    return ssl.create_default_context(cafile=certifi.where())


def tls(verify: ssl.SSLContext | bool | str) -> ssl.SSLContext | bool | str:
    """What to give httpx as ``verify``: the shared default context for ``True``."""
    return _default_tls() if verify is True else verify


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    body: Any = None
    read: Callable[[Any], T] = _same


def answer(call: Call[T], response: httpx.Response) -> T:
    """The call's result, or :class:`ApiError` with the server's error body."""
    if response.is_error:
        raise refusal(response)
    return call.read(response.json() if response.content else None)


def refusal(response: httpx.Response) -> ApiError:
    try:
        envelope = response.json()
    except ValueError:
        envelope = None
    if not isinstance(envelope, dict):
        envelope = {"message": response.text.strip() or response.reason_phrase}
    return ApiError(response.status_code, envelope)


def segment(value: str) -> str:
    return quote(value, safe="")


def location(path: str) -> str:
    return path if path.startswith("/") else f"/{path}"


# -- the data API ------------------------------------------------------------------------


def read(path: str) -> Call[Any]:
    return Call("GET", location(path))


def write(path: str, values: dict[str, Any]) -> Call[Any]:
    return Call("PUT", location(path), values)


def home() -> Call[Home]:
    return Call("GET", "/", read=Home.from_json)


def structures() -> Call[dict[str, Structure]]:
    return Call("GET", "/structures",
                read=lambda d: {k: Structure.from_json(v) for k, v in (d or {}).items()})


def structure(structure_id: str) -> Call[Structure]:
    return Call("GET", f"/structures/{segment(structure_id)}", read=Structure.from_json)


def thermostat(device_id: str) -> Call[Thermostat]:
    return Call("GET", f"/devices/thermostats/{segment(device_id)}", read=Thermostat.from_json)


def protect(device_id: str) -> Call[Protect]:
    return Call("GET", f"/devices/smoke_co_alarms/{segment(device_id)}",
                read=Protect.from_json)


def camera(device_id: str) -> Call[Camera]:
    return Call("GET", f"/devices/cameras/{segment(device_id)}", read=Camera.from_json)


def set_thermostat(device_id: str, values: dict[str, Any]) -> Call[Any]:
    return write(f"/devices/thermostats/{segment(device_id)}", values)


def set_structure(structure_id: str, values: dict[str, Any]) -> Call[Any]:
    return write(f"/structures/{segment(structure_id)}", values)


def set_camera(device_id: str, values: dict[str, Any]) -> Call[Any]:
    return write(f"/devices/cameras/{segment(device_id)}", values)


def revoke(token: str) -> Call[None]:
    return Call("DELETE", f"/oauth2/access_tokens/{segment(token)}", read=lambda d: None)


# -- the developer API -------------------------------------------------------------------


def products() -> Call[list[Product]]:
    return Call("GET", PRODUCTS, read=lambda d: [Product.from_json(p) for p in d])


def product(client_id: str) -> Call[Product]:
    return Call("GET", f"{PRODUCTS}/{segment(client_id)}", read=Product.from_json)


def create_product(name: str, permissions: Iterable[str], description: str = "",
                   redirect_uri: str | None = None) -> Call[Product]:
    body = {"name": name, "description": description, "redirect_uri": redirect_uri,
            "permissions": list(permissions)}
    return Call("POST", PRODUCTS, body, Product.from_json)


def update_product(client_id: str, changes: dict[str, Any]) -> Call[Product]:
    return Call("PATCH", f"{PRODUCTS}/{segment(client_id)}", changes, Product.from_json)


def delete_product(client_id: str) -> Call[None]:
    return Call("DELETE", f"{PRODUCTS}/{segment(client_id)}", read=lambda d: None)


# -- the simulator API -------------------------------------------------------------------


def sim_status() -> Call[SimStatus]:
    return Call("GET", SIM, read=SimStatus.from_json)


def weather() -> Call[Weather]:
    return Call("GET", f"{SIM}/weather", read=Weather.from_json)


def set_weather(changes: dict[str, float | None]) -> Call[Weather]:
    return Call("PUT", f"{SIM}/weather", changes, Weather.from_json)


def alarm(device_id: str, scenario: str) -> Call[Protect]:
    return Call("POST", f"{SIM}/alarms/{segment(device_id)}", {"scenario": scenario},
                Protect.from_json)


def camera_event(device_id: str, kinds: Iterable[str],
                 duration: float | None = None) -> Call[Camera]:
    body: dict[str, Any] = {"kinds": list(kinds)}
    if duration is not None:
        body["duration"] = duration
    return Call("POST", f"{SIM}/cameras/{segment(device_id)}/events", body, Camera.from_json)


def add_structure(values: dict[str, str]) -> Call[Structure]:
    return Call("POST", f"{SIM}/structures", values, Structure.from_json)


def remove_structure(structure_id: str) -> Call[None]:
    return Call("DELETE", f"{SIM}/structures/{segment(structure_id)}", read=lambda d: None)


def arrive(structure_id: str) -> Call[Structure]:
    return Call("POST", f"{SIM}/structures/{segment(structure_id)}/arrival",
                read=Structure.from_json)


def depart(structure_id: str) -> Call[Structure]:
    return Call("POST", f"{SIM}/structures/{segment(structure_id)}/departure",
                read=Structure.from_json)


def add_device(kind: str, structure_id: str, where: str | None = None,
               label: str = "") -> Call[dict[str, Any]]:
    """The new device as the data API shows it (a dict: its kind decides its type)."""
    body = {"kind": SIM_KINDS.get(kind, kind), "structure_id": structure_id, "where": where,
            "label": label}
    return Call("POST", f"{SIM}/devices", body)


def remove_device(device_id: str) -> Call[None]:
    return Call("DELETE", f"{SIM}/devices/{segment(device_id)}", read=lambda d: None)


def set_online(device_id: str, online: bool) -> Call[dict[str, Any]]:
    return Call("PUT", f"{SIM}/devices/{segment(device_id)}/online", {"online": online})
