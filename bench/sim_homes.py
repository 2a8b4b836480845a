"""Many users with a demo home each, written into a fresh database before a server starts.

Each user gets the demo home of ``roost/demo.py`` (one structure, two thermostats, a smoke+CO
alarm, a camera), committed through :meth:`Service.commit` like ``roost serve --demo`` does,
and the first ``tokens`` users a full-access token for the load generator.

Each room starts a little warmer or colder than the demo's (up to 1.5 °C either way, the
same for every run): identical homes would all cross a reported degree on the same tick,
which real homes do not.
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path

from roost import demo
from roost.auth import passwords, tokens
from roost.clock import system_clock
from roost.model.home import Obj
from roost.service import Service
from roost.store import SQLiteStore, queries

THERMOSTATS_PER_HOME = 2  # the demo home's Living Room and Bedroom
CHUNK = 2_000  # objects per commit while seeding
SPREAD_C = 1.5  # how far a room may start from the demo's temperature


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

    def accounts(conn: queries.Conn) -> list[str]:
        return [queries.create_user(conn, f"sim{n}@example.com", password_hash).id
                for n in range(users)]

    user_ids = await store.write(accounts)
    objects: list[Obj] = []
    seeded: list[Seeded] = []
    spread = random.Random(0)
    for n, user_id in enumerate(user_ids):
        home = [_spread(o, spread) for o in demo.home_objects(user_id, system_clock())]
        objects.extend(home)
        if n < with_tokens:
            token = tokens.new_token()
            await store.write(lambda conn, u=user_id, t=token: queries.add_token(
                conn, tokens.digest(t), u, tokens.FIRST_PARTY_CLIENT))
            by_where = {o.data["where_id"]: o.id for o in home if o.kind == "thermostats"}
            wheres = home[0].data["wheres"]
            names = {wheres[w]["name"]: i for w, i in by_where.items()}
            seeded.append(Seeded(token, names["Living Room"], names["Bedroom"]))
    for start in range(0, len(objects), CHUNK):
        await service.commit(objects[start:start + CHUNK])
    await service.stop()
    store.close()
    return seeded


def _spread(obj: Obj, rng: random.Random) -> Obj:
    if obj.kind != "thermostats":
        return obj
    ambient = obj.data["ambient_temperature"] + rng.uniform(-SPREAD_C, SPREAD_C)
    return dataclasses.replace(obj, data={**obj.data, "ambient_temperature": ambient})
