"""Server settings, with the defaults a home server wants."""

from __future__ import annotations

from dataclasses import dataclass

# Where `roost serve` listens unless told otherwise, and where `roost sim` looks for it.
PORT = 8000


@dataclass(frozen=True)
class Settings:
    db: str = "roost.db"
    keepalive: float = 30.0  # seconds between keep-alive events on an idle stream
    send_timeout: float = 60.0  # a stream whose peer takes longer than this to read is closed
    max_body: int = 64 * 1024  # bytes in a write
    synchronous: str = "FULL"  # SQLite: FULL survives power loss, NORMAL only crashes
    simulate: bool = True  # run the home simulator (devices and Nest's own logic)
    speed: float = 1.0  # simulated seconds per real second; paces the simulator's ticks
    # The device protocol (roost/device/): the public origin URLs handed to thermostats are
    # built from (``http://192.168.1.5:8000``; None: the address they called), how long a
    # subscribe is held, and after how long without a call a thermostat is offline.
    device_origin: str | None = None
    device_hold: float = 290.0
    device_offline_after: float = 360.0
    open_signup: bool = False  # visitors may create accounts on the web app's sign-up page
    # Legacy password sessions may also use the developer and simulator control APIs.
    session_control: bool = False
    mqtt: MqttSettings | None = None  # the Home Assistant bridge (docs/mqtt.md); None: off
    # Several processes over one PostgreSQL database (docs/scale-out.md): where clients reach
    # this one, and the slot leases' seconds (lease, renewal, self-fence).
    advertise_url: str = f"http://127.0.0.1:{PORT}"
    lease: tuple[float, float, float] = (10.0, 2.0, 6.0)


@dataclass(frozen=True)
class MqttSettings:
    url: str  # mqtt://[user:pass@]host[:port] or mqtts://…
    user: str | None = None  # the email of the user it acts for; None: the only user
    prefix: str = "roost"  # state and command topics
    discovery: str = "homeassistant"  # Home Assistant's discovery prefix
    all_users: bool = False  # every user, each under <prefix>/<their slug>; user is None
    cafile: str | None = None  # mqtts: trust this CA (PEM) rather than the system's
