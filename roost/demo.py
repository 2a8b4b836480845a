"""The demo home: one user, one structure, two thermostats, a smoke+CO alarm and a camera;
and one product of that user's with every permission, to try the OAuth flows with.

Its builders (:func:`new_structure`, :func:`new_device`) are also what the simulator's
control adds homes and devices with, so a new device looks like a demo one."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from roost.auth import clients, passwords, tokens
from roost.clock import EPOCH, iso
from roost.model import schedule, units
from roost.model.home import Obj
from roost.model.schema import PERMISSIONS
from roost.service import Service
from roost.store.records import Client, User

EMAIL = "demo@example.com"
PASSWORD = "demo"  # below the command line's minimum length: the demo is not a real account
PRODUCT = "Roost Demo App"

WHERES = (
    "Attic", "Back Door", "Backyard", "Basement", "Bathroom", "Bedroom", "Deck", "Den",
    "Dining Room", "Downstairs", "Driveway", "Entryway", "Family Room", "Front Door",
    "Front Yard", "Garage", "Guest House", "Guest Room", "Hallway", "Kids Room", "Kitchen",
    "Living Room", "Master Bedroom", "Office", "Outside", "Patio", "Shed", "Side Door",
    "Upstairs",
)


def new_id(length: int = 22) -> str:
    return secrets.token_urlsafe(length * 3 // 4)[:length]


def f(fahrenheit: float) -> float:
    return units.f_to_c(fahrenheit)


def new_structure(user_id: str, name: str = "Home", time_zone: str = "America/Los_Angeles",
                  postal_code: str = "94043", country_code: str = "US") -> Obj:
    """A structure with Nest's standard rooms, home, and no devices yet."""
    sid = new_id(43)
    wheres = {new_id(43): where for where in WHERES}
    return Obj("structures", sid, user_id, sid, 1, {
        "structure_id": sid, "name": name, "country_code": country_code,
        "postal_code": postal_code, "time_zone": time_zone, "away": "home",
        "rhr_enrollment": False, "wwn_security_state": "ok", "eta_begin": EPOCH,
        "wheres": {wid: {"where_id": wid, "name": where} for wid, where in wheres.items()},
    })


def thermostat_data(device_id: str, now: datetime) -> dict[str, Any]:
    """A heat pump with a fan and emergency heat, heating to 70 °F."""
    return {
        "locale": "en-US", "software_version": "5.9.3-5",
        "last_connection": iso(now - timedelta(minutes=2)), "temperature_scale": "F",
        "has_leaf": False, "is_locked": False, "locked_temp_min": f(64),
        "locked_temp_max": f(80), "sunlight_correction_enabled": True,
        "sunlight_correction_active": False, "fan_timer_active": False,
        "fan_timer_timeout": EPOCH, "fan_timer_duration": 15, "previous_hvac_mode": "",
        "eco_temperature_low": f(62), "eco_temperature_high": f(80), "label": "",
        "time_to_target": "~0", "time_to_target_training": "ready",
        "can_heat": True, "can_cool": True, "has_fan": True, "is_using_emergency_heat": False,
        "has_heat_pump": True, "has_emergency_heat": True, "hvac_mode": "heat",
        "hvac_state": "heating", "target_temperature": f(70),
        "target_temperature_low": f(66), "target_temperature_high": f(76),
        "ambient_temperature": f(68.4), "humidity": 41,
    }


def alarm_data(device_id: str, now: datetime) -> dict[str, Any]:
    """A Protect with all clear, tested twelve days ago."""
    return {
        "locale": "en-US", "software_version": "3.1.4",
        "last_connection": iso(now - timedelta(minutes=2)), "battery_health": "ok",
        "co_alarm_state": "ok", "smoke_alarm_state": "ok", "is_manual_test_active": False,
        "last_manual_test_time": iso(now - timedelta(days=12)),
    }


def camera_data(device_id: str, now: datetime) -> dict[str, Any]:
    """A streaming camera with two activity zones and no event yet."""
    return {
        "software_version": "205-600052", "is_streaming": True, "is_audio_input_enabled": True,
        "last_is_online_change": iso(now - timedelta(days=3)), "is_video_history_enabled": True,
        "web_url": f"https://home.nest.com/cameras/{device_id}",
        "app_url": f"nestmobile://cameras/{device_id}",
        "is_public_share_enabled": False, "public_share_url": "",
        "snapshot_url": f"https://roost.invalid/cameras/{device_id}/snapshot.jpg",
        "activity_zones": [{"name": "Porch", "id": 1}, {"name": "Driveway", "id": 2}],
    }


DEVICE_DATA: dict[str, Callable[[str, datetime], dict[str, Any]]] = {
    "thermostats": thermostat_data,
    "smoke_co_alarms": alarm_data,
    "cameras": camera_data,
}


def new_device(kind: str, structure: Obj, where_id: str, now: datetime, device_id: str = "",
               **data: Any) -> Obj:
    """A device of ``kind`` as the demo home has one, online; ``data`` overrides defaults."""
    did = device_id or new_id(32 if kind == "smoke_co_alarms" else 22)
    common = {"device_id": did, "structure_id": structure.id, "where_id": where_id,
              "is_online": True}
    return Obj(kind, did, structure.user_id, structure.id, 1,
               {**common, **DEVICE_DATA[kind](did, now), **data})


def home_objects(user_id: str, now: datetime) -> list[Obj]:
    structure = new_structure(user_id)
    where = {w["name"]: wid for wid, w in structure.data["wheres"].items()}
    # Each follows a weekly schedule (warmer from 07:00, cooler from 22:30) that the simulator
    # applies; the Bedroom's range stays inside its 66-78 °F lock.
    living_room = new_device("thermostats", structure, where["Living Room"], now,
                             schedule=schedule.typical("HEAT", (21.0,), (18.0,)))
    bedroom = new_device(
        "thermostats", structure, where["Bedroom"], now, is_locked=True,
        locked_temp_min=f(66), locked_temp_max=f(78), label="upstairs", has_fan=False,
        has_heat_pump=False, has_emergency_heat=False,
        hvac_mode="heat-cool", hvac_state="off", target_temperature=f(71),
        target_temperature_low=f(68), target_temperature_high=f(75),
        ambient_temperature=f(71.2), humidity=45,
        schedule=schedule.typical("RANGE", (20.0, 24.0), (19.0, 25.0)),
    )
    alarm = new_device("smoke_co_alarms", structure, where["Hallway"], now)
    cam = new_id()
    event_start = now - timedelta(minutes=18)
    camera = new_device("cameras", structure, where["Front Door"], now, cam, last_event={
        "has_sound": False, "has_motion": True, "has_person": True,
        "start_time": iso(event_start), "end_time": iso(event_start + timedelta(seconds=42)),
        "urls_expire_time": iso(now + timedelta(days=7)),
        "web_url": f"https://home.nest.com/cameras/{cam}/events",
        "app_url": f"nestmobile://cameras/{cam}/events",
        "image_url": f"https://roost.invalid/cameras/{cam}/event.jpg",
        "animated_image_url": f"https://roost.invalid/cameras/{cam}/event.gif",
        "activity_zone_ids": ["1"],
    })
    return [structure, living_room, bedroom, alarm, camera]


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
    if not any(service.home.of_user(user.id, "structures")):  # also after a first start died
        await service.commit(home_objects(user.id, service.clock()))
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
