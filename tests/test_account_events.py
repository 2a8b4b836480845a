"""Account changes reach a running server whoever makes them: here the ``roost`` command line,
a separate process writing the server's SQLite file. And one server per file: a second one
refuses to start, while the command line keeps working beside the first. On SQLite and on
PostgreSQL.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
from conftest import BOTH_STORES, SQLITE_ONLY, Api, RoostProcess, free_port
from permissions_helpers import grant_token_in
from sse import EOF, Event, Stream

from roost import demo

THERMOSTAT_READ = "Thermostat read"

pytestmark = BOTH_STORES


def roost(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=60)


def status(server: RoostProcess, token: str, path: str = "/metadata") -> int:
    return httpx.get(server.url + path, headers={"Authorization": f"Bearer {token}"},
                     timeout=10).status_code


def test_a_product_deleted_on_the_command_line_ends_its_streams_on_a_running_server(
        roost_server: RoostProcess) -> None:
    server = roost_server
    granted = grant_token_in(server.db, [THERMOSTAT_READ])
    doomed = Stream(server.url + "/", granted.token)
    kept = Stream(server.url + "/", server.token)
    try:
        assert isinstance(doomed.next(), Event) and isinstance(kept.next(), Event)
        assert status(server, granted.token) == 200  # the server has seen the token

        deleted = roost(server.db, "client", "delete", granted.product.id)
        done = time.monotonic()
        assert deleted.returncode == 0, deleted.stderr
        assert "1 live tokens revoked" in deleted.stdout

        last = doomed.next(timeout=2.0)
        assert isinstance(last, Event) and last.event == "auth_revoked", last
        assert last.data == "null"
        assert time.monotonic() - done < 2.0
        assert doomed.next() is EOF
        assert status(server, granted.token) == 401
        assert kept.drain() == [] and status(server, server.token) == 200
    finally:
        doomed.close()
        kept.close()


def test_a_product_edited_on_the_command_line_keeps_its_streams(
        roost_server: RoostProcess) -> None:
    """Editing a product changes no grant (users keep what they accepted), so nothing of its
    tokens changes on the running server."""
    server = roost_server
    granted = grant_token_in(server.db, [THERMOSTAT_READ])
    stream = Stream(server.url + "/", granted.token)
    try:
        assert isinstance(stream.next(), Event)
        updated = roost(server.db, "client", "update", granted.product.id, "--name", "Renamed",
                        "--permission", THERMOSTAT_READ, "--permission", "Away read")
        assert updated.returncode == 0, updated.stderr
        assert "version 2" in updated.stdout
        time.sleep(1.5)  # several times the server's look for account changes
        assert stream.drain() == []
        meta = httpx.get(server.url + "/metadata", timeout=10,
                         headers={"Authorization": f"Bearer {granted.token}"}).json()
        assert meta["client_version"] == 1
    finally:
        stream.close()


@SQLITE_ONLY  # a file's lock; PostgreSQL's is in test_postgres_serve.py
def test_a_second_server_on_the_same_file_refuses_to_start(make_server: object,
                                                             tmp_path: Path) -> None:
    db = tmp_path / "shared.db"
    first = make_server(db=db)  # type: ignore[operator]
    second = subprocess.run(
        [sys.executable, "-m", "roost", "serve", "--no-simulate", "--db", str(db),
         "--port", str(free_port())],  # a free port: a busy one is refused first
        capture_output=True, text=True, timeout=60)
    assert second.returncode != 0
    lines = (second.stdout + second.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    assert str(db) in lines[0] and "already served" in lines[0]

    # The command line still works beside the running server, and the server stays up.
    made = roost(db, "user", "create", "--email", "second@example.com",
                 "--password", "long enough")
    assert made.returncode == 0, made.stderr
    listed = roost(db, "user", "list")
    assert "second@example.com" in listed.stdout
    assert status(first, first.token) == 200

    # Once the first has stopped, the file can be served again.
    first.kill()
    again = make_server(db=db)  # type: ignore[operator]
    assert status(again, again.token) == 200


def test_a_deleted_user_is_gone_from_the_running_server(api: Api) -> None:
    """Deleting a user deletes their homes and tokens; the server forgets both at once."""
    user = api.client.portal.call(api.service.store.user_by_email, demo.EMAIL)
    assert api.client.get("/").status_code == 200
    assert api.client.portal.call(api.service.store.delete_user, user.id) is True
    assert api.client.get("/").status_code == 401
    assert api.service.home.get("structures", api.structure_id) is None
    assert list(api.service.home.of_user(user.id, "thermostats")) == []
