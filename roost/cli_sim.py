"""``roost sim``: drive the simulator of a running server through its control API
(``/api/v1/sim``, roost/simulator/routes.py), as any HTTP client could."""

from __future__ import annotations

import sys
from typing import Any, NoReturn

import click
import httpx
from rich.console import Console
from rich.markup import escape

from roost.settings import PORT
from roost.simulator.alarms import SCENARIOS
from roost.simulator.cameras import DURATION
from roost.simulator.control import KINDS

# Soft-wrapped: ids and messages stay on one line whatever the terminal's width.
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(1)


class Remote:
    """The control API of one server, for one token."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def call(self, method: str, path: str, body: Any = None, api: str = "/api/v1/sim") -> Any:
        if not self.token:
            raise click.UsageError("no token: pass --token or set ROOST_TOKEN (from `roost "
                                   "token create`, or the one `roost serve --demo` prints)")
        try:
            response = httpx.request(method, f"{self.url}{api}{path}", json=body,
                                     headers={"Authorization": f"Bearer {self.token}"},
                                     timeout=30)
        except httpx.HTTPError as exc:
            fail(f"cannot reach Roost at {self.url}: {exc}")
        if response.is_error:
            try:
                message = response.json()["message"]
            except (ValueError, KeyError, TypeError):
                message = response.text.strip() or response.reason_phrase
            fail(f"{message} (HTTP {response.status_code})")
        return response.json() if response.content else None


@click.group()
@click.option("--url", default=f"http://127.0.0.1:{PORT}", show_default=True,
              envvar="ROOST_URL", help="The running server (or set ROOST_URL).")
@click.option("--token", envvar="ROOST_TOKEN",
              help="A first-party token: `roost token create`, or the one `roost serve "
              "--demo` prints (or set ROOST_TOKEN).")
@click.pass_context
def sim(ctx: click.Context, url: str, token: str | None) -> None:
    """Drive the simulated homes of a running server: scenarios, weather, devices."""
    ctx.obj = Remote(url, token)


remote = click.make_pass_decorator(Remote)


@sim.command()
@remote
def status(api: Remote) -> None:
    """Simulated time, speed, weather and your homes' outdoor temperatures."""
    state = api.call("GET", "")
    out.print(f"simulated time {state['time']}, speed {state['speed']:g}x, "
              f"{'running' if state['running'] else 'not running (stepped by hand)'}")
    out.print(f"weather: {describe_weather(state['weather'])}")
    # One line per home rather than a table, which would cut ids short when narrow.
    for sid, home in state["structures"].items():
        out.print(f"structure {sid}  {escape(home['name'])}  {home['time_zone']}  outdoor "
                  f"{home['outdoor_c']:g} °C")


@sim.command()
@remote
def devices(api: Remote) -> None:
    """Your devices' ids, kinds, names and homes: the ids the other commands take."""
    tree = api.call("GET", "/", api="")
    for kind, found in tree.get("devices", {}).items():
        for device_id, device in found.items():
            out.print(f"{kind.removesuffix('s')} {device_id}  {escape(device.get('name', ''))}"
                      f"  structure {device.get('structure_id', '')}", soft_wrap=True)


def describe_weather(w: dict[str, Any]) -> str:
    if w["outdoor_c"] is not None:
        return f"held at {w['outdoor_c']:g} °C"
    return (f"daily cycle around {w['mean_c']:g} °C ± {w['amplitude_c']:g} °C, warmest at "
            f"{w['warmest_hour']:g}h local time")


@sim.command()
@click.argument("device_id")
@click.argument("scenario", type=click.Choice(SCENARIOS))
@remote
def alarm(api: Remote, device_id: str, scenario: str) -> None:
    """Play a smoke+CO scenario on an alarm (clear ends it)."""
    a = api.call("POST", f"/alarms/{device_id}", {"scenario": scenario})
    out.print(f"{escape(a['name_long'])}: smoke {a['smoke_alarm_state']}, CO "
              f"{a['co_alarm_state']}, battery {a['battery_health']}, ring {a['ui_color_state']}")


@sim.command()
@click.argument("camera_id")
@click.option("--person", is_flag=True, help="A person is seen too.")
@click.option("--sound", is_flag=True, help="Sound is heard too.")
@click.option("--duration", type=click.FloatRange(min=0, min_open=True, max=3600),
              default=DURATION.total_seconds(), show_default=True,
              help="Seconds of simulated time the event lasts.")
