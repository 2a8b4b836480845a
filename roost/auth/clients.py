"""Products (OAuth clients) that exist in every Roost."""

from __future__ import annotations

import sqlite3

from roost.auth.tokens import FIRST_PARTY_CLIENT
from roost.model.schema import PERMISSIONS
from roost.store import queries


def ensure_first_party(conn: sqlite3.Connection) -> None:
    """Roost's own product: every permission, for the command line and the dashboard."""
    queries.ensure_client(conn, FIRST_PARTY_CLIENT, "Roost", PERMISSIONS,
                          "Roost's own dashboard and command line")
