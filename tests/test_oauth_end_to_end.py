"""OAuth end to end against a real server process: python-nest 4.2.0, unchanged but for its
URL constants, completes its own PIN authorization (a browser's part done over HTTP), then
reads and writes with the token it got. Afterwards no secret the run produced appears in
plain text in the database files or in the server's log."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import nest.nest
import pytest
from conftest import RoostProcess

EMAIL, PASSWORD = "pat@example.com", "correct horse battery"

# python-nest answers a revoked stream by raising AuthorizationError on its own thread (its
# designed reaction, which the reuse test provokes), and calls the deprecated setDaemon.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning"),
    pytest.mark.filterwarnings("ignore:setDaemon:DeprecationWarning"),
]


def roost(server: RoostProcess, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "roost", *args, "--db", str(server.db)],
                          capture_output=True, text=True, check=True, timeout=60).stdout


def browser_allows(server: RoostProcess, authorize_url: str, email: str = EMAIL,
                   password: str = PASSWORD) -> tuple[str, list[str]]:
    """Sign in and allow, as a person would in a browser; the PIN and the page secrets seen."""
    with httpx.Client(timeout=15, follow_redirects=False) as browser:
        login = browser.get(authorize_url)
        assert login.status_code == 200 and 'action="/login"' in login.text
        next_url = re.search(r'name="next" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        signed = browser.post(f"{server.url}/login", data={
            "email": email, "password": password, "next": next_url.replace("&amp;", "&")})
        assert signed.status_code == 303
        cookie = browser.cookies["roost_session"]
        page = browser.get(authorize_url).text
        form = dict(re.findall(r'name="(csrf|client_id|state)" value="([^"]*)"', page))
        allowed = browser.post(f"{server.url}/login/oauth2", data={**form, "decision": "allow"})
        assert allowed.status_code == 200, allowed.text
        pin = re.search(r'id="pin">([A-Z0-9]{8})<', allowed.text).group(1)  # type: ignore[union-attr]
        return pin, [cookie, form["csrf"]]


def test_python_nest_pin_authorization_and_no_plaintext_secrets(
        roost_server: RoostProcess, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    server = roost_server
    secrets: list[str] = [PASSWORD, server.token]
    demo = next(line for line in server.output if line.startswith("demo product:"))
    secrets.append(demo.split(" / ")[1].strip())

    roost(server, "user", "create", "--email", EMAIL, "--password", PASSWORD)
    created = roost(server, "client", "create", "--name", "Thermo Pal",
                    "--permission", "Thermostat read/write", "--permission", "Away read/write")
    client_id = re.search(r"client_id: (\S+)", created).group(1)  # type: ignore[union-attr]
    client_secret = re.search(r"client_secret: (\S+)", created).group(1)  # type: ignore[union-attr]
    secrets.append(client_secret)

    monkeypatch.setattr(nest.nest, "API_URL", server.url)
    monkeypatch.setattr(nest.nest, "ACCESS_TOKEN_URL", f"{server.url}/oauth2/access_token")
    monkeypatch.setattr(nest.nest, "AUTHORIZE_URL",
                        f"{server.url}/login/oauth2?client_id={{0}}&state={{1}}")
    napi = nest.nest.Nest(client_id=client_id, client_secret=client_secret,
                          access_token_cache_file=str(tmp_path / "nest-token.json"))
    assert napi.never_authorized
    pin, page_secrets = browser_allows(server, napi.authorize_url)
    secrets += [pin, *page_secrets]
    napi.request_token(pin)  # python-nest's own token request
    token = napi.access_token
    assert token and token.startswith("c.")
    secrets.append(token)

    # The new user has no home yet: Pat sees an empty account, not the demo's.
    assert napi.structures == []
    with httpx.Client(base_url=server.url, timeout=10) as client:
        meta = client.get(f"/metadata?auth={token}").json()  # ?auth= must not reach the log
        assert meta["client_version"] == 1 and meta["access_token"] == token
        assert client.get("/", headers={"Authorization": f"Bearer {token}"}).json().keys() \
            == {"metadata"}
        second = client.post("/oauth2/access_token", data={
            "client_id": client_id, "client_secret": client_secret, "code": pin,
            "grant_type": "authorization_code"})
        assert second.json()["error_description"] == "authorization code has already been used"
        assert client.get("/", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    # A redirect-flow product whose code goes to the token endpoint in the query string, as
    # openHAB and nest-manager send it: the access log must not keep code or secret.
    created = roost(server, "client", "create", "--name", "Hub Bridge", "--redirect-uri",
                    "https://bridge.example/cb", "--permission", "Away read")
    bridge_id = re.search(r"client_id: (\S+)", created).group(1)  # type: ignore[union-attr]
    bridge_secret = re.search(r"client_secret: (\S+)", created).group(1)  # type: ignore[union-attr]
    with httpx.Client(base_url=server.url, timeout=15, follow_redirects=False) as browser:
        signed = browser.post("/login", data={"email": EMAIL, "password": PASSWORD,
                                              "next": "/login/oauth2?x"})
        assert signed.status_code == 303
        page = browser.get("/login/oauth2", params={"client_id": bridge_id, "state": "s"}).text
        form = dict(re.findall(r'name="(csrf|client_id|state)" value="([^"]*)"', page))
        allowed = browser.post("/login/oauth2", data={**form, "decision": "allow"})
        code = parse_qs(urlsplit(allowed.headers["location"]).query)["code"][0]
        exchanged = browser.post("/oauth2/access_token", params={
            "client_id": bridge_id, "client_secret": bridge_secret, "code": code,
            "grant_type": "authorization_code"})
        assert exchanged.status_code == 200
        secrets += [bridge_secret, code, exchanged.json()["access_token"],
                    browser.cookies["roost_session"], form["csrf"]]
    assert any("/oauth2/access_token?" in line for line in server.output)  # it was logged

    server.terminate()  # flush and close the database and the log
    stored = b"".join(p.read_bytes() for p in server.db.parent.glob(server.db.name + "*"))
    # `roost serve --demo` prints the demo's token and product secret on purpose, for the
    # person starting it; everything else the server writes is a log.
    log = "".join(line for line in server.output
                  if not line.startswith(("access token:", "demo product:")))
    for secret in secrets:
        assert secret.encode() not in stored, f"a secret is stored in plain text: {secret[:4]}…"
        assert secret not in log, f"a secret is in the server log: {secret[:4]}…"


def test_python_nest_reads_and_writes_with_a_pin_token(
        roost_server: RoostProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """The demo user authorizes the demo product; python-nest then drives the demo home."""
    server = roost_server
    demo = next(line for line in server.output if line.startswith("demo product:"))
    client_id, client_secret = (part.strip() for part in demo.split(":", 1)[1].split(" / "))
    monkeypatch.setattr(nest.nest, "API_URL", server.url)
    monkeypatch.setattr(nest.nest, "ACCESS_TOKEN_URL", f"{server.url}/oauth2/access_token")
    monkeypatch.setattr(nest.nest, "AUTHORIZE_URL",
                        f"{server.url}/login/oauth2?client_id={{0}}&state={{1}}")
    napi = nest.nest.Nest(client_id=client_id, client_secret=client_secret)
    pin, _ = browser_allows(server, napi.authorize_url, "demo@example.com", "demo")
    napi.request_token(pin)
    [home] = napi.structures
    assert home.name == "Home"
    living: Any = next(t for t in napi.thermostats if t.where == "Living Room")
    living.target = 73
    with httpx.Client(base_url=server.url, timeout=10,
                      headers={"Authorization": f"Bearer {napi.access_token}"}) as client:
        device = client.get(f"/devices/thermostats/{living.serial}").json()
    assert device["target_temperature_f"] == 73
    # A graceful stop ends python-nest's stream cleanly; a kill would cut it mid-response,
    # which python-nest does not catch on its thread.
    server.terminate()
    napi._event_thread.join(10)
