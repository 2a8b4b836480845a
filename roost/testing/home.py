"""What a test gets from ``roost_home(...)``: its own user and home on the session's server,
with tokens, a client, and ways to make the world happen."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from roost.client import Roost

if TYPE_CHECKING:
    from roost.testing.server import HomeIds, RoostServer

# Every permission a product may hold that reads and writes the whole home.
FULL_PRODUCT = ("Thermostat read/write", "Smoke+CO read", "Away read/write",
                "Camera read/write + images", "Structure read/write")
# Scenarios of play(): the Protect's, and the home's and cameras'.
ALARM_SCENARIOS = ("smoke-warning", "smoke-emergency", "co-warning", "co-emergency",
                   "battery-replace", "manual-test", "clear")
OTHER_SCENARIOS = ("motion", "person", "sound", "depart", "arrive")


@dataclass
class RoostHome:
    """One user's home. ``token`` has full access (Roost's own product: it may drive the
    simulator); :meth:`product_token` makes tokens for a product with chosen permissions."""

    server: RoostServer
    ids: HomeIds
    client: Roost = field(init=False)
    _clients: list[Roost] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self.client = self.new_client()

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def token(self) -> str:
        return self.ids.token

    @property
    def email(self) -> str:
        return self.ids.email

    @property
    def structure_id(self) -> str:
        return self.ids.structure_id

    @property
    def thermostats(self) -> list[str]:
        return self.ids.devices["thermostats"]

    @property
    def protects(self) -> list[str]:
        return self.ids.devices["smoke_co_alarms"]

    @property
    def cameras(self) -> list[str]:
        return self.ids.devices["cameras"]

    def new_client(self, token: str | None = None) -> Roost:
        """A client for this server (closed after the test), with the home's token unless
        another is given."""
        client = Roost(self.url, token or self.token)
        self._clients.append(client)
        return client

    def product_token(self, permissions: Iterable[str] = FULL_PRODUCT,
                      name: str = "Integration under test") -> str:
        """A token of a new product with these permissions (Nest's names:
        docs/permissions.md), accepted by this home's user as the consent page would."""
        return self.server.product_token(self.ids.user_id, permissions, name)

    # -- making the world happen -------------------------------------------------------------

    def advance(self, minutes: float) -> None:
        """Simulated time moves on by ``minutes`` (for every home on the server), minute by
        minute: rooms warm and cool, schedules run, fan timers and Home/Away Assist act."""
        self.server.advance(minutes)

    def play(self, scenario: str, device_id: str | None = None) -> Any:
        """A scenario: a Protect's (``smoke-emergency``, ``co-warning``, ``clear``, …: the
        first Protect unless ``device_id``), a camera's (``motion``, ``person``, ``sound``:
        the first camera), or the home's (``depart``, ``arrive``). What the server answers."""
        sim = self.client.sim
        if scenario in ALARM_SCENARIOS:
            return sim.alarm(device_id or _first(self.protects, "Protect"), scenario)
        if scenario in ("motion", "person", "sound"):
            kinds = ["motion"] if scenario == "motion" else ["motion", scenario]
            return sim.camera_event(device_id or _first(self.cameras, "camera"), kinds)
        if scenario == "depart":
            return sim.depart(device_id or self.structure_id)
        if scenario == "arrive":
            return sim.arrive(device_id or self.structure_id)
        raise ValueError(f"unknown scenario {scenario!r}: one of "
                         f"{', '.join(ALARM_SCENARIOS + OTHER_SCENARIOS)}")

    def offline(self, device_id: str) -> None:
        """The device stops reporting: is_online false, writes to it refused."""
        self.client.sim.set_online(device_id, False)

    def online(self, device_id: str) -> None:
        self.client.sim.set_online(device_id, True)

    def wait_for(self, path: str, condition: Callable[[Any], bool],
                 timeout: float = 10.0) -> Any:
        """Follow ``path`` on a stream (with the home's token) until ``condition`` holds for
        its value; that value. TimeoutError after ``timeout`` seconds."""
        return self.client.wait_for(path, condition, timeout)

    def close(self) -> None:
        for client in self._clients:
            client.close()


def _first(ids: list[str], what: str) -> str:
    if not ids:
        raise ValueError(f"this home has no {what}")
    return ids[0]
