"""Scratch databases on the PostgreSQL that `.ci/run` starts at 127.0.0.1:5432: each made
for one test and dropped after it. Unreachable PostgreSQL fails the test, never skips it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

# The server's maintenance database, where scratch databases are made (trust auth locally).
SERVER = os.environ.get("ROOST_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432")


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a new, empty database, dropped (with any sessions left) at the end."""
    name = f"roost_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    try:
        yield f"{SERVER}/{name}"
    finally:
        with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')  # type: ignore[arg-type]
