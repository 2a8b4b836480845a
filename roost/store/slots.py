"""Slots: how the homes of one PostgreSQL database are shared out among server processes.

Every user's homes fall in one of :data:`SLOTS` slots, by a hash of the user's id that is the
same on every process and every machine. A slot is owned by one live process at a time; the
``slots`` table says which (and where clients reach it), the front door sends each token to
the owner of its user's slot, and every commit of home objects re-checks the ownership of
their slots in its own transaction (docs/scale-out.md).

Many more slots than processes, so that a process joining or leaving moves a small share of
the homes, and one busy home never decides where a large share of the others live.
"""

from __future__ import annotations

import hashlib

SLOTS = 1024

# One row per slot, made with the table. ``owner`` names a process for one run of it; a
# takeover adds one to ``epoch``, so an owner's writes can be fenced by (owner, epoch).
# ``lease_until`` is on the database's clock, never a process's own.
TABLE = """
    CREATE TABLE slots (
        slot INTEGER PRIMARY KEY,
        owner TEXT,
        url TEXT,
        epoch BIGINT NOT NULL DEFAULT 0,
        lease_until TIMESTAMPTZ
    )
"""

# Where the live owners are: what the front door and a process asked about a home it does
# not own send clients to.
LIVE_OWNERS = "SELECT slot, url FROM slots WHERE owner IS NOT NULL AND lease_until > now()"


def slot_of(user_id: str) -> int:
    """The slot of a user's homes."""
    digest = hashlib.blake2b(user_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % SLOTS
