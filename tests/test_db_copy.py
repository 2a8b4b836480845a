"""`roost db copy` with real processes: a home served from a SQLite file moves to PostgreSQL
and back, and a token, a product's token, a legacy password session and a web session made
before the move all work after it, on the same home. And the one-line refusals."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from conftest import RoostProcess, free_port
from postgres_helpers import SERVER, scratch_database

from roost import demo
from roost.store import schema


def roost(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost", *args], capture_output=True,
                          text=True, timeout=120)


def copied(source: str | Path, destination: str | Path) -> dict[str, int]:
    done = roost("db", "copy", "--from", str(source), "--to", str(destination))
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.strip().splitlines()
    return {table: int(n) for table, n in re.findall(r"(\w+) (\d+)", line.split(": ", 1)[1])}


def refused(source: str | Path, destination: str | Path, *needles: str) -> None:
    done = roost("db", "copy", "--from", str(source), "--to", str(destination))
    assert done.returncode != 0
    assert "Traceback" not in done.stderr, done.stderr
    (line,) = done.stderr.strip().splitlines()
    for needle in needles:
        assert needle in line, (needle, line)


@pytest.fixture
def postgres() -> Iterator[str]:
    with scratch_database() as url:
        yield url


def product_token(server: RoostProcess) -> tuple[str, str]:
    """A token of the demo product for the demo user, through the PIN flow a person goes
    through in a browser; and the web session cookie that person signed in with."""
    line = next(line for line in server.output if line.startswith("demo product:"))
    client_id, secret = line.removeprefix("demo product:").strip().split(" / ")
    with httpx.Client(base_url=server.url, timeout=15) as browser:
        signed = browser.post("/login", data={"email": demo.EMAIL, "password": demo.PASSWORD,
                                              "next": "/app"})
        assert signed.status_code == 303
        page = browser.get("/login/oauth2", params={"client_id": client_id, "state": "s"})
        form = dict(re.findall(r'name="(csrf|client_id|state)" value="([^"]*)"', page.text))
        allowed = browser.post("/login/oauth2", data={**form, "decision": "allow"})
        pin = re.search(r'id="pin">([A-Z0-9]{8})<', allowed.text).group(1)  # type: ignore[union-attr]
        token = browser.post("/oauth2/access_token", data={
            "client_id": client_id, "client_secret": secret, "code": pin,
            "grant_type": "authorization_code"}).json()["access_token"]
        return token, browser.cookies["roost_session"]


def legacy_session(server: RoostProcess) -> str:
    login = httpx.post(f"{server.url}/user/login",
                       data={"username": demo.EMAIL, "password": demo.PASSWORD})
    assert login.status_code == 200, login.text
    return login.json()["access_token"]


def seen(server: RoostProcess, tokens: dict[str, str]) -> dict[str, Any]:
    """What each credential made before the move reads from the server now."""
    with httpx.Client(base_url=server.url, timeout=10,
                      cookies={"roost_session": tokens["web"]}) as c:
        return {
            "roost": c.get("/", headers={"Authorization": f"Bearer {tokens['roost']}"}).json(),
            "product": c.get("/", headers={"Authorization": f"Bearer {tokens['product']}"}
                             ).json(),
            "legacy": c.get(f"/v5/mobile/user.{tokens['legacy_user']}",
                            headers={"Authorization": f"Basic {tokens['legacy']}"}
                            ).status_code,
            "web": c.get("/app/access").status_code,
        }


def test_a_home_moves_to_postgres_and_back(tmp_path: Path, postgres: str) -> None:
    first = RoostProcess(tmp_path / "roost.db").start()
    try:
        with first.client() as c:
            tree = c.get("/").json()
            thermostat = next(iter(tree["devices"]["thermostats"]))
            path = f"/devices/thermostats/{thermostat}"
            for body in ({"hvac_mode": "cool"}, {"target_temperature_f": 74}):
                assert c.put(path, json=body).status_code == 200
            assert c.put(path, json={"label": "den"}).status_code == 200
        product, web = product_token(first)
        legacy = legacy_session(first)
        legacy_user = httpx.post(f"{first.url}/user/login", data={
            "username": demo.EMAIL, "password": demo.PASSWORD}).json()["userid"]
        tokens = {"roost": first.token, "product": product, "web": web, "legacy": legacy,
                  "legacy_user": legacy_user}
        before = seen(first, tokens)
        assert (before["legacy"], before["web"]) == (200, 200)
        assert httpx.get(f"{first.url}/app/access").status_code != 200  # signed out
        assert before["product"]["metadata"]["user_id"] != before["roost"]["metadata"][
            "user_id"]  # per product, keyed by the database's secret
    finally:
        first.terminate()  # stopped, as before any move

    counts = copied(first.db, postgres)
    assert counts["users"] == 1 and counts["grants"] >= 1 and counts["objects"] > 0
    assert counts["tokens"] >= 4 and counts["sessions"] >= 1 and counts["codes"] >= 1
    on_postgres = RoostProcess(postgres).start()
    try:
        assert seen(on_postgres, tokens) == before
        with httpx.Client(base_url=on_postgres.url, timeout=10,
                          headers={"Authorization": f"Bearer {tokens['product']}"}) as c:
            # A write on the copy: the change numbers continue after the copied ones.
            assert c.put(path, json={"target_temperature_f": 70}).status_code == 200
        after_write = seen(on_postgres, tokens)
    finally:
        on_postgres.terminate()
    assert after_write["roost"]["devices"]["thermostats"][thermostat][
        "target_temperature_f"] == 70

    back = tmp_path / "back.db"
    assert copied(postgres, back)["changes"] == counts["changes"] + 1
    on_sqlite = RoostProcess(back).start()
    try:
        assert seen(on_sqlite, tokens) == after_write
        with on_sqlite.client() as c:  # and numbering goes on on SQLite too
            assert c.put(path, json={"label": "study"}).status_code == 200
    finally:
        on_sqlite.terminate()


def test_a_destination_that_holds_anything_of_anyones_is_refused(
        tmp_path: Path, postgres: str) -> None:
    source = tmp_path / "roost.db"
    for db in (source, postgres):
        created = roost("user", "create", "--email", "a@example.com", "--password",
                        "password1", "--db", str(db))
        assert created.returncode == 0, created.stderr
    refused(source, postgres, "--to", "not empty (1 users)")
    assert "a@example.com" in roost("user", "list", "--db", postgres).stdout
    refused(postgres, source, "--to", "not empty (1 users)")
    refused(source, source, "the same database")


def test_every_pair_of_kinds_copies(tmp_path: Path) -> None:
    source = tmp_path / "roost.db"
    assert roost("user", "create", "--email", "a@example.com", "--password", "password1",
                 "--db", str(source)).returncode == 0
    with scratch_database() as first, scratch_database() as second:
        for origin, copy in ((source, tmp_path / "copy.db"), (source, first),
                             (first, second)):
            assert copied(origin, copy)["users"] == 1
            assert "a@example.com" in roost("user", "list", "--db", str(copy)).stdout


def test_a_copy_that_fails_leaves_nothing_behind(tmp_path: Path, postgres: str) -> None:
    # SQLite folds only ASCII letters' case, PostgreSQL's lower() every letter's: two users
    # in a file are one email in PostgreSQL, and the copy stops at the second.
    source = tmp_path / "roost.db"
    for email in ("émile@example.com", "Émile@example.com"):
        created = roost("user", "create", "--email", email, "--password", "password1",
                        "--db", str(source))
        assert created.returncode == 0, created.stderr
    refused(source, postgres, "nothing copied", "cannot copy users", "émile@example.com")
    listed = roost("user", "list", "--db", postgres).stdout
    assert "example.com" not in listed
    assert copied(tmp_path / "roost.db", tmp_path / "copy.db")["users"] == 2


def test_a_source_or_destination_being_served_is_refused(tmp_path: Path,
                                                          postgres: str) -> None:
    server = RoostProcess(tmp_path / "roost.db").start()
    try:
        refused(server.db, tmp_path / "copy.db", "--from", "already served")
    finally:
        server.kill()
    on_postgres = RoostProcess(postgres).start()
    try:
        refused(server.db, postgres, "--to", "already served")
    finally:
        on_postgres.kill()


def test_bad_arguments_are_one_line(tmp_path: Path, postgres: str) -> None:
    source = tmp_path / "roost.db"
    assert roost("user", "create", "--email", "a@example.com", "--password", "password1",
                 "--db", str(source)).returncode == 0
    newer = tmp_path / "newer.db"
    shutil.copy(source, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute(f"PRAGMA user_version = {schema.latest() + 1}")
    refused(newer, tmp_path / "new.db", "--from", "newer Roost")
    assert roost("user", "list", "--db", postgres).returncode == 0  # makes the schema
    with psycopg.connect(postgres) as conn:
        conn.execute("UPDATE roost_schema SET version = %s", (schema.latest() + 1,))
    refused(source, postgres, "--to", "newer Roost")
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/roost"
    refused(source, closed, "--to", "cannot reach the database")
    refused(closed, tmp_path / "new.db", "--from", "cannot reach the database")
    refused(source, f"{SERVER}/roost_no_such_database", "--to", "roost_no_such_database")
    refused(tmp_path / "missing.db", tmp_path / "new.db", "--from", "no such database")
    assert not (tmp_path / "new.db").exists()
