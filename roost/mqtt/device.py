"""What every entity's discovery config shares: the device it belongs to, where Roost
announces itself, and when the entity is available."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

ONLINE, OFFLINE = "online", "offline"
MODELS = {"thermostats": "Learning Thermostat", "smoke_co_alarms": "Protect",
          "cameras": "Cam", "structures": "Home"}


@dataclass(frozen=True)
class Topics:
    """The topic layout of one user's homes."""

    prefix: str  # the bridge's: its status is <prefix>/status
    discovery: str  # Home Assistant's discovery prefix
    version: str  # Roost's version, in every config's "origin"
    user: str = ""  # when the bridge acts for every user: this one's slug, after the prefix

    @property
    def own(self) -> str:
        """Where this user's state and command topics are: <own>/<id>/<name>[/set]."""
        return f"{self.prefix}/{self.user}" if self.user else self.prefix

    @property
    def status(self) -> str:
        """The bridge's availability, its last will."""
        return f"{self.prefix}/status"

    @property
    def birth(self) -> str:
        """Where Home Assistant announces itself online."""
        return f"{self.discovery}/status"

    def state(self, id: str, name: str) -> str:
        return f"{self.own}/{id}/{name}"

    def command(self, id: str, name: str) -> str:
        return f"{self.own}/{id}/{name}/set"

    def config(self, component: str, id: str, name: str) -> str:
        return f"{self.discovery}/{component}/roost_{id}/{name}/config"


def user_slug(user_id: str) -> str:
    """A user's part of the topics when the bridge acts for every user: stable, and not their
    email, which is personal data on a broker others may read."""
    return "u" + hashlib.sha256(f"roost-mqtt:{user_id}".encode()).hexdigest()[:12]


def shared(topics: Topics, kind: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The device, origin and availability fragments of every config of one device (or of a
    structure, which Home Assistant sees as a device the others are reached through)."""
    if kind == "structures":
        id = doc["structure_id"]
        device = {"identifiers": [f"roost_{id}"], "name": doc.get("name") or "Home",
                  "manufacturer": "Nest (Roost)", "model": MODELS[kind]}
        # A structure has no is_online: it is there while the bridge is.
        return {"device": device, "origin": origin(topics),
                "availability": [{"topic": topics.status}], "availability_mode": "all"}
    id = doc["device_id"]
    device = {"identifiers": [f"roost_{id}"], "name": doc.get("name_long", ""),
              "manufacturer": "Nest (Roost)", "model": MODELS[kind],
              "sw_version": doc.get("software_version", ""),
              "suggested_area": doc.get("where_name", ""),
              "via_device": f"roost_{doc['structure_id']}"}
    return {"device": device, "origin": origin(topics),
            "availability": [{"topic": topics.status},
                             {"topic": topics.state(id, "availability")}],
            "availability_mode": "all"}


def origin(topics: Topics) -> dict[str, str]:
    return {"name": "Roost", "sw_version": topics.version}


def availability(doc: dict[str, Any]) -> str:
    return ONLINE if doc.get("is_online") else OFFLINE


def on_off(value: bool) -> str:
    return "ON" if value else "OFF"


def number(value: Any) -> str:
    """A temperature or humidity as its state payload; empty (unknown) when absent."""
    return "" if value is None else str(value)
