"""Signing in to the legacy mobile API, and its weather, through the in-process app.

Sessions: ``POST /user/login`` and ``POST /session`` (form or JSON, whatever the label),
``GET /session``, ``POST /user/service_urls``; 30-day tokens that end at the service clock,
revocation, and errors in the legacy ``{"error", "error_description"}`` shape. Weather:
``/weather/v1?query=`` and ``/api/0.1/weather/forecast/<postal>`` from the simulator's
outdoor model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from conftest import Api
from legacy_helpers import cheap_hashes
from permissions_helpers import grant_token

from roost import demo
from roost.model.schema import PERMISSIONS
from roost.model.units import c_to_f
from roost.weather import Weather

LOGIN_KEYS = {"access_token", "userid", "user", "email", "expires_in", "urls", "limits",
              "weave", "is_staff", "is_superuser", "language", "2fa_state", "2fa_enabled"}
ORIGIN = "http://testserver:80"  # the test client's Host has no port: http's own is written
THIRTY_DAYS = "Sat, 14-Feb-2026 12:00:00 GMT"  # the manual clock starts 2026-01-15 12:00 UTC


@pytest.fixture(autouse=True)
def cheap(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    cheap_hashes(api, monkeypatch)


def anonymous(api: Api) -> httpx.Client:
    """The app's client without the fixture's bearer token."""
    api.client.headers.pop("Authorization", None)
    return api.client


def login(api: Api, path: str = "/user/login", **kw: Any) -> httpx.Response:
    if not kw:
        kw = {"data": {"username": demo.EMAIL, "password": demo.PASSWORD}}
    return anonymous(api).post(path, **kw)


def token(api: Api) -> str:
    response = login(api)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def basic(value: str) -> dict[str, str]:
    return {"Authorization": f"Basic {value}"}


def assert_error(response: httpx.Response, status: int, error: str,
                 description: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error, body
    if description is not None:
        assert body["error_description"] == description


# -- signing in ----------------------------------------------------------------------------


def test_login_answers_the_whole_session(api: Api) -> None:
    response = login(api)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    s = response.json()
    assert set(s) == LOGIN_KEYS
    assert s["access_token"].startswith("b.") and len(s["access_token"]) > 60
    assert isinstance(s["userid"], str) and s["user"] == "user." + s["userid"]
    assert s["email"] == demo.EMAIL
    assert s["expires_in"] == THIRTY_DAYS
    assert s["urls"] == {
        "transport_url": ORIGIN, "direct_transport_url": ORIGIN, "czfe_url": ORIGIN,
        "rubyapi_url": ORIGIN + "/", "weather_url": ORIGIN + "/weather/v1?query=",
        "log_upload_url": ORIGIN + "/upload/user", "support_url": ORIGIN + "/support?",
    }
    assert set(s["limits"]) == {"thermostats_per_structure", "structures", "thermostats",
                                "smoke_detectors_per_structure", "smoke_detectors"}
    assert set(s["weave"]) == {"service_config", "pairing_token", "access_token"}
    assert (s["is_staff"], s["is_superuser"]) == (False, False)
    assert (s["2fa_state"], s["2fa_enabled"], s["language"]) == ("not_enrolled", False, "en_US")


@pytest.mark.parametrize("path", ["/user/login", "/session"])
@pytest.mark.parametrize("how", ["form", "json", "json labelled as a form", "unlabelled form",
                                 "multipart"])
def test_both_routes_take_a_form_or_json_whatever_the_label(api: Api, path: str,
                                                             how: str) -> None:
    form = f"username={demo.EMAIL}&password={demo.PASSWORD}".encode()
    as_json = orjson.dumps({"email": demo.EMAIL, "password": demo.PASSWORD})
    kw: dict[str, Any] = {
        "form": {"content": form,
                 "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
        "json": {"content": as_json, "headers": {"Content-Type": "application/json"}},
        "json labelled as a form": {
            "content": as_json,
            "headers": {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}},
        "unlabelled form": {"content": form},
        "multipart": {"files": {"username": (None, demo.EMAIL),
                                "password": (None, demo.PASSWORD)}},
    }[how]
    response = login(api, path, **kw)
    assert response.status_code == 200, response.text
    assert response.json()["email"] == demo.EMAIL


def test_each_login_is_a_new_session(api: Api) -> None:
    first, second = token(api), token(api)
    assert first != second
    for value in (first, second):
        assert api.client.get("/session", headers=basic(value)).status_code == 200


@pytest.mark.parametrize("credentials", [
    {"username": demo.EMAIL, "password": "not the password"},
    {"username": "nobody@example.com", "password": demo.PASSWORD},
])
def test_wrong_credentials_are_access_denied(api: Api, credentials: dict[str, str]) -> None:
    assert_error(login(api, data=credentials), 400, "access_denied", "invalid user credentials")


@pytest.mark.parametrize("kw", [
    {"content": b""},
    {"data": {"username": demo.EMAIL}},
    {"data": {"password": demo.PASSWORD}},
    {"data": {"username": "  ", "password": demo.PASSWORD}},
    {"json": {"email": demo.EMAIL, "password": 1234}},
    {"json": {"email": [demo.EMAIL], "password": demo.PASSWORD}},
    {"json": ["not", "an", "object"]},
], ids=["empty", "no password", "no email", "blank email", "number password", "list email",
        "json list"])
def test_missing_credentials_are_an_invalid_request(api: Api, kw: dict[str, Any]) -> None:
    assert_error(login(api, **kw), 400, "invalid_request", "missing user credentials")


@pytest.mark.parametrize("content", [b'{"email": "a@b.c", "password": ', b"password=\xff\xfe"])
def test_a_malformed_body_is_an_invalid_request(api: Api, content: bytes) -> None:
    assert_error(login(api, content=content), 400, "invalid_request")


def test_an_oversized_body_is_refused(api: Api) -> None:
    body = b"username=x&password=" + b"p" * (65 * 1024)
    assert_error(login(api, content=body), 413, "request_too_large")


def test_failed_sign_ins_are_throttled(api: Api) -> None:
    for _ in range(5):
        wrong = login(api, data={"username": demo.EMAIL, "password": "guess"})
        assert_error(wrong, 400, "access_denied")
    # Now even the right password waits: the account is paused for a while.
    blocked = login(api)
    assert_error(blocked, 429, "too_many_requests")
    assert blocked.headers["retry-after"] == "900"
    api.clock.advance(minutes=16)
    assert login(api).status_code == 200


def test_other_methods_get_405_in_the_legacy_shape(api: Api) -> None:
    response = anonymous(api).get("/user/login")
    assert_error(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    assert_error(api.client.delete("/session"), 405, "method_not_allowed")
    assert_error(api.client.get("/user/service_urls"), 405, "method_not_allowed")


@pytest.mark.parametrize(("host", "origin"), [
    ("home.example:8443", "http://home.example:8443"),
    ("192.168.1.20:8000", "http://192.168.1.20:8000"),
    ("[::1]:8000", "http://[::1]:8000"),
    ("home.example", "http://home.example:80"),
])
def test_urls_point_at_this_server_as_it_was_reached(api: Api, host: str, origin: str) -> None:
    urls = login(api, headers={"Host": host},
                 data={"username": demo.EMAIL, "password": demo.PASSWORD}).json()["urls"]
    assert urls["transport_url"] == urls["czfe_url"] == urls["direct_transport_url"] == origin
    assert urls["weather_url"] == origin + "/weather/v1?query="


def test_the_token_is_stored_only_as_a_digest(api: Api, tmp_path: Path) -> None:
    value = token(api)
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("roost.db*"))
    assert value.encode() not in on_disk
    assert value[2:].encode() not in on_disk


# -- using a session -----------------------------------------------------------------------


def test_get_session_echoes_the_token_with_the_same_session(api: Api) -> None:
    signed_in = login(api).json()
    api.clock.advance(days=3)  # expires_in stays where sign-in put it
    for headers in (basic(signed_in["access_token"]),
                    {"Cookie": f"cztoken={signed_in['access_token']}"},
                    {"Cookie": f"user_token={signed_in['access_token']}"}):
        response = api.client.get("/session", params={"_": "1700000000"}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json() == signed_in


def test_get_session_without_credentials_is_an_invalid_request(api: Api) -> None:
    assert_error(anonymous(api).get("/session"), 400, "invalid_request",
                 "missing user credentials")
    # "Basic" with no token, as homebridge-nest sends with its sign-in.
    assert_error(api.client.get("/session", headers={"Authorization": "Basic"}), 400,
                 "invalid_request")


@pytest.mark.parametrize("path", ["/session", "/user/service_urls"])
def test_an_unknown_token_is_401(api: Api, path: str) -> None:
    method = "GET" if path == "/session" else "POST"
    response = anonymous(api).request(method, path, headers=basic("b.not-a-token"))
    assert_error(response, 401, "unauthorized")


def test_service_urls_for_a_session(api: Api) -> None:
    value = token(api)
    response = api.client.post("/user/service_urls", headers=basic(value))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"urls", "limits"}
    assert body["urls"]["transport_url"] == ORIGIN
    assert body == {k: login(api).json()[k] for k in ("urls", "limits")}


def test_a_session_ends_after_30_days_everywhere(api: Api) -> None:
    value = token(api)
    api.clock.advance(days=29, hours=23, minutes=59)
    assert api.client.get("/session", headers=basic(value)).status_code == 200
    assert api.client.get("/structures", headers={"Authorization": f"Bearer {value}"}
                          ).status_code == 200
    api.clock.advance(minutes=1)
    assert_error(api.client.get("/session", headers=basic(value)), 401, "unauthorized")
    assert_error(api.client.post("/user/service_urls", headers=basic(value)), 401,
                 "unauthorized")
    # The same token on the Works with Nest API has ended too.
    wwn = api.client.get("/structures", headers={"Authorization": f"Bearer {value}"})
    assert wwn.status_code == 401
    # Signing in again gives a fresh month.
    fresh = login(api).json()
    assert fresh["expires_in"] == "Mon, 16-Mar-2026 12:00:00 GMT"
    assert api.client.get("/session", headers=basic(fresh["access_token"])).status_code == 200


def test_a_revoked_session_is_401(api: Api) -> None:
    value = token(api)
    assert api.client.get("/session", headers=basic(value)).status_code == 200
    assert api.client.delete(f"/oauth2/access_tokens/{value}").status_code == 204
    assert_error(api.client.get("/session", headers=basic(value)), 401, "unauthorized")


def test_a_products_token_does_not_open_the_legacy_api(api: Api) -> None:
    """A product sees only what the user granted it; the legacy API shows everything."""
    product = grant_token(api, PERMISSIONS)
    assert api.client.get("/structures", headers={"Authorization": f"Bearer {product.token}"}
                          ).status_code == 200
    assert_error(api.client.get("/session", headers=basic(product.token)), 401,
                 "unauthorized")


def test_roosts_own_token_opens_a_session(api: Api) -> None:
    """A command-line (first-party) token works too; it never ends, so expires_in is a
    month ahead of now."""
    api.clock.advance(days=1)
    response = api.client.get("/session", headers=basic(api.token))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["access_token"] == api.token
    assert body["expires_in"] == "Sun, 15-Feb-2026 12:00:00 GMT"


# -- weather -------------------------------------------------------------------------------

PALO_ALTO = "America/Los_Angeles"  # the demo home: 94043, US


def model(api: Api) -> Weather:
    return api.client.app.state.simulator.weather  # type: ignore[attr-defined]


def weather_v1(api: Api, query: str) -> dict[str, Any]:
    response = anonymous(api).get("/weather/v1", params={"query": query})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == [query]  # keyed by the query exactly as sent (python-nest 2.x)
    return body[query]


def test_weather_url_answers_from_the_simulated_outdoors(api: Api) -> None:
    w = weather_v1(api, "94043,US")
    now = api.clock()  # 04:00 in Mountain View: night
    current = w["current"]
    assert current["temp_c"] == round(model(api).outdoor_c(now, PALO_ALTO), 1)
    assert current["temp_f"] == pytest.approx(c_to_f(current["temp_c"]), abs=0.1)
    assert (current["condition"], current["icon"]) == ("Clear", "nt_clear")
    assert current["observation_time"] == int(now.timestamp())
    assert current["gmt_offset"] == "-08.00" and current["timezone"] == "PST"
    assert current["sunset"] - current["sunrise"] == current["lengthofday"] * 60
    assert w["location"]["timezone_long"] == PALO_ALTO
    assert (w["location"]["zip"], w["location"]["country"]) == ("94043", "US")
    # What python-nest 2.11 reads from every entry, unguarded.
    for entry in (current, *w["forecast"]["daily"], *w["forecast"]["hourly"]):
        assert 0 <= entry["humidity"] <= 100
    assert all("wind_dir" in e for e in (current, *w["forecast"]["daily"]))


def test_weather_forecast_follows_the_model_hour_by_hour(api: Api) -> None:
    w = weather_v1(api, "94043,US")
    hourly, daily = w["forecast"]["hourly"], w["forecast"]["daily"]
    assert [h["hour"] for h in hourly] == list(range(1, 49))
    times = [h["time"] for h in hourly]
    assert times[0] == int(api.clock().timestamp()) + 3600
    assert all(b - a == 3600 for a, b in pairwise(times))
    for h in hourly:
        at = datetime.fromtimestamp(h["time"], UTC)
        assert h["temp_c"] == round(model(api).outdoor_c(at, PALO_ALTO), 1)
    # The default model swings 5 °C either side of 8 °C every day.
    assert len(daily) == 10
    assert {(d["temp_low_c"], d["temp_high_c"]) for d in daily} == {(3.0, 13.0)}
    assert daily[0]["temp_low_f"] == 37.4 and daily[0]["temp_high_f"] == 55.4
    dates = [d["date"] for d in daily]
    assert all(b - a == 86400 for a, b in pairwise(dates))
    assert datetime.fromtimestamp(dates[0], UTC).hour == 8  # local midnight, PST


def test_weather_follows_the_clock_and_the_model(api: Api) -> None:
    api.clock.advance(hours=8)  # noon in Mountain View
    day = weather_v1(api, "94043,US")["current"]
    assert day["icon"] == "clear"
    assert day["temp_c"] == round(model(api).outdoor_c(api.clock(), PALO_ALTO), 1)
    heat_wave = api.client.put("/api/v1/sim/weather", json={"outdoor_c": 31.5},
                               headers={"Authorization": f"Bearer {api.token}"})
    assert heat_wave.status_code == 200, heat_wave.text
    w = weather_v1(api, "94043,US")
    assert (w["current"]["temp_c"], w["current"]["temp_f"]) == (31.5, 88.7)
    assert {(d["temp_low_c"], d["temp_high_c"]) for d in w["forecast"]["daily"]} == {
        (31.5, 31.5)}


def test_weather_for_an_unknown_postal_code_is_in_utc(api: Api) -> None:
    w = weather_v1(api, "10115,DE")
    assert w["location"]["timezone_long"] == "UTC"
    assert w["current"]["gmt_offset"] == "+00.00"
    assert w["current"]["temp_c"] == round(model(api).outdoor_c(api.clock(), "UTC"), 1)


def test_weather_without_a_country_finds_the_structure(api: Api) -> None:
    w = weather_v1(api, "94043")
    assert (w["location"]["timezone_long"], w["location"]["country"]) == (PALO_ALTO, "US")


def test_weather_needs_no_token_and_ignores_a_bad_one(api: Api) -> None:
    assert anonymous(api).get("/weather/v1?query=94043,US").status_code == 200
    assert api.client.get("/weather/v1?query=94043,US",
                          headers=basic("b.not-a-token")).status_code == 200


@pytest.mark.parametrize("query", ["", ",US", "94043,USA", "94043,U1", "<script>", "9" * 17])
def test_a_bad_weather_query_is_an_invalid_request(api: Api, query: str) -> None:
    assert_error(anonymous(api).get("/weather/v1", params={"query": query}), 400,
                 "invalid_request")


def test_app_forecast_has_now_in_celsius_and_the_forecast_in_fahrenheit(api: Api) -> None:
    response = anonymous(api).get("/api/0.1/weather/forecast/94043,US")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"display_city", "city", "now", "forecast"}
    v1 = weather_v1(api, "94043,US")
    now = body["now"]
    assert now["current_temperature"] == v1["current"]["temp_c"]
    assert now["current_humidity"] == v1["current"]["humidity"]
    assert (now["sunrise"], now["sunset"]) == (v1["current"]["sunrise"],
                                               v1["current"]["sunset"])
    assert [h["temp"] for h in body["forecast"]["hourly"]] == [
        float(round(c_to_f(h["temp_c"]))) for h in v1["forecast"]["hourly"]]
    assert {(d["low_temperature"], d["high_temperature"])
            for d in body["forecast"]["daily"]} == {(37.0, 55.0)}
    without_country = anonymous(api).get("/api/0.1/weather/forecast/94043").json()
    assert without_country["now"] == now


def test_app_forecast_refuses_a_bad_postal_code(api: Api) -> None:
    assert_error(anonymous(api).get("/api/0.1/weather/forecast/94043,NOPE"), 400,
                 "invalid_request")
    assert_error(anonymous(api).post("/api/0.1/weather/forecast/94043"), 405,
                 "method_not_allowed")
