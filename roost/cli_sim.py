"""``roost sim``: drive the simulator of a running server through its control API
(``/api/v1/sim``, roost/simulator/routes.py) through :mod:`roost.client`."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click
from rich.console import Console
from rich.markup import escape

from roost.client import ApiError, Roost, Unreachable
from roost.client.calls import SIM
from roost.client.objects import Weather
from roost.client.sync import Sim
from roost.settings import PORT
from roost.simulator.alarms import SCENARIOS
from roost.simulator.cameras import DURATION
from roost.simulator.control import KINDS

# Soft-wrapped: ids and messages stay on one line whatever the terminal's width.
T = TypeVar("T")
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}")
    sys.exit(1)


class Remote:
    """The simulator of one server, for one token, through :mod:`roost.client`; a refusal or
    an unreachable server ends the command with its message."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.token = token

    def __call__(self, act: Callable[[Sim], T]) -> T:
        return self.with_client(lambda client: act(client.sim))

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """Any request under the simulator's prefix (``""`` for its status), for a command
        the typed methods of :class:`roost.client.sync.Sim` do not cover."""
        return self.with_client(lambda client: client.request(method, f"{SIM}{path}", body))

    def with_client(self, act: Callable[[Roost], T]) -> T:
        if not self.token:
            raise click.UsageError("no token: pass --token or set ROOST_TOKEN (from `roost "
                                   "token create`, or the one `roost serve --demo` prints)")
        with Roost(self.url, self.token, timeout=30) as client:
            try:
                return act(client)
            except ApiError as exc:
                fail(str(exc))
            except Unreachable as exc:
                fail(str(exc))


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
    state = api(lambda sim: sim.status())
    out.print(f"simulated time {state.time}, speed {state.speed:g}x, "
              f"{'running' if state.running else 'not running (stepped by hand)'}")
    out.print(f"weather: {describe_weather(state.weather)}")
    # One line per home rather than a table, which would cut ids short when narrow.
    for sid, home in state.structures.items():
        out.print(f"structure {sid}  {escape(home['name'])}  {home['time_zone']}  outdoor "
                  f"{home['outdoor_c']:g} °C")


@sim.command()
@remote
def devices(api: Remote) -> None:
    """Your devices' ids, kinds, names and homes: the ids the other commands take."""
    tree = api.with_client(lambda client: client.get("/"))
    for kind, found in tree.get("devices", {}).items():
        for device_id, device in found.items():
            out.print(f"{kind.removesuffix('s')} {device_id}  {escape(device.get('name', ''))}"
                      f"  structure {device.get('structure_id', '')}", soft_wrap=True)


def describe_weather(w: Weather) -> str:
    if w.outdoor_c is not None:
        return f"held at {w.outdoor_c:g} °C"
    return (f"daily cycle around {w.mean_c:g} °C ± {w.amplitude_c:g} °C, warmest at "
            f"{w.warmest_hour:g}h local time")


@sim.command()
@click.argument("device_id")
@click.argument("scenario", type=click.Choice(SCENARIOS))
@remote
def alarm(api: Remote, device_id: str, scenario: str) -> None:
    """Play a smoke+CO scenario on an alarm (clear ends it)."""
    a = api(lambda sim: sim.alarm(device_id, scenario))
    out.print(f"{escape(a.name_long or '')}: smoke {a.smoke_alarm_state}, CO "
              f"{a.co_alarm_state}, battery {a.battery_health}, ring {a.ui_color_state}")


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
    cam = api(lambda sim: sim.camera_event(camera_id, kinds, duration))
    start = cam.last_event.start_time if cam.last_event else "?"
    out.print(f"{escape(cam.name_long or '')}: {', '.join(kinds)} since {start}")


@sim.command()
@click.argument("structure_id")
@remote
def arrive(api: Remote, structure_id: str) -> None:
    """Someone comes home."""
    s = api(lambda sim: sim.arrive(structure_id))
    out.print(f"{escape(s.name or '')}: someone arrived; away is {s.away}")


@sim.command()
@click.argument("structure_id")
@remote
def depart(api: Remote, structure_id: str) -> None:
    """Everyone leaves; Home/Away Assist sets the home away after a while."""
    s = api(lambda sim: sim.depart(structure_id))
    out.print(f"{escape(s.name or '')}: everyone left; away is {s.away} for now")


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
    body: dict[str, float | None] = {
        key: value for key, value in (("mean_c", mean), ("amplitude_c", amplitude),
                                      ("warmest_hour", warmest_hour), ("outdoor_c", outdoor))
        if value is not None}
    if cycle:
        body["outdoor_c"] = None
    w = api(lambda sim: sim.set_weather(**body) if body else sim.weather())
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
    s = api(lambda sim: sim.add_structure(name=name, time_zone=time_zone,
                                          postal_code=postal_code, country_code=country))
    click.echo(s.structure_id)


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
    click.echo(api(lambda sim: sim.add_device(kind, structure_id, where, label))["device_id"])


@sim.command()
@click.argument("what", type=click.Choice(["structure", "device"]))
@click.argument("object_id")
@remote
def remove(api: Remote, what: str, object_id: str) -> None:
    """Remove a device, or a structure with all its devices."""
    api(lambda sim: sim.remove_structure(object_id) if what == "structure"
        else sim.remove_device(object_id))
    out.print(f"removed {what} {escape(object_id)}")


def _set_online(api: Remote, device_id: str, online: bool) -> None:
    d = api(lambda sim: sim.set_online(device_id, online))
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
