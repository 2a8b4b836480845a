"""The web app's doors without a browser: the front door at ``/`` (API clients answered
exactly as before), sign-up only where the server allows it, and the app's own checks."""

from __future__ import annotations

import re
from typing import Any

import httpx
from conftest import RoostProcess
from thermostat import Thermostat

from roost import demo

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def signed_in(server: RoostProcess, email: str = demo.EMAIL,
              password: str = demo.PASSWORD) -> tuple[httpx.Client, str]:
    """A cookie-carrying client signed in to the app, and the page's CSRF token."""
    client = httpx.Client(base_url=server.url, timeout=10)
    answer = client.post("/app/signin", data={"email": email, "password": password})
    assert answer.status_code == 303 and answer.headers["location"] == "/app"
    page = client.get("/app")
    csrf = re.search(r'name="csrf" content="([^"]+)"', page.text)
    assert csrf is not None
    return client, csrf.group(1)


def test_a_browser_at_the_root_goes_to_the_app_and_api_clients_do_not(
        roost_server: RoostProcess) -> None:
    with httpx.Client(base_url=roost_server.url, timeout=10) as client:
        browser = client.get("/", headers=HTML)
        assert (browser.status_code, browser.headers["location"]) == (303, "/app")
        assert client.get("/app", headers=HTML).headers["location"] == "/app/signin"
        # Without a page asked for, or with a token, / is the data API as always.
        refused = client.get("/")
        assert refused.status_code == 401 and refused.json()["error"] == "unauthorized"
        bearer = {**HTML, "Authorization": f"Bearer {roost_server.token}"}
        assert "structures" in client.get("/", headers=bearer).json()
        assert "structures" in client.get(f"/?auth={roost_server.token}", headers=HTML).json()
        assert client.get("/devices", headers=HTML).status_code == 401
        streamed = client.get("/", headers={"Accept": "text/event-stream"})
        assert streamed.status_code == 401


def test_sign_in_refuses_a_wrong_password_and_the_stream_needs_a_session(
        roost_server: RoostProcess) -> None:
    with httpx.Client(base_url=roost_server.url, timeout=10) as client:
        wrong = client.post("/app/signin", data={"email": demo.EMAIL, "password": "nope"})
        assert wrong.status_code == 400 and "Wrong email or password." in wrong.text
        assert client.get("/app/events").status_code == 401
        assert client.post("/app/write", json={}).status_code == 401
        assert client.get("/app/signup").status_code == 404  # sign-up is off by default


def test_writes_need_the_pages_csrf_token_and_only_a_persons_controls(
        roost_server: RoostProcess) -> None:
    client, csrf = signed_in(roost_server)
    with roost_server.client() as api:
        tree = api.get("/").json()
        thermostat = next(iter(tree["devices"]["thermostats"]))
        path = f"devices/thermostats/{thermostat}"
        forged = client.post("/app/write", json={"path": path,
                                                 "values": {"hvac_mode": "off"}})
        assert forged.status_code == 403
        header = {"X-CSRF-Token": csrf}
        odd = client.post("/app/write", headers=header,
                          json={"path": path, "values": {"where_id": "x"}})
        assert odd.status_code == 400 and odd.json() == {"error": "The page cannot change that."}
        done = client.post("/app/write", headers=header,
                           json={"path": path, "values": {"hvac_mode": "off"}})
        assert done.status_code == 200
        assert api.get(f"/{path}/hvac_mode").json() == "off"
    client.close()


def test_open_signup_creates_an_account_with_no_home(make_server: Any) -> None:
    server = make_server("--open-signup")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        short = client.post("/app/signup", data={"email": "ada@example.com", "password": "x"})
        assert short.status_code == 400 and "at least 8 characters" in short.text
        taken = client.post("/app/signup", data={"email": demo.EMAIL, "password": "long enough"})
        assert taken.status_code == 400 and "exists" in taken.text
        made = client.post("/app/signup", data={"email": "ada@example.com",
                                                "password": "long enough"})
        assert made.status_code == 303
        home = client.get("/app")
        assert home.status_code == 200 and "No home yet" in home.text
        assert "ada@example.com" in home.text


def test_the_data_api_answers_other_origins_and_the_rest_stays_same_origin(
        roost_server: RoostProcess) -> None:
    origin = {"Origin": "https://graphs.example"}
    preflight = {**origin, "Access-Control-Request-Method": "PUT",
                 "Access-Control-Request-Headers": "authorization, content-type"}
    with httpx.Client(base_url=roost_server.url, timeout=10) as client:
        asked = client.options("/devices/thermostats", headers=preflight)  # no token needed
        assert asked.status_code == 204
        assert asked.headers["access-control-allow-origin"] == "*"
        assert "PUT" in asked.headers["access-control-allow-methods"]
        assert "Authorization" in asked.headers["access-control-allow-headers"]
        read = client.get(f"/structures?auth={roost_server.token}", headers=origin)
        assert read.status_code == 200 and read.headers["access-control-allow-origin"] == "*"
        refused = client.get("/structures", headers=origin)
        assert refused.status_code == 401 and refused.headers["access-control-allow-origin"] == "*"
        for path in ("/app", "/app/write", "/api/v1/clients", "/api/v1/sim", "/login/oauth2",
                     "/oauth2/access_token"):
            answer = client.options(path, headers=preflight)
            assert "access-control-allow-origin" not in answer.headers, path
        # Without an Origin, nothing changes for API clients.
        assert "access-control-allow-origin" not in client.get("/structures").headers


def test_a_real_thermostat_is_claimed_on_the_access_page(make_server: Any) -> None:
    server = make_server("--device-hold", "10")
    device = Thermostat("127.0.0.1", server.port, "02AA01AC171401WB")
    key = device.passphrase(device.entry()["passphrase_url"])["value"]
    device.put([{"object_key": "shared.02AA01AC171401WB", "value": {
        "current_temperature": 17.5, "target_temperature": 19.0, "can_heat": True,
        "target_temperature_type": "heat"}}])
    client, csrf = signed_in(server)
    forged = client.post("/app/access/devices", data={"entry_key": key})
    assert forged.status_code == 303  # back to the page, and nothing claimed
    wrong = client.post("/app/access/devices", data={"csrf": csrf, "entry_key": "000-AAAA"})
    assert wrong.status_code == 404 and "No device shows that entry key" in wrong.text
    done = client.post("/app/access/devices", data={"csrf": csrf, "entry_key": key})
    assert done.status_code == 200 and "The thermostat is now in Home." in done.text
    with server.client() as api:
        thermostats = api.get("/devices/thermostats").json()
    assert [t["ambient_temperature_c"] for t in thermostats.values()].count(17.5) == 1
    again = client.post("/app/access/devices", data={"csrf": csrf, "entry_key": key})
    assert again.status_code == 409 and "already claimed" in again.text
    client.close()
