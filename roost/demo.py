"""The demo home: one user, one structure, two thermostats, a smoke+CO alarm and a camera;
and one product of that user's with every permission, to try the OAuth flows with.

The home is created through :meth:`Service.create_many` like any other, in one commit; only
what differs from a new device's defaults (:mod:`roost.model.defaults`) is said here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roost.auth import clients, passwords, tokens
from roost.auth.principal import system
from roost.clock import iso
from roost.model import defaults, schedule
from roost.model.defaults import f
from roost.model.home import Obj
from roost.model.schema import PERMISSIONS
from roost.service import New, Service
from roost.store.records import Client, User

EMAIL = "demo@example.com"
PASSWORD = "demo"  # below the command line's minimum length: the demo is not a real account
PRODUCT = "Roost Demo App"


def home(now: datetime) -> list[New]:
    """The demo home as what to create, the structure first."""
    sid = defaults.new_id("structures")
    # Each device has been there a while: it last checked in minutes ago.
    seen = {"structure_id": sid, "last_connection": iso(now - timedelta(minutes=2))}
    # Each thermostat follows a weekly schedule (warmer from 07:00, cooler from 22:30) that the
    # simulator applies; the Bedroom's range stays inside its 66-78 °F lock.
    living_room = {**seen, "where_name": "Living Room",
                   "schedule": schedule.typical("HEAT", (21.0,), (18.0,))}
    bedroom: dict[str, Any] = {
        **seen, "where_name": "Bedroom", "is_locked": True, "locked_temp_min_f": 66,
        "locked_temp_max_f": 78, "label": "upstairs", "has_fan": False,
        "has_heat_pump": False, "has_emergency_heat": False, "hvac_mode": "heat-cool",
        "hvac_state": "off", "target_temperature": f(71), "target_temperature_low": f(68),
        "target_temperature_high": f(75), "ambient_temperature_c": f(71.2), "humidity": 45,
        "schedule": schedule.typical("RANGE", (20.0, 24.0), (19.0, 25.0)),
    }
    alarm = {**seen, "where_name": "Hallway"}
    cam = defaults.new_id("cameras")
    event_start = now - timedelta(minutes=18)
    camera = {
        "structure_id": sid, "device_id": cam, "where_name": "Front Door",
        "last_is_online_change": iso(now - timedelta(days=3)), "last_event": {
            "has_sound": False, "has_motion": True, "has_person": True,
            "start_time": iso(event_start),
            "end_time": iso(event_start + timedelta(seconds=42)),
            "urls_expire_time": iso(now + timedelta(days=7)),
            "web_url": f"https://home.nest.com/cameras/{cam}/events",
            "app_url": f"nestmobile://cameras/{cam}/events",
            "image_url": f"https://roost.invalid/cameras/{cam}/event.jpg",
            "animated_image_url": f"https://roost.invalid/cameras/{cam}/event.gif",
            "activity_zone_ids": ["1"],
        },
    }
    return [("structures", {"structure_id": sid}), ("thermostats", living_room),
            ("thermostats", bedroom), ("smoke_co_alarms", alarm), ("cameras", camera)]


async def create_home(service: Service, user_id: str) -> list[Obj]:
    """Give ``user_id`` the demo home, in one commit: the structure, then its devices."""
    return await service.create_many(system(user_id), home(service.clock()))


@dataclass(frozen=True)
class Demo:
    user: User
    token: str  # a new full-access (first-party) token
    product: Client
    # Only when the product was created just now: afterwards only its digest exists.
    product_secret: str | None


async def prepare(service: Service) -> Demo:
    """Create the demo user, home and product unless they exist; a new token for the user."""
    store = service.store
    user = await store.user_by_email(EMAIL)
    if user is None:
        password_hash = passwords.hash_password(PASSWORD)
        user = await store.create_user(EMAIL, password_hash)
    # Also after a first start died; never for a home another process serves.
    if service.serves(user.id) and not any(service.home.of_user(user.id, "structures")):
        await create_home(service, user.id)
    owner_id = user.id
    # Found by name among the user's products: renamed or deleted, a new one is made.
    product = next((c for c in await store.clients()
                    if c.owner_id == owner_id and c.name == PRODUCT), None)
    secret = None
    if product is None:
        secret = clients.new_secret()
        digest = tokens.digest(secret)
        product = await store.create_client(
            PRODUCT, "The demo home's product, with every permission", digest, None,
            PERMISSIONS, owner_id)
    token = tokens.new_token()
    await store.add_token(tokens.digest(token), owner_id, tokens.FIRST_PARTY_CLIENT)
    return Demo(user, token, product, secret)


async def ensure(service: Service) -> str:
    """Create the demo user, home and product unless they exist; a new full-access token for
    the user."""
    return (await prepare(service)).token
