"""What each kind of credential reaches (the table in docs/security.md), cell by cell: a
Roost token (`roost token create`, the demo), a legacy password session (`/user/login`),
with and without `serve --allow-session-control`, a product's OAuth token, and the web
sign-in cookie."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import Api, _demo_hash
from legacy_helpers import cheap_hashes
from starlette.testclient import TestClient
from test_oauth import pin_token
from test_oauth import sign_in as web_sign_in

from roost import demo
from roost.app import create_app
from roost.auth import passwords
from roost.clock import ManualClock
from roost.model.schema import THERMOSTAT_READ
from roost.service import Service
from roost.settings import Settings

APIS = ("data", "legacy", "developer", "simulator")
# credential -> the status each API answers it with (docs/security.md).
REACH = {
    "roost token": {"data": 200, "legacy": 200, "developer": 200, "simulator": 200},
    "password session": {"data": 200, "legacy": 200, "developer": 403, "simulator": 403},
    "password session, --allow-session-control": {
        "data": 200, "legacy": 200, "developer": 200, "simulator": 200},
    "product token": {"data": 200, "legacy": 401, "developer": 403, "simulator": 403},
    "sign-in cookie": {"data": 401, "legacy": 401, "developer": 401, "simulator": 401},
}


@pytest.fixture
def controlled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The demo home served with --allow-session-control."""
    monkeypatch.setattr(passwords, "hash_password", _demo_hash)
    clock = ManualClock()
    tokens: list[str] = []

    async def ready(service: Service) -> None:
        tokens.append(await demo.ensure(service))

    app = create_app(Settings(db=str(tmp_path / "roost.db"), keepalive=0.2, simulate=False,
                              session_control=True), clock=clock, on_ready=ready)
    with TestClient(app) as client:
        yield Api(client, app.state.service, clock, tokens[0])


def password_session(api: Api, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    cheap_hashes(api, monkeypatch)
    session = api.client.post("/user/login", data={"username": demo.EMAIL,
                                                   "password": demo.PASSWORD}).json()
    return session["access_token"], session["user"]


def reach(api: Api, api_name: str, token: str | None, user: str) -> int:
    api.client.headers.pop("Authorization", None)
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    if api_name == "data":
        return api.client.get("/", headers=headers).status_code
    if api_name == "legacy":
        basic = {} if token is None else {"Authorization": f"Basic {token}"}
        return api.client.get(f"/v2/mobile/{user}", headers=basic).status_code
    if api_name == "developer":
        return api.client.get("/api/v1/clients", headers=headers).status_code
    return api.client.get("/api/v1/sim", headers=headers).status_code


@pytest.mark.parametrize("credential", sorted(REACH))
def test_what_each_credential_reaches(request: pytest.FixtureRequest,
                                      monkeypatch: pytest.MonkeyPatch, credential: str) -> None:
    api: Api = request.getfixturevalue("controlled" if "--allow" in credential else "api")
    token, user = password_session(api, monkeypatch)
    if credential == "roost token":
        token = api.token
    elif credential == "product token":
        api.client.cookies.clear()
        _, _, token = pin_token(api, [THERMOSTAT_READ])
    elif credential == "sign-in cookie":
        assert web_sign_in(api).status_code == 303
        assert api.client.cookies.get("roost_session")
        token = None
    if credential != "sign-in cookie":
        api.client.cookies.clear()
    got = {name: reach(api, name, token, user) for name in APIS}
    assert got == REACH[credential]