@remote
def motion(api: Remote, camera_id: str, person: bool, sound: bool, duration: float) -> None:
    """Start a motion event on a camera."""
    kinds = ["motion", *(["person"] if person else []), *(["sound"] if sound else [])]
    cam = api.call("POST", f"/cameras/{camera_id}/events",
                   {"kinds": kinds, "duration": duration})
    out.print(f"{escape(cam['name_long'])}: {', '.join(kinds)} since "
              f"{cam['last_event']['start_time']}")


@sim.command()
@click.argument("structure_id")
@remote
def arrive(api: Remote, structure_id: str) -> None:
    """Someone comes home."""
    s = api.call("POST", f"/structures/{structure_id}/arrival")
    out.print(f"{escape(s['name'])}: someone arrived; away is {s['away']}")


@sim.command()
@click.argument("structure_id")
@remote
def depart(api: Remote, structure_id: str) -> None:
    """Everyone leaves; Home/Away Assist sets the home away after a while."""
    s = api.call("POST", f"/structures/{structure_id}/departure")
    out.print(f"{escape(s['name'])}: everyone left; away is {s['away']} for now")


@sim.command()
@click.option("--outdoor", type=float, help="Hold the outdoor temperature here, in °C.")
@click.option("--cycle", is_flag=True, help="Back to the daily cycle.")
@click.option("--mean", type=float, help="The daily cycle's mean, in °C.")
@click.option("--amplitude", type=float, help="Half the day's swing, in °C.")
@click.option("--warmest-hour", type=float, help="Local hour of the warmest moment.")
@remote
def weather(api: Remote, outdoor: float | None, cycle: bool, mean: float | None,
            amplitude: float | None, warmest_hour: float | None) -> None:
    """Show or change the weather of every simulated home."""
    if outdoor is not None and cycle:
        raise click.UsageError("use either --outdoor or --cycle")
    body = {key: value for key, value in (("mean_c", mean), ("amplitude_c", amplitude),
                                          ("warmest_hour", warmest_hour), ("outdoor_c", outdoor))
            if value is not None}
    if cycle:
        body["outdoor_c"] = None
    w = api.call("PUT", "/weather", body) if body else api.call("GET", "/weather")
    out.print(f"weather: {describe_weather(w)}")


@sim.command("add-structure")
@click.option("--name", default="Home", show_default=True)
@click.option("--time-zone", default="America/Los_Angeles", show_default=True)
@click.option("--postal-code", default="94043", show_default=True)
@click.option("--country", default="US", show_default=True, help="ISO 3166-1 alpha-2.")
@remote
def add_structure(api: Remote, name: str, time_zone: str, postal_code: str,
                  country: str) -> None:
    """Add a structure to your account and print its id."""
    s = api.call("POST", "/structures", {"name": name, "time_zone": time_zone,
                                         "postal_code": postal_code, "country_code": country})
    click.echo(s["structure_id"])


@sim.command("add-device")
@click.argument("kind", type=click.Choice(list(KINDS)))
@click.argument("structure_id")
@click.option("--where", help="The room, by name; a new one if the structure has none of "
              "that name. Default: where the demo home has one.")
@click.option("--label", default="", help="A thermostat's label.")
@remote
def add_device(api: Remote, kind: str, structure_id: str, where: str | None,
               label: str) -> None:
    """Add a device to a structure and print its id."""
    body = {"kind": kind, "structure_id": structure_id, "where": where, "label": label}
    click.echo(api.call("POST", "/devices", body)["device_id"])


@sim.command()
@click.argument("what", type=click.Choice(["structure", "device"]))
@click.argument("object_id")
@remote
def remove(api: Remote, what: str, object_id: str) -> None:
    """Remove a device, or a structure with all its devices."""
    api.call("DELETE", f"/{what}s/{object_id}")
    out.print(f"removed {what} {escape(object_id)}")


def _set_online(api: Remote, device_id: str, online: bool) -> None:
    d = api.call("PUT", f"/devices/{device_id}/online", {"online": online})
    out.print(f"{escape(d['name_long'])}: {'online' if d['is_online'] else 'offline'}")


@sim.command()
@click.argument("device_id")
@remote
def offline(api: Remote, device_id: str) -> None:
    """Take a device offline: it stops reporting and refuses writes."""
    _set_online(api, device_id, False)


@sim.command()
@click.argument("device_id")
@remote
def online(api: Remote, device_id: str) -> None:
    """Bring a device back online."""
    _set_online(api, device_id, True)
