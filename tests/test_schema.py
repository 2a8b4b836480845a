"""One numbered list of schema steps drives both stores: after migrating, a SQLite file and a
PostgreSQL database are at the same version with the same tables and columns, a step added
to the list reaches both, and a database of a newer Roost is refused in one line on both."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from postgres_helpers import scratch_database

from roost.store import schema
from roost.store.postgres import PostgresStore
from roost.store.sqlite import SQLiteStore

Layout = dict[str, list[str]]


@pytest.fixture
def url() -> Iterator[str]:
    with scratch_database() as made:
        yield made


def migrated(db: str | Path) -> None:
    store = PostgresStore(db) if isinstance(db, str) else SQLiteStore(db)
    store.open()
    store.close()


def sqlite_layout(path: Path) -> tuple[int, Layout]:
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return version, {t: [row[1] for row in conn.execute(f"PRAGMA table_info({t})")]
                         for t in tables}
    finally:
        conn.close()


def postgres_layout(url: str) -> tuple[int, Layout]:
    with psycopg.connect(url) as conn:
        (version,) = conn.execute("SELECT version FROM roost_schema").fetchone() or (0,)
        layout: Layout = {}
        for table, column in conn.execute(
                "SELECT table_name, column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name <> 'roost_schema' "
                "ORDER BY table_name, ordinal_position"):
            layout.setdefault(table, []).append(column)
        return version, layout


def test_both_stores_end_at_the_same_version_with_the_same_tables_and_columns(
        tmp_path: Path, url: str) -> None:
    migrated(tmp_path / "roost.db")
    migrated(url)
    version, layout = sqlite_layout(tmp_path / "roost.db")
    assert version == schema.latest() == len(schema.STEPS)
    assert postgres_layout(url) == (version, layout)
    assert sorted(layout) == sorted(schema.TABLES + schema.SHARING)
    assert layout["tokens"] == ["hash", "user_id", "client_id", "created", "revoked",
                                "grant_id", "code_hash", "expires"]


def test_a_step_added_to_the_list_reaches_both_stores(
        tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "roost.db"
    migrated(file)
    migrated(url)
    before = schema.latest()
    # The one edit a new step is: an entry at the end of the list.
    monkeypatch.setattr(schema, "STEPS", [*schema.STEPS, [
        "ALTER TABLE users ADD COLUMN nickname TEXT",
        schema.Dialects(
            sqlite="CREATE TABLE notes (seq INTEGER PRIMARY KEY AUTOINCREMENT, body TEXT)",
            postgres="CREATE TABLE notes (seq BIGINT GENERATED ALWAYS AS IDENTITY "
                     "PRIMARY KEY, body TEXT)"),
    ]])
    migrated(file)  # databases already at the old version take the new step
    migrated(url)
    version, layout = sqlite_layout(file)
    assert version == before + 1
    assert layout["notes"] == ["seq", "body"]
    assert layout["users"][-1] == "nickname"
    assert postgres_layout(url) == (version, layout)


def roost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost", *args], capture_output=True,
                          text=True, timeout=60)


def test_a_postgres_database_of_a_newer_roost_is_refused_in_one_line(url: str) -> None:
    migrated(url)
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE roost_schema SET version = %s", (schema.latest() + 1,))
    for command in (["user", "list"], ["serve", "--no-simulate"]):
        done = roost(*command, "--db", url)
        assert done.returncode != 0
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "newer Roost" in lines[0], done.stderr
        assert f"schema version {schema.latest() + 1}" in lines[0]


def test_a_database_of_the_first_postgres_store_keeps_working(url: str) -> None:
    # The first PostgreSQL store wrote what is now steps 1 to 6 as one step, numbered 1.
    migrated(url)
    with psycopg.connect(url) as conn:
        # Undo the steps after those: the tables of servers sharing the database.
        conn.execute("DROP TABLE slots, members, event_counter")
        conn.execute("ALTER TABLE account_events ALTER COLUMN seq "
                     "ADD GENERATED ALWAYS AS IDENTITY")
        conn.execute("UPDATE roost_schema SET version = 1")
    created = roost("user", "create", "--email", "a@example.com", "--password", "password1",
                    "--db", url)
    assert created.returncode == 0, created.stderr
    assert "a@example.com" in roost("user", "list", "--db", url).stdout
    assert postgres_layout(url)[0] == schema.latest()


def test_postgres_keeps_home_objects_uncompressed_with_room_for_their_next_version(
        url: str) -> None:
    """Every write rewrites an object's row: no compressing rows of a few KB on each, and
    half-filled pages, so the new version fits beside the old one without new index
    entries."""
    migrated(url)
    with psycopg.connect(url) as conn:
        (options,) = conn.execute(
            "SELECT reloptions FROM pg_class WHERE oid = 'objects'::regclass").fetchone()
    assert sorted(options) == ["fillfactor=50", "toast_tuple_target=8160"]
