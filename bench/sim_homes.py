"""Many users with a demo home each, written into a fresh database before a server starts.

Each user gets the demo home of ``roost/demo.py`` (one structure, two thermostats, a smoke+CO
alarm, a camera), created through :meth:`Service.create_many` like ``roost serve --demo`` does,
and the first ``tokens`` users a full-access token for the load generator.

Each room starts a little warmer or colder than the demo's (up to 1.5 °C either way, the
same for every run): identical homes would all cross a reported degree on the same tick,
which real homes do not.
"""

from __future__ import annotations

import asyncio
import os
import random
from dataclasses import dataclass
from pathlib import Path

from roost import demo
from roost.auth import passwords, tokens
from roost.auth.principal import system
from roost.clock import system_clock
from roost.model import defaults
from roost.model.home import Obj
from roost.service import New, Service
from roost.store import SQLiteStore

THERMOSTATS_PER_HOME = 2  # the demo home's Living Room and Bedroom
HOMES_AT_ONCE = 400  # homes created side by side while seeding
SPREAD_C = 1.5  # how far a room may start from the demo's temperature
# A new thermostat's reading, which the Living Room keeps.
DEFAULT_AMBIENT_C = defaults.device("thermostats", "", "", "",
                                    system_clock())["ambient_temperature"]


@dataclass(frozen=True)
class Seeded:
    """A token of a seeded user and the ids of that user's two thermostats."""

    token: str
    living_room: str  # heat mode
    bedroom: str  # heat-cool


def seed(db: Path, users: int, with_tokens: int = 100) -> list[Seeded]:
    """Create ``users`` users with a demo home each in ``db`` (a new file)."""
    return asyncio.run(_seed(db, users, with_tokens))


async def _seed(db: Path, users: int, with_tokens: int) -> list[Seeded]:
    service = Service(SQLiteStore(db, synchronous="NORMAL"))
    await service.start()
    store = service.store
    # Nobody signs in as these users: one real hash serves them all (argon2 is slow on purpose).
    password_hash = passwords.hash_password(demo.PASSWORD)

    # Created side by side, so they share the store's transactions (group commit).
    user_ids = [user.id for user in await asyncio.gather(
        *(store.create_user(f"sim{n}@example.com", password_hash) for n in range(users)))]
    spread = random.Random(0)
    homes = [(user_id, [_spread(new, spread) for new in demo.home(system_clock())])
             for user_id in user_ids]
    created: list[list[Obj]] = []
    # Homes created side by side share the store's transactions (group commit).
    for start in range(0, len(homes), HOMES_AT_ONCE):
        created += await asyncio.gather(*(service.create_many(system(user_id), home)
                                          for user_id, home in homes[start:start + HOMES_AT_ONCE]))
    seeded: list[Seeded] = []
    for user_id, (_, living_room, bedroom, *_) in zip(user_ids[:with_tokens], created,
                                                      strict=False):
        token = tokens.new_token()
        await store.add_token(tokens.digest(token), user_id, tokens.FIRST_PARTY_CLIENT)
        seeded.append(Seeded(token, living_room.id, bedroom.id))
    await service.stop()
    store.close()
    # On disk before a server starts on it: otherwise the kernel writes the new file back while
    # the first server starts, and its start-up is charged for that (0.3-0.4 s at 10,000 homes).
    os.sync()
    return seeded


def _spread(new: New, rng: random.Random) -> New:
    kind, values = new
    if kind != "thermostats":
        return new
    ambient = values.get("ambient_temperature_c", DEFAULT_AMBIENT_C)
    return kind, {**values, "ambient_temperature_c": ambient + rng.uniform(-SPREAD_C, SPREAD_C)}
