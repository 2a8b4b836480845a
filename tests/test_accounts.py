"""Users and products (OAuth clients): the ``roost user`` and ``roost client`` commands on a
temporary database, the demo's product, and the developer API (``/api/v1/clients``).

Secrets and passwords must be stored only as hashes, so several tests grep the raw bytes of
the SQLite file and its write-ahead log for the values they were shown.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
import re
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from conftest import Api, RoostProcess

from roost import demo
from roost.auth import tokens
from roost.model.schema import PERMISSIONS
from roost.store import open_store
from roost.store.records import User

WAIT = 10.0  # the longest any single wait in this module may take


def roost(db: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "roost", *args, "--db", str(db)],
                          capture_output=True, text=True, input=stdin, timeout=60)


def raw(db: Path) -> bytes:
    """The database's bytes on disk, write-ahead log included."""
    return b"".join(p.read_bytes() for p in (db, db.with_name(db.name + "-wal")) if p.exists())


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def created(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """The client_id and client_secret ``roost client create`` printed."""
    assert result.returncode == 0, result.stderr
    client_id = re.search(r"^client_id: (\S+)$", result.stdout, re.M)
    secret = re.search(r"^client_secret: (\S+)$", result.stdout, re.M)
    assert client_id and secret, result.stdout
    return client_id.group(1), secret.group(1)


# -- roost user ----------------------------------------------------------------------------


def test_user_create_stores_an_argon2id_hash_only(tmp_path: Path) -> None:
    db = tmp_path / "roost.db"
    password = "correct horse battery"
    result = roost(db, "user", "create", "--email", "ada@example.com", "--password", password)
    assert result.returncode == 0, result.stderr
    assert "ada@example.com" in result.stdout
    assert password not in result.stdout + result.stderr

    [(stored,)] = query(db, "SELECT password_hash FROM users WHERE email = ?",
                        "ada@example.com")
    variant, version, params, _salt, _hash = stored.split("$")[1:]
    assert (variant, version) == ("argon2id", "v=19")
    cost = dict(item.split("=") for item in params.split(","))
    assert int(cost["m"]) >= 19456 and int(cost["t"]) >= 2  # OWASP's floor
    assert PasswordHasher().verify(stored, password)
    assert password.encode() not in raw(db)


def test_user_create_prompts_twice_when_no_password_is_given(tmp_path: Path) -> None:
    db = tmp_path / "roost.db"
    result = roost(db, "user", "create", "--email", "bo@example.com",
                   stdin="long enough\nlong enough\n")
    assert result.returncode == 0, result.stderr
    assert "long enough" not in result.stdout
    [(stored,)] = query(db, "SELECT password_hash FROM users")
    assert PasswordHasher().verify(stored, "long enough")

    mismatch = roost(db, "user", "create", "--email", "cy@example.com",
                     stdin="long enough\nnot the same\n")
    assert mismatch.returncode != 0
    too_short = roost(db, "user", "create", "--email", "cy@example.com", stdin="short\n")
    assert too_short.returncode != 0 and "at least 8 characters" in too_short.stdout
    assert query(db, "SELECT email FROM users") == [("bo@example.com",)]


def test_user_create_refuses_bad_input_and_existing_emails(tmp_path: Path) -> None:
    db = tmp_path / "roost.db"
    assert roost(db, "user", "create", "--email", "ada@example.com",
                 "--password", "password1").returncode == 0
    for email in ("ada@example.com", "ADA@example.com"):
        again = roost(db, "user", "create", "--email", email, "--password", "password2")
        assert again.returncode == 1
        assert f"a user with email {email} already exists" in again.stderr

    short = roost(db, "user", "create", "--email", "bo@example.com", "--password", "1234567")
    assert short.returncode == 2 and "at least 8 characters" in short.stderr
    for email in ("bo", "bo@", "@example.com", "b o@example.com", "bo\x1b[31m@example.com",
                  "b\x85o@example.com", "bo\x7f@example.com"):
        bad = roost(db, "user", "create", "--email", email, "--password", "password3")
        assert bad.returncode == 2 and "is not an email address" in bad.stderr, email
    too_long = roost(db, "user", "create", "--email", "b" * 250 + "@example.com",
                     "--password", "password3")
    assert too_long.returncode == 2 and "at most 254 characters" in too_long.stderr
    assert query(db, "SELECT email FROM users") == [("ada@example.com",)]

    listed = roost(db, "user", "list")
    assert listed.returncode == 0 and "ada@example.com" in listed.stdout


# -- roost client --------------------------------------------------------------------------


def test_client_create_list_update_delete(tmp_path: Path) -> None:
    db = tmp_path / "roost.db"
    assert roost(db, "user", "create", "--email", "dev@example.com",
                 "--password", "password1").returncode == 0
    pin_id, pin_secret = created(roost(
        db, "client", "create", "--name", "Thermo App", "--description", "A PIN product",
        "--permission", "Thermostat read/write", "--permission", "Away read",
        "--owner", "dev@example.com"))
    web_id, web_secret = created(roost(
        db, "client", "create", "--name", "Web App", "--redirect-uri",
        "https://example.com/callback", "--permission", "Camera read/write + images"))
    assert pin_id != web_id and pin_secret != web_secret
    assert len(pin_secret) >= 43  # 32 random bytes, base64url

    # Stored as its digest only, and the owner is the user named.
    rows = dict((r[0], r[1:]) for r in query(
        db, "SELECT c.id, c.secret_hash, c.redirect_uri, u.email, c.version FROM clients c "
        "LEFT JOIN users u ON u.id = c.owner_id"))
    assert rows[pin_id] == (hashlib.sha256(pin_secret.encode()).hexdigest(), None,
                            "dev@example.com", 1)
    assert rows[web_id][1:] == ("https://example.com/callback", None, 1)
    stored = raw(db)
    assert pin_secret.encode() not in stored and web_secret.encode() not in stored

    listed = roost(db, "client", "list")
    assert listed.returncode == 0, listed.stderr
    assert pin_id in listed.stdout and web_id in listed.stdout
    assert pin_secret not in listed.stdout and web_secret not in listed.stdout
    assert "https://example.com/callback" in listed.stdout and "PIN" in listed.stdout
    for text in ("Thermo App", "Thermostat read/write", "Camera read/write + images"):
        assert text in listed.stdout
    assert tokens.FIRST_PARTY_CLIENT not in re.findall(r"\S+", listed.stdout)

    def update(*args: str) -> str:
        result = roost(db, "client", "update", pin_id, *args)
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    # The version counts permission edits only.
    assert update("--name", "Renamed", "--description", "d") == f"client {pin_id} version 1"
    assert update("--redirect-uri", "https://example.com/a") == f"client {pin_id} version 1"
    assert update("--permission", "Away read/write") == f"client {pin_id} version 2"
    assert update("--permission", "Away read/write") == f"client {pin_id} version 2"
    assert update("--permission", "Away read", "--permission", "ETA write",
                  "--no-redirect-uri") == f"client {pin_id} version 3"
    [(name, uri, permissions, version)] = query(
        db, "SELECT name, redirect_uri, permissions, version FROM clients WHERE id = ?", pin_id)
    assert (name, uri, version) == ("Renamed", None, 3)
    assert permissions == '["Away read","ETA write"]'

    both = roost(db, "client", "update", pin_id, "--redirect-uri", "https://x.example/",
                 "--no-redirect-uri")
    assert both.returncode == 2
    assert roost(db, "client", "update", "no-such-id", "--name", "x").returncode == 1
    own = roost(db, "client", "delete", tokens.FIRST_PARTY_CLIENT)
    assert own.returncode == 1 and "Roost's own product" in own.stderr

    deleted = roost(db, "client", "delete", pin_id)
    assert deleted.returncode == 0, deleted.stderr
    assert query(db, "SELECT id FROM clients WHERE id = ?", pin_id) == []
    again = roost(db, "client", "delete", pin_id)
    assert again.returncode == 1 and f"no product {pin_id}" in again.stderr
    assert pin_id not in roost(db, "client", "list").stdout
    assert "running on the same database" in roost(db, "client", "delete", "--help").stdout


def test_client_create_refuses_unknown_permissions_and_bad_redirects(tmp_path: Path) -> None:
    db = tmp_path / "roost.db"
    unknown = roost(db, "client", "create", "--name", "X", "--permission", "Thermostat read",
                    "--permission", "Thermostat write")
    assert unknown.returncode == 2
    message = " ".join(unknown.stderr.split())  # click wraps long errors
    assert "unknown permission 'Thermostat write'" in message
    assert all(name in message for name in PERMISSIONS)

    for uri in ("/callback", "https://example.com/cb#frag", "https:///cb", "https://a b/",
                "http://192.168.1.2:8123/cb", "http://example.com/cb", "javascript:alert(1)",
                "data:text/html,hi", "file:///etc/passwd", "https://e.com/\x1b[2Jcb"):
        bad = roost(db, "client", "create", "--name", "X", "--redirect-uri", uri,
                    "--permission", "Away read")
        assert bad.returncode == 2, uri
    for uri in ("https://example.com/cb", "http://localhost:8080/cb", "http://127.0.0.1/cb",
                "http://[::1]:9/cb", "com.example.app:/oauth"):
        good = roost(db, "client", "create", "--name", "X", "--redirect-uri", uri,
                     "--permission", "Away read")
        assert good.returncode == 0, (uri, good.stderr)
    query_all = query(db, "SELECT redirect_uri FROM clients WHERE id != 'roost'")
    assert len(query_all) == 5
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DELETE FROM clients WHERE id != 'roost'")
    conn.close()
    for name in ("Evil\x1b]0;pwned\x07", "A\nB", "x" * 101, "Tab\there"):
        bad = roost(db, "client", "create", "--name", name, "--permission", "Away read")
        assert bad.returncode == 2, name
    missing = roost(db, "client", "create", "--name", "X")
    assert missing.returncode == 2 and "--permission" in missing.stderr
    nobody = roost(db, "client", "create", "--name", "X", "--permission", "Away read",
                   "--owner", "nobody@example.com")
    assert nobody.returncode == 1 and "no user nobody@example.com" in nobody.stderr
    assert query(db, "SELECT id FROM clients WHERE id != 'roost'") == []


# -- the demo's product --------------------------------------------------------------------


def test_demo_product_secret_is_printed_once(roost_server: RoostProcess) -> None:
    server = roost_server
    first = "".join(server.output)
    assert f"demo login: {demo.EMAIL} / {demo.PASSWORD}" in first
    found = re.search(r"^demo product: (\S+) / (\S+)$", first, re.M)
    assert found, first
    client_id, secret = found.groups()

    with server.client() as client:
        [product] = client.get("/api/v1/clients").json()
    assert product["client_id"] == client_id and product["name"] == demo.PRODUCT
    assert product["permissions"] == list(PERMISSIONS) and product["redirect_uri"] is None
    [(digest,)] = query(server.db, "SELECT secret_hash FROM clients WHERE id = ?", client_id)
    assert digest == tokens.digest(secret)

    server.output.clear()
    server.restart()
    later = "".join(server.output)
    assert re.search(rf"^demo product: {re.escape(client_id)} \(", later, re.M), later
    assert secret not in later
    assert re.search(r"^access token: c\.\S+$", later, re.M)
    with server.client() as client:
        assert [p["client_id"] for p in client.get("/api/v1/clients").json()] == [client_id]
    assert secret.encode() not in raw(server.db)


# -- the developer API ---------------------------------------------------------------------


def add_user(api: Api, email: str) -> User:
    return api.client.portal.call(api.service.store.create_user, email, "not-a-hash")


def add_token(api: Api, user_id: str, client_id: str) -> str:
    token = tokens.new_token()
    api.client.portal.call(api.service.store.add_token, tokens.digest(token), user_id, client_id)
    return token


def demo_user(api: Api) -> User:
    user = api.client.portal.call(api.service.store.user_by_email, demo.EMAIL)
    assert user is not None
    return user


NEW = {"name": "Heat Helper", "description": "Keeps it warm",
       "redirect_uri": "https://example.com/cb",
       "permissions": ["Away read", "Thermostat read/write"]}


def test_developer_api_create_list_get_patch_delete(api: Api, tmp_path: Path) -> None:
    client = api.client
    [demo_product] = client.get("/api/v1/clients").json()
    assert demo_product["name"] == demo.PRODUCT and "client_secret" not in demo_product

    response = client.post("/api/v1/clients", json=NEW)
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    made = response.json()
    client_id, secret = made.pop("client_id"), made.pop("client_secret")
    assert response.headers["location"] == f"/api/v1/clients/{client_id}"
    assert made == {"name": "Heat Helper", "description": "Keeps it warm",
                    "redirect_uri": "https://example.com/cb", "client_version": 1,
                    "permissions": ["Thermostat read/write", "Away read"]}  # Nest's order
    assert len(secret) >= 43
    product = api.client.portal.call(api.service.store.client, client_id)
    assert product is not None and product.secret_hash == tokens.digest(secret)
    assert product.owner_id == demo_user(api).id

    # The secret was in that answer only: never in a GET, nor its digest.
    for path in ("/api/v1/clients", f"/api/v1/clients/{client_id}"):
        shown = client.get(path)
        assert shown.status_code == 200
        assert secret not in shown.text and product.secret_hash not in shown.text
        assert "client_secret" not in shown.text
    got = client.get(f"/api/v1/clients/{client_id}").json()
    assert got == {**made, "client_id": client_id}
    assert [p["client_id"] for p in client.get("/api/v1/clients").json()] == [
        demo_product["client_id"], client_id]

    def patch(body: dict[str, Any]) -> dict[str, Any]:
        response = client.patch(f"/api/v1/clients/{client_id}", json=body)
        assert response.status_code == 200, response.text
        return response.json()

    assert patch({"name": "Renamed", "description": ""})["client_version"] == 1
    assert patch({})["name"] == "Renamed"
    assert patch({"permissions": ["Away read"]})["client_version"] == 2
    assert patch({"permissions": ["Away read", "Away read"]})["client_version"] == 2
    pin = patch({"redirect_uri": None})
    assert pin["redirect_uri"] is None and pin["client_version"] == 2
    assert patch({"redirect_uri": "http://127.0.0.1:8123/cb"})["redirect_uri"] == (
        "http://127.0.0.1:8123/cb")
    assert client.get(f"/api/v1/clients/{client_id}").json()["name"] == "Renamed"

    assert client.delete(f"/api/v1/clients/{client_id}").status_code == 204
    assert client.get(f"/api/v1/clients/{client_id}").status_code == 404
    assert client.delete(f"/api/v1/clients/{client_id}").status_code == 404
    assert client.patch(f"/api/v1/clients/{client_id}", json={}).status_code == 404
    assert [p["client_id"] for p in client.get("/api/v1/clients").json()] == [
        demo_product["client_id"]]
    assert secret.encode() not in raw(tmp_path / "roost.db")


@pytest.mark.parametrize(("body", "needle"), [
    ({"permissions": ["Away read"]}, "missing name"),
    ({"name": "X"}, "missing permissions"),
    ({"name": "", "permissions": ["Away read"]}, "needs a name"),
    ({"name": 5, "permissions": ["Away read"]}, "name must be a string"),
    ({"name": "X", "permissions": []}, "at least one permission"),
    ({"name": "X", "permissions": "Away read"}, "must be a list"),
    ({"name": "X", "permissions": ["Away write"]}, "unknown permission 'Away write'"),
    ({"name": "X", "permissions": ["Away read"], "redirect_uri": "cb"}, "absolute"),
    ({"name": "X", "permissions": ["Away read"], "redirect_uri": "https://e.com/#f"},
     "fragment"),
    ({"name": "X", "permissions": ["Away read"], "redirect_uri": ""}, "PIN flow"),
    ({"name": "X", "permissions": ["Away read"], "client_secret": "mine"}, "unknown field"),
    (["name"], "JSON object"),
])
def test_developer_api_validation(api: Api, body: Any, needle: str) -> None:
    response = api.client.post("/api/v1/clients", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert needle in response.json()["message"]
    assert len(api.client.get("/api/v1/clients").json()) == 1  # the demo's only


def test_developer_api_errors_have_one_shape(api: Api) -> None:
    client = api.client
    unknown = client.post("/api/v1/clients", json={"name": "X", "permissions": ["Nope"]})
    assert all(name in unknown.json()["message"] for name in PERMISSIONS)
    broken = client.post("/api/v1/clients", content=b"{not json")
    assert broken.status_code == 400 and broken.json()["error"] == "invalid_request"
    big = client.post("/api/v1/clients", content=b" " * (64 * 1024 + 1))
    assert big.status_code == 413 and big.json()["error"] == "too_large"
    product_id = client.get("/api/v1/clients").json()[0]["client_id"]
    bad_patch = client.patch(f"/api/v1/clients/{product_id}", json={"permissions": ["x"]})
    assert bad_patch.status_code == 400
    assert client.get(f"/api/v1/clients/{product_id}").json()["client_version"] == 1
    put = client.put("/api/v1/clients", json={})
    assert put.status_code == 405 and put.headers["allow"] == "GET, POST"
    assert put.json() == {"error": "method_not_allowed", "message": "PUT is not supported here"}
    assert client.get("/api/v1/clients/no-such-product").json() == {
        "error": "not_found", "message": "no product no-such-product"}
    # Roost's own product has no owner, so nobody can edit it here.
    assert client.get(f"/api/v1/clients/{tokens.FIRST_PARTY_CLIENT}").status_code == 404


def test_developer_api_needs_a_first_party_token(api: Api) -> None:
    client = api.client
    for headers in ({"Authorization": ""}, {"Authorization": "Bearer c.not-a-token"},
                    {"Authorization": f"Basic {api.token}"}):
        response = client.get("/api/v1/clients", headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
    # Query-string tokens (fine for EventSource on the data API) are not accepted here.
    assert client.get(f"/api/v1/clients?auth={api.token}",
                      headers={"Authorization": ""}).status_code == 401

    product = client.post("/api/v1/clients", json=NEW).json()
    third_party = add_token(api, demo_user(api).id, product["client_id"])
    auth = {"Authorization": f"Bearer {third_party}"}
    assert client.get("/", headers=auth).status_code == 200  # a good token, for data
    for method, path in (("GET", "/api/v1/clients"), ("POST", "/api/v1/clients"),
                         ("GET", f"/api/v1/clients/{product['client_id']}"),
                         ("PATCH", f"/api/v1/clients/{product['client_id']}"),
                         ("DELETE", f"/api/v1/clients/{product['client_id']}")):
        response = client.request(method, path, headers=auth, json={"permissions": list(
            PERMISSIONS)} if method in ("POST", "PATCH") else None)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "forbidden"
    assert client.get(f"/api/v1/clients/{product['client_id']}").json()["client_version"] == 1

    # Deleting the product ends that token.
    assert client.delete(f"/api/v1/clients/{product['client_id']}").status_code == 204
    assert client.get("/", headers=auth).status_code == 401


def test_developer_api_owners_see_only_their_products(api: Api) -> None:
    client = api.client
    mine = client.post("/api/v1/clients", json=NEW).json()["client_id"]
    other = add_user(api, "other@example.com")
    theirs = {"Authorization": f"Bearer {add_token(api, other.id, tokens.FIRST_PARTY_CLIENT)}"}

    assert client.get("/api/v1/clients", headers=theirs).json() == []
    for method in ("GET", "PATCH", "DELETE"):
        response = client.request(method, f"/api/v1/clients/{mine}", headers=theirs,
                                  json={"name": "Taken"} if method == "PATCH" else None)
        assert response.status_code == 404, method
        assert response.json() == {"error": "not_found", "message": f"no product {mine}"}
    assert client.get(f"/api/v1/clients/{mine}").json()["name"] == NEW["name"]

    made = client.post("/api/v1/clients", headers=theirs,
                       json={"name": "Theirs", "permissions": ["Energy read"]})
    assert made.status_code == 201
    assert [p["name"] for p in client.get("/api/v1/clients", headers=theirs).json()] == [
        "Theirs"]
    assert "Theirs" not in [p["name"] for p in client.get("/api/v1/clients").json()]


class Stream:
    """One SSE connection to a real server, read on a thread into a queue; ``None`` ends it."""

    def __init__(self, url: str, token: str) -> None:
        self.events: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self._client = httpx.Client(timeout=httpx.Timeout(WAIT, read=3 * WAIT))
        headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
        threading.Thread(target=self._run, args=(url, headers), daemon=True).start()

    def _run(self, url: str, headers: dict[str, str]) -> None:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                event = ""
                for line in response.iter_lines():
                    if line.startswith("event: "):
                        event = line[len("event: "):]
                    elif line.startswith("data: "):
                        self.events.put((event, line[len("data: "):]))
        except httpx.HTTPError:
            pass
        finally:
            self.events.put(None)
            self._client.close()

    def next(self) -> tuple[str, str] | None:
        return self.events.get(timeout=WAIT)


def test_developer_api_delete_ends_the_products_streams(roost_server: RoostProcess) -> None:
    server = roost_server
    with server.client() as client:
        product = client.post("/api/v1/clients", json=NEW).json()
        # A user's token for the product, as the token endpoint would have issued it.
        token = tokens.new_token()
        store = open_store(str(server.db))
        store.open()
        try:
            user = asyncio.run(store.user_by_email(demo.EMAIL))
            assert user is not None
            asyncio.run(store.add_token(tokens.digest(token), user.id, product["client_id"]))
        finally:
            store.close()
        doomed = Stream(server.url + "/", token)
        kept = Stream(server.url + "/", server.token)
        first = doomed.next()
        assert first is not None and first[0] == "put"
        assert kept.next() is not None

        assert client.delete(f"/api/v1/clients/{product['client_id']}").status_code == 204
        last = doomed.next()
        assert last is not None and last[0] == "auth_revoked"
        assert doomed.next() is None  # and the stream ended
        assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 401
        assert kept.events.empty()  # the first-party stream is untouched
        assert client.get("/metadata").status_code == 200
